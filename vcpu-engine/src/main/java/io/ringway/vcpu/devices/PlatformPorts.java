package io.ringway.vcpu.devices;

import io.ringway.vcpu.exit.BusDevice;
import io.ringway.vcpu.exit.IoBus;

/**
 * The small port devices a PC guest uses to end itself, all recording into one {@link GuestExit}:
 *
 * <ul>
 *   <li>the i8042 controller's command port 0x64 (status reads 0: buffers empty; command 0xFE pulses
 *       the reset line, what Linux's {@code reboot=k} does) and data port 0x60;</li>
 *   <li>the PIIX/ICH reset control register 0xCF9 (a write with RST_CPU, bit 2, resets; the FADT's RESET_REG);</li>
 *   <li>the ACPI hardware-reduced sleep control (0x600) and status (0x601) registers: a write of
 *       SLP_EN (bit 5) with SLP_TYP (bits 4:2) = 5 is S5, power-off (ACPI 6.5, 4.8.3.7);</li>
 *   <li>a debug exit port (0x501, QEMU's isa-debug-exit address): a write ends the guest with that
 *       value (low 8 bits) as the exit status.</li>
 * </ul>
 */
public final class PlatformPorts {
    public static final int I8042_DATA = 0x60;
    public static final int I8042_COMMAND = 0x64;
    /** i8042 command: pulse the output port's reset line. */
    public static final int I8042_RESET = 0xfe;
    public static final int RESET_CONTROL = 0xcf9;
    /** 0xCF9 bit 2: RST_CPU, the write that performs the reset. */
    public static final int RST_CPU = 0x04;
    public static final int SLEEP_CONTROL = 0x600;
    public static final int SLEEP_STATUS = 0x601;
    /** Sleep control bit 5: SLP_EN. */
    public static final int SLP_EN = 0x20;
    public static final int S5 = 5;
    public static final int DEBUG_EXIT = 0x501;

    private final GuestExit exit;
    private int cf9;

    public PlatformPorts(GuestExit exit) {
        this.exit = exit;
    }

    /** Registers every port on {@code io}. */
    public void register(IoBus io) {
        io.register("i8042-data", I8042_DATA, 1, device(this::readI8042, (o, v) -> { }));
        io.register("i8042-command", I8042_COMMAND, 1, device(this::readI8042, (o, v) -> i8042Command(v)));
        io.register("reset-control", RESET_CONTROL, 1, device(o -> cf9, (o, v) -> resetControl(v)));
        io.register("acpi-sleep-control", SLEEP_CONTROL, 1, device(o -> 0, (o, v) -> sleepControl(v)));
        io.register("acpi-sleep-status", SLEEP_STATUS, 1, device(o -> 0, (o, v) -> { }));
        io.register("debug-exit", DEBUG_EXIT, 1, device(o -> 0, (o, v) -> exit.request(GuestExit.Kind.DEBUG_EXIT, (int) (v & 0xff))));
    }

    private long readI8042(long offset) {
        return 0; // status: output buffer empty, input buffer empty; data: nothing
    }

    void i8042Command(long value) {
        if ((value & 0xff) == I8042_RESET) {
            exit.request(GuestExit.Kind.RESET, 0);
        }
    }

    void resetControl(long value) {
        cf9 = (int) (value & 0xff) & ~RST_CPU;
        if ((value & RST_CPU) != 0) {
            exit.request(GuestExit.Kind.RESET, 0);
        }
    }

    void sleepControl(long value) {
        if ((value & SLP_EN) != 0 && ((value >> 2) & 7) == S5) {
            exit.request(GuestExit.Kind.POWER_OFF, 0);
        }
    }

    private interface Reader {
        long read(long offset);
    }

    private interface Writer {
        void write(long offset, long value);
    }

    private static BusDevice device(Reader reader, Writer writer) {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return reader.read(offset);
            }

            @Override
            public void write(long offset, int size, long value) {
                writer.write(offset, value);
            }
        };
    }
}

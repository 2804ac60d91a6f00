package io.ringway.vcpu.pci;

import java.util.Arrays;

import io.ringway.vcpu.exit.AddressBus;
import io.ringway.vcpu.exit.BusDevice;
import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.MmioBus;

/**
 * PCI bus 0 behind configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2): the 32-bit
 * CONFIG_ADDRESS register at port 0xCF8 and the CONFIG_DATA window at 0xCFC..0xCFF.
 *
 * <pre>
 * CONFIG_ADDRESS  31 enable | 30:24 reserved (read 0) | 23:16 bus | 15:11 device | 10:8 function | 7:2 register | 1:0 = 0
 * </pre>
 *
 * Only a dword access at 0xCF8 is CONFIG_ADDRESS (byte and word accesses there are ordinary I/O and
 * reach nothing; 0xCF9 stays the reset control register). A data access of 1, 2 or 4 bytes at
 * 0xCFC + n reads or writes register + n of the addressed function, n + size &lt;= 4. Reads of a
 * function that is not there — enable bit clear, a bus other than 0, an empty slot, a function other
 * than 0 — return all ones (vendor id 0xffff, "no device"), writes to it are dropped.
 *
 * <p>A BAR is placed on the MMIO or port bus while the function's command register enables its space
 * and its address is neither 0 nor the all-ones sizing pattern; moving or disabling it takes it off.
 * A placement that collides with another range or leaves the space is refused (the BAR stays off the
 * bus and {@link #barConflicts()} counts it): a guest cannot break the VMM's own devices.
 */
public final class PciBus {
    public static final int CONFIG_ADDRESS = 0xcf8;
    public static final int CONFIG_DATA = 0xcfc;
    public static final int ENABLE = 0x8000_0000;
    /** The CONFIG_ADDRESS bits that hold state: enable, bus, device, function, register. */
    static final int ADDRESS_BITS = 0x80ff_fffc;
    public static final int SLOTS = 32;
    private static final long IO_SPACE_END = 0x1_0000;

    private final IoBus io;
    private final MmioBus mmio;
    private final PciDevice[] slots = new PciDevice[SLOTS];
    /** Per slot and BAR: the base currently registered on a bus, or -1. */
    private final long[][] placed = new long[SLOTS][PciBar.COUNT];
    private int address;
    private long barConflicts;
    /** Enabled CONFIG_ADDRESS writes per (bus, device): which functions the guest probed, and how often. */
    private final int[] addressWrites = new int[256 * SLOTS];
    private long dataAccesses;

    /** A bus whose BARs go on {@code io} and {@code mmio}; call {@link #registerPorts()} to make it reachable. */
    public PciBus(IoBus io, MmioBus mmio) {
        this.io = io;
        this.mmio = mmio;
        for (long[] p : placed) {
            Arrays.fill(p, -1);
        }
    }

    /** Claims 0xCF8 (CONFIG_ADDRESS) and 0xCFC..0xCFF (CONFIG_DATA) on the port bus. */
    public void registerPorts() {
        io.register("pci-config-address", CONFIG_ADDRESS, 1, new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return readAddress(size);
            }

            @Override
            public void write(long offset, int size, long value) {
                writeAddress(size, value);
            }
        });
        io.register("pci-config-data", CONFIG_DATA, 4, new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return readData((int) offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                writeData((int) offset, size, value);
            }
        });
    }

    /** Puts {@code device} in slot {@code slot} (function 0). */
    public synchronized void add(int slot, PciDevice device) {
        if (slot < 0 || slot >= SLOTS) {
            throw new IllegalArgumentException("PCI device number must be 0..31, got " + slot);
        }
        if (slots[slot] != null) {
            throw new IllegalArgumentException("PCI slot " + slot + " is taken");
        }
        slots[slot] = device;
    }

    /** Puts {@code device} in the lowest free slot and returns it. */
    public synchronized int add(PciDevice device) {
        for (int slot = 0; slot < SLOTS; slot++) {
            if (slots[slot] == null) {
                slots[slot] = device;
                return slot;
            }
        }
        throw new IllegalStateException("all 32 slots of PCI bus 0 are taken");
    }

    /** How many BAR placements were refused because they collided or left the address space. */
    public synchronized long barConflicts() {
        return barConflicts;
    }

    /**
     * How the guest used configuration mechanism #1 so far, to see where config-cycle exits go: each
     * config access costs two port exits (CONFIG_ADDRESS write, CONFIG_DATA access).
     */
    public synchronized ConfigCycles configCycles() {
        long writes = 0;
        long busZero = 0;
        int buses = 0;
        int maxBus = -1;
        for (int bus = 0; bus < 256; bus++) {
            long perBus = 0;
            for (int dev = 0; dev < SLOTS; dev++) {
                perBus += addressWrites[bus * SLOTS + dev];
            }
            if (perBus > 0) {
                buses++;
                maxBus = bus;
            }
            if (bus == 0) {
                busZero = perBus;
            }
            writes += perBus;
        }
        return new ConfigCycles(writes, dataAccesses, busZero, buses, maxBus);
    }

    /**
     * Configuration-mechanism use: enabled CONFIG_ADDRESS writes (all buses, and bus 0 alone),
     * CONFIG_DATA accesses, how many distinct buses were addressed and the highest.
     */
    public record ConfigCycles(long addressWrites, long dataAccesses, long busZeroAddressWrites, int busesAddressed, int highestBus) {
        @Override
        public String toString() {
            return "config_address_writes=" + addressWrites + " bus0=" + busZeroAddressWrites + " data_accesses=" + dataAccesses
                + " buses_addressed=" + busesAddressed + " highest_bus=" + highestBus;
        }
    }

    synchronized long readAddress(int size) {
        return size == 4 ? Integer.toUnsignedLong(address) : ones(size);
    }

    synchronized void writeAddress(int size, long value) {
        if (size == 4) {
            address = (int) value & ADDRESS_BITS;
            if ((address & ENABLE) != 0) {
                addressWrites[(address >>> 11) & 0x1fff]++; // bus 23:16 and device 15:11 as one index
            }
        }
    }

    synchronized long readData(int port, int size) {
        dataAccesses++;
        PciDevice device = addressed(port, size);
        if (device == null) {
            return ones(size);
        }
        int offset = (address & 0xfc) + port;
        device.configReading(offset, size);
        return device.config().read(offset, size);
    }

    synchronized void writeData(int port, int size, long value) {
        dataAccesses++;
        PciDevice device = addressed(port, size);
        if (device == null) {
            return;
        }
        int offset = (address & 0xfc) + port;
        device.config().write(offset, size, value);
        device.configWritten(offset, size);
        if (offset < PciConfigSpace.BAR0 + 4 * PciBar.COUNT && offset + size > PciConfigSpace.COMMAND) {
            place((address >>> 11) & 0x1f, device);
        }
    }

    /** The function CONFIG_ADDRESS selects, or null when none answers. */
    private PciDevice addressed(int port, int size) {
        if ((address & ENABLE) == 0 || port + size > 4 || (size != 1 && size != 2 && size != 4)) {
            return null;
        }
        int bus = (address >>> 16) & 0xff;
        int function = (address >>> 8) & 0x7;
        if (bus != 0 || function != 0) {
            return null;
        }
        return slots[(address >>> 11) & 0x1f];
    }

    /** Brings each BAR of the device in {@code slot} on or off its bus to match command and address. */
    private void place(int slot, PciDevice device) {
        PciConfigSpace config = device.config();
        int command = config.command();
        for (int i = 0; i < PciBar.COUNT; i++) {
            PciBar bar = config.bar(i);
            if (bar == null) {
                continue;
            }
            boolean isIo = bar.kind() == PciBar.Kind.IO;
            boolean decode = (command & (isIo ? PciConfigSpace.COMMAND_IO : PciConfigSpace.COMMAND_MEMORY)) != 0;
            long base = config.barAddress(i);
            long want = decode && base != 0 && base != bar.addressMask() && (!isIo || base + bar.size() <= IO_SPACE_END) ? base : -1;
            if (want == placed[slot][i]) {
                continue;
            }
            AddressBus space = isIo ? io : mmio;
            if (placed[slot][i] >= 0) {
                long old = placed[slot][i];
                space.unregister(old);
                placed[slot][i] = -1;
                device.barUnmapped(i, old);
            }
            if (want >= 0) {
                try {
                    space.register(String.format("pci-00:%02x.0-bar%d", slot, i), want, bar.size(), barDevice(device, i));
                    placed[slot][i] = want;
                    device.barMapped(i, want);
                } catch (IllegalArgumentException e) {
                    barConflicts++; // overlaps another range or leaves the space: the BAR stays unreachable
                }
            }
        }
    }

    private static BusDevice barDevice(PciDevice device, int bar) {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return device.barRead(bar, offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                device.barWrite(bar, offset, size, value);
            }
        };
    }

    private static long ones(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }
}

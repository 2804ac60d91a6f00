package io.ringway.vcpu.pci;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.ringway.vcpu.exit.BusDevice;
import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.MmioBus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Configuration mechanism #1 through the port bus, as a guest drives it (PCI Local Bus 3.0, 3.2.2.3.2), and BAR placement. */
class PciBusTest {
    private final IoBus io = new IoBus();
    private final MmioBus mmio = new MmioBus();
    private final PciBus bus = new PciBus(io, mmio);

    PciBusTest() {
        bus.registerPorts();
        bus.add(0, new PciHostBridge());
    }

    private static int address(int bus, int device, int function, int register) {
        return PciBus.ENABLE | bus << 16 | device << 11 | function << 8 | register;
    }

    private long config(int address, int port, int size) {
        io.write(PciBus.CONFIG_ADDRESS, 4, Integer.toUnsignedLong(address));
        return io.read(port, size);
    }

    /** A function with one BAR that records the guest's accesses into it. */
    private static final class RecordingDevice implements PciDevice {
        final PciConfigSpace config = new PciConfigSpace(0x1af4, 0x10f0, 0xff_00_00, 0, 0, 0);
        final List<String> accesses = new ArrayList<>();

        RecordingDevice(PciBar bar) {
            config.addBar(bar);
        }

        @Override
        public PciConfigSpace config() {
            return config;
        }

        @Override
        public long barRead(int bar, long offset, int size) {
            accesses.add("read bar" + bar + " +" + offset + " x" + size);
            return 0x1234;
        }

        @Override
        public void barWrite(int bar, long offset, int size, long value) {
            accesses.add("write bar" + bar + " +" + offset + " x" + size + " = " + value);
        }
    }

    @Test
    void configAddressIsADwordRegisterWithReservedAndLowBitsReadingZero() {
        io.write(PciBus.CONFIG_ADDRESS, 4, 0xffff_ffffL);
        assertEquals(0x80ff_fffcL, io.read(PciBus.CONFIG_ADDRESS, 4), "bits 30:24 and 1:0 read 0");
        io.write(PciBus.CONFIG_ADDRESS, 4, 0x8000_0000L);
        assertEquals(0x8000_0000L, io.read(PciBus.CONFIG_ADDRESS, 4), "what Linux's pci_check_type1 looks for");
    }

    @Test
    void byteAndWordAccessesAt0xCf8AreNotConfigAddress() {
        io.write(PciBus.CONFIG_ADDRESS, 4, 0x8000_0000L);
        io.write(PciBus.CONFIG_ADDRESS, 1, 0x12);
        io.write(PciBus.CONFIG_ADDRESS, 2, 0x3456);
        assertEquals(0x8000_0000L, io.read(PciBus.CONFIG_ADDRESS, 4));
        assertEquals(0xff, io.read(PciBus.CONFIG_ADDRESS, 1));
        assertEquals(0xffff, io.read(PciBus.CONFIG_ADDRESS, 2));
        assertFalse(io.claimed(0xcf9), "0xCF9 is left to the reset control register");
    }

    @Test
    void dataPortsReadTheRegisterPlusThePortOffsetAtEachWidth() {
        assertEquals(0x0008_1b36L, config(address(0, 0, 0, 0x00), 0xcfc, 4));
        assertEquals(0x1b36, config(address(0, 0, 0, 0x00), 0xcfc, 2));
        assertEquals(0x0008, config(address(0, 0, 0, 0x00), 0xcfe, 2));
        assertEquals(0x1b, config(address(0, 0, 0, 0x00), 0xcfd, 1));
        assertEquals(0x06, config(address(0, 0, 0, 0x08), 0xcff, 1), "base class at 0x0b");
        assertEquals(0x0600, config(address(0, 0, 0, 0x08), 0xcfe, 2), "sub-class and base class");
    }

    @Test
    void whatIsNotThereReadsAllOnesAndIgnoresWrites() {
        assertEquals(0xffff_ffffL, config(address(0, 1, 0, 0), 0xcfc, 4), "empty slot");
        assertEquals(0xffff_ffffL, config(address(1, 0, 0, 0), 0xcfc, 4), "bus 1");
        assertEquals(0xffff_ffffL, config(address(0, 0, 1, 0), 0xcfc, 4), "function 1 of a single-function device");
        assertEquals(0xffff_ffffL, config(address(0, 0, 0, 0) & ~PciBus.ENABLE, 0xcfc, 4), "enable bit clear");
        assertEquals(0xffff, config(address(0, 0, 0, 0), 0xcff, 2), "a word at 0xCFF crosses out of the data window");
        io.write(PciBus.CONFIG_ADDRESS, 4, Integer.toUnsignedLong(address(0, 0, 0, 0x04) & ~PciBus.ENABLE));
        io.write(PciBus.CONFIG_DATA, 2, 0x7);
        assertEquals(0, config(address(0, 0, 0, 0x04), 0xcfc, 2), "a write with the enable bit clear went nowhere");
    }

    @Test
    void linuxsType1ProbeSequenceFindsTheHostBridge() {
        // arch/x86/pci/direct.c pci_check_type1: outb(0x01, 0xCFB); tmp = inl(0xCF8); outl(0x80000000, 0xCF8); inl(0xCF8) == 0x80000000
        io.write(0xcfb, 1, 0x01);
        long saved = io.read(PciBus.CONFIG_ADDRESS, 4);
        io.write(PciBus.CONFIG_ADDRESS, 4, 0x8000_0000L);
        assertEquals(0x8000_0000L, io.read(PciBus.CONFIG_ADDRESS, 4));
        io.write(PciBus.CONFIG_ADDRESS, 4, saved);
        // pci_sanity_check: some devfn on bus 0 has class 0x0600 (host bridge) at 0x0a
        assertEquals(0x0600, config(address(0, 0, 0, 0x08), 0xcfe, 2));
    }

    @Test
    void aMemoryBarIsOnTheBusOnlyWhileMemoryDecodeIsOnAndFollowsItsAddress() {
        RecordingDevice dev = new RecordingDevice(new PciBar(0, PciBar.Kind.MEMORY32, 0x1000, false));
        bus.add(3, dev);
        int bar0 = address(0, 3, 0, 0x10);
        int command = address(0, 3, 0, 0x04);
        config(bar0, 0xcfc, 4);
        io.write(PciBus.CONFIG_DATA, 4, 0xffff_ffffL); // sizing, decode off
        assertEquals(0xffff_f000L, io.read(PciBus.CONFIG_DATA, 4));
        io.write(PciBus.CONFIG_DATA, 4, 0xd000_0000L);
        assertFalse(mmio.claimed(0xd000_0000L), "memory decode is still off");

        config(command, 0xcfc, 2);
        io.write(PciBus.CONFIG_DATA, 2, PciConfigSpace.COMMAND_MEMORY);
        assertTrue(mmio.claimed(0xd000_0ffcL));
        assertFalse(mmio.claimed(0xd000_1000L), "the BAR is 4 KiB");
        assertEquals(0x1234, mmio.read(0xd000_0010L, 4));
        mmio.write(0xd000_0020L, 2, 7);
        assertEquals(List.of("read bar0 +16 x4", "write bar0 +32 x2 = 7"), dev.accesses);

        config(bar0, 0xcfc, 4);
        io.write(PciBus.CONFIG_DATA, 4, 0xd010_0000L); // moved while enabled
        assertFalse(mmio.claimed(0xd000_0000L));
        assertTrue(mmio.claimed(0xd010_0000L));

        config(command, 0xcfc, 2);
        io.write(PciBus.CONFIG_DATA, 2, 0);
        assertFalse(mmio.claimed(0xd010_0000L), "decode off takes it off the bus");
    }

    @Test
    void anIoBarGoesOnThePortBusWithIoDecode() {
        RecordingDevice dev = new RecordingDevice(new PciBar(1, PciBar.Kind.IO, 32, false));
        bus.add(4, dev);
        config(address(0, 4, 0, 0x14), 0xcfc, 4);
        io.write(PciBus.CONFIG_DATA, 4, 0xc040);
        config(address(0, 4, 0, 0x04), 0xcfc, 2);
        io.write(PciBus.CONFIG_DATA, 2, PciConfigSpace.COMMAND_IO);
        assertTrue(io.claimed(0xc05f));
        assertEquals(0x1234, io.read(0xc044, 2));
        assertEquals(List.of("read bar1 +4 x2"), dev.accesses);
    }

    @Test
    void aBarPlacedOverAnotherDeviceStaysOffTheBusAndIsCounted() {
        BusDevice lapicLike = new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0x42;
            }

            @Override
            public void write(long offset, int size, long value) {
            }
        };
        mmio.register("vmm-device", 0xfee0_0000L, 0x1000, lapicLike);
        RecordingDevice dev = new RecordingDevice(new PciBar(0, PciBar.Kind.MEMORY32, 0x1000, false));
        bus.add(5, dev);
        config(address(0, 5, 0, 0x10), 0xcfc, 4);
        io.write(PciBus.CONFIG_DATA, 4, 0xfee0_0000L);
        config(address(0, 5, 0, 0x04), 0xcfc, 2);
        io.write(PciBus.CONFIG_DATA, 2, PciConfigSpace.COMMAND_MEMORY);
        assertEquals(1, bus.barConflicts());
        assertEquals(0x42, mmio.read(0xfee0_0000L, 4), "the VMM's own device still answers");
        assertTrue(dev.accesses.isEmpty());
    }

    @Test
    void configCyclesCountEnabledAddressWritesPerBusAndEveryDataAccess() {
        assertEquals(new PciBus.ConfigCycles(0, 0, 0, 0, -1), bus.configCycles(), "nothing probed yet");
        config(address(0, 0, 0, 0), 0xcfc, 4);
        config(address(0, 3, 0, 0), 0xcfc, 2);
        config(address(7, 31, 0, 0x08), 0xcfc, 4); // an absent bus still costs its two exits
        io.write(PciBus.CONFIG_ADDRESS, 4, 0x0000_0000L); // enable bit clear: not a config cycle
        io.write(PciBus.CONFIG_ADDRESS, 2, 0xffffL); // word access: ordinary I/O, not CONFIG_ADDRESS
        io.write(0xcfd, 1, 0); // data access with the enable bit clear, dropped but counted
        assertEquals(new PciBus.ConfigCycles(3, 4, 2, 2, 7), bus.configCycles());
    }
}

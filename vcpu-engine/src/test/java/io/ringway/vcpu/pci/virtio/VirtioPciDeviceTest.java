package io.ringway.vcpu.pci.virtio;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.pci.PciBus;
import io.ringway.vcpu.pci.PciConfigSpace;

import static io.ringway.vcpu.pci.virtio.VirtioPciLayout.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The virtio-pci modern transport, byte-exact against virtio 1.2, 4.1 and PCI Local Bus 3.0, 6.8.2 (MSI-X). */
class VirtioPciDeviceTest {
    private static final long VERSION_1 = 1L << F_VERSION_1;
    private static final long FEATURES = VERSION_1 | 1L << 6 | 1L << 9; // + two device bits (blk: BLK_SIZE, FLUSH)

    /** A block-like backend: 2 queues of at most 256, 60 bytes of config; records what the transport does. */
    private static final class Backend implements VirtioPciDevice.Backend {
        final List<String> events = new ArrayList<>();
        final byte[] config = new byte[60];
        boolean refuse;

        @Override
        public int deviceId() {
            return 2;
        }

        @Override
        public long features() {
            return FEATURES;
        }

        @Override
        public int queueCount() {
            return 2;
        }

        @Override
        public int maxQueueSize(int queue) {
            return 256;
        }

        @Override
        public int configSize() {
            return config.length;
        }

        @Override
        public long readConfig(int offset, int size) {
            long v = 0;
            for (int i = size - 1; i >= 0; i--) {
                v = v << 8 | (config[offset + i] & 0xff);
            }
            return v;
        }

        @Override
        public void writeConfig(int offset, int size, long value) {
            events.add("config +" + offset + " x" + size + " = " + value);
        }

        @Override
        public void activate(long features, List<VirtioPciDevice.Queue> queues) {
            if (refuse) {
                throw new IllegalArgumentException("queue 0 descriptor table outside guest memory");
            }
            events.add("activate 0x" + Long.toHexString(features) + " " + queues);
        }

        @Override
        public void notify(int queue) {
            events.add("notify " + queue);
        }

        @Override
        public void reset() {
            events.add("reset");
        }
    }

    private final Backend backend = new Backend();
    private final List<String> messages = new ArrayList<>();
    private final VirtioPciDevice dev = new VirtioPciDevice(backend, 0x01_00_00,
        (vector, address, data) -> messages.add(vector + ":0x" + Long.toHexString(address) + "/0x" + Integer.toHexString(data)));

    private long common(int offset, int size) {
        return dev.barRead(BAR, COMMON + offset, size);
    }

    private void common(int offset, int size, long value) {
        dev.barWrite(BAR, COMMON + offset, size, value);
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    private byte[] dump(int from, int to) {
        byte[] out = new byte[to - from];
        for (int i = from; i < to; i++) {
            out[i - from] = (byte) dev.config().read(i, 1);
        }
        return out;
    }

    /** The driver's side of 3.1.1 up to FEATURES_OK with {@code features}; returns the status read back. */
    private long negotiate(long features) {
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE);
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        common(DRIVER_FEATURE_SELECT, 4, 0);
        common(DRIVER_FEATURE, 4, features & 0xffff_ffffL);
        common(DRIVER_FEATURE_SELECT, 4, 1);
        common(DRIVER_FEATURE, 4, features >>> 32);
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        return common(DEVICE_STATUS, 1);
    }

    private void setUpQueue(int queue, int size, int vector, long desc, long driver, long device) {
        common(QUEUE_SELECT, 2, queue);
        common(QUEUE_SIZE, 2, size);
        common(QUEUE_MSIX_VECTOR, 2, vector);
        common(QUEUE_DESC, 4, desc & 0xffff_ffffL);
        common(QUEUE_DESC + 4, 4, desc >>> 32);
        common(QUEUE_DRIVER, 8, driver);
        common(QUEUE_DEVICE, 4, device & 0xffff_ffffL);
        common(QUEUE_DEVICE + 4, 4, device >>> 32);
        common(QUEUE_ENABLE, 2, 1);
    }

    private void enableMsix(boolean functionMask) {
        int control = 0x84 + 2;
        dev.config().write(control, 2, MSIX_ENABLE | (functionMask ? MSIX_FUNCTION_MASK : 0));
        dev.configWritten(control, 2);
    }

    private void programVector(int vector, long address, int data, boolean masked) {
        long at = MSIX_TABLE + (long) vector * MSIX_ENTRY_SIZE;
        dev.barWrite(BAR, at, 8, address);
        dev.barWrite(BAR, at + 8, 4, data);
        dev.barWrite(BAR, at + 12, 4, masked ? 1 : 0);
    }

    @Test
    void theHeaderAndCapabilityChainAreByteExact() {
        assertArrayEquals(bytes(0xf4, 0x1a, 0x42, 0x10, 0, 0, 0x10, 0, // 1af4:1042, command 0, status: capabilities list
            0x01, 0, 0, 0x01, 0, 0, 0, 0), dump(0x00, 0x10), "revision 1, class 01/00/00");
        assertArrayEquals(bytes(0x04, 0, 0, 0, 0, 0, 0, 0), dump(0x10, 0x18), "BAR 0: 64-bit memory, not prefetchable");
        assertArrayEquals(bytes(0xf4, 0x1a, 0x42, 0x10, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0), dump(0x2c, 0x40),
            "subsystem 1af4:1042, capabilities at 0x40, INTA#");
        assertArrayEquals(bytes(
            0x09, 0x50, 16, CAP_COMMON_CFG, 0, 0, 0, 0, 0x00, 0x00, 0, 0, 0x3c, 0, 0, 0,
            0x09, 0x64, 20, CAP_NOTIFY_CFG, 0, 0, 0, 0, 0x00, 0x30, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0,
            0x09, 0x74, 16, CAP_ISR_CFG, 0, 0, 0, 0, 0x00, 0x10, 0, 0, 1, 0, 0, 0,
            0x09, 0x84, 16, CAP_DEVICE_CFG, 0, 0, 0, 0, 0x00, 0x20, 0, 0, 60, 0, 0, 0,
            0x11, 0x90, 0x02, 0x00, 0x00, 0x40, 0, 0, 0x00, 0x50, 0, 0,
            0x09, 0x00, 20, CAP_PCI_CFG, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), dump(0x40, 0xa4),
            "common, notify (multiplier 4, 2 queues), ISR, device (60 B), MSI-X (3 vectors, table 0x4000, PBA 0x5000, BIR 0), pci_cfg");
        assertEquals(0x84, dev.msixCapability());
        assertEquals(0x90, dev.pciCfgCapability());
        assertArrayEquals(new byte[0x100 - 0xa4], dump(0xa4, 0x100), "nothing after the last capability");
    }

    @Test
    void commonConfigurationReadsItsResetValues() {
        assertEquals(FEATURES & 0xffff_ffffL, common(DEVICE_FEATURE, 4));
        common(DEVICE_FEATURE_SELECT, 4, 1);
        assertEquals(1, common(DEVICE_FEATURE, 4), "VIRTIO_F_VERSION_1 is bit 0 of the second word");
        common(DEVICE_FEATURE_SELECT, 4, 2);
        assertEquals(0, common(DEVICE_FEATURE, 4), "no features beyond bit 63");
        assertEquals(NO_VECTOR, common(CONFIG_MSIX_VECTOR, 2));
        assertEquals(2, common(NUM_QUEUES, 2));
        assertEquals(0, common(DEVICE_STATUS, 1));
        assertEquals(0, common(CONFIG_GENERATION, 1));
        common(QUEUE_SELECT, 2, 1);
        assertEquals(256, common(QUEUE_SIZE, 2));
        assertEquals(NO_VECTOR, common(QUEUE_MSIX_VECTOR, 2));
        assertEquals(0, common(QUEUE_ENABLE, 2));
        assertEquals(1, common(QUEUE_NOTIFY_OFF, 2), "queue q notifies at q * notify_off_multiplier");
        common(QUEUE_SELECT, 2, 2);
        assertEquals(0, common(QUEUE_SIZE, 2), "a queue that does not exist has size 0 (4.1.4.3.1)");
    }

    @Test
    void featuresOkStaysOnlyForASubsetThatIncludesVersion1() {
        assertEquals(STATUS_ACKNOWLEDGE | STATUS_DRIVER, negotiate(FEATURES | 1L << 20), "bit 20 was not offered");
        common(DEVICE_STATUS, 1, 0);
        assertEquals(STATUS_ACKNOWLEDGE | STATUS_DRIVER, negotiate(1L << 6), "a legacy driver without VERSION_1");
        common(DEVICE_STATUS, 1, 0);
        assertEquals(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK, negotiate(VERSION_1 | 1L << 9));
        common(DRIVER_FEATURE_SELECT, 4, 0);
        common(DRIVER_FEATURE, 4, 0xffff_ffffL);
        assertEquals(1L << 9, common(DRIVER_FEATURE, 4), "driver features are frozen after FEATURES_OK");
    }

    @Test
    void driverOkHandsTheEnabledQueuesToTheBackend() {
        negotiate(VERSION_1);
        setUpQueue(1, 128, 1, 0x1_2345_6000L, 0x7000, 0x8000);
        common(QUEUE_SIZE, 2, 64);
        assertEquals(128, common(QUEUE_SIZE, 2), "an enabled queue keeps its size");
        assertEquals(0x2345_6000L, common(QUEUE_DESC, 4));
        assertEquals(0x1, common(QUEUE_DESC + 4, 4));
        assertEquals(0x1_2345_6000L, common(QUEUE_DESC, 8));
        dev.barWrite(BAR, NOTIFY + 4, 2, 1);
        assertTrue(backend.events.isEmpty(), "no notification reaches the backend before DRIVER_OK");
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        dev.barWrite(BAR, NOTIFY + 4, 2, 1);
        dev.barWrite(BAR, NOTIFY, 2, 0); // queue 0 was never enabled
        assertEquals(List.of("activate 0x100000000 [Queue[index=1, size=128, msixVector=1, desc=" + 0x1_2345_6000L + ", driver=" + 0x7000 + ", device=" + 0x8000 + "]]",
            "notify 1"), backend.events);
    }

    @Test
    void queueSizesAndVectorsOutsideTheRulesAreNotTaken() {
        negotiate(VERSION_1);
        common(QUEUE_SELECT, 2, 0);
        common(QUEUE_SIZE, 2, 100);
        assertEquals(256, common(QUEUE_SIZE, 2), "a split queue's size is a power of 2");
        common(QUEUE_SIZE, 2, 512);
        assertEquals(256, common(QUEUE_SIZE, 2), "no more than the maximum");
        common(QUEUE_MSIX_VECTOR, 2, 3);
        assertEquals(NO_VECTOR, common(QUEUE_MSIX_VECTOR, 2), "3 vectors: 0..2");
        common(QUEUE_MSIX_VECTOR, 2, 2);
        assertEquals(2, common(QUEUE_MSIX_VECTOR, 2));
        common(CONFIG_MSIX_VECTOR, 2, 0x1234);
        assertEquals(NO_VECTOR, common(CONFIG_MSIX_VECTOR, 2));
        common(QUEUE_ENABLE, 2, 0);
        assertEquals(0, common(QUEUE_ENABLE, 2));
    }

    @Test
    void aResetBringsEverythingBackAndTellsAnActiveBackend() {
        negotiate(VERSION_1);
        setUpQueue(0, 64, 0, 0x1000, 0x2000, 0x3000);
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        common(DEVICE_STATUS, 1, 0);
        assertEquals(0, common(DEVICE_STATUS, 1));
        common(QUEUE_SELECT, 2, 0);
        assertEquals(256, common(QUEUE_SIZE, 2));
        assertEquals(0, common(QUEUE_ENABLE, 2));
        assertEquals(0, common(QUEUE_DESC, 8));
        assertEquals(NO_VECTOR, common(QUEUE_MSIX_VECTOR, 2));
        assertEquals(0, common(DRIVER_FEATURE, 4));
        assertEquals("reset", backend.events.get(backend.events.size() - 1));
    }

    @Test
    void aBackendThatRefusesItsQueuesLeadsToNeedsResetNotACrash() {
        backend.refuse = true;
        negotiate(VERSION_1);
        setUpQueue(0, 64, 0, 0x1000, 0x2000, 0x3000);
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        assertEquals(STATUS_NEEDS_RESET, common(DEVICE_STATUS, 1) & STATUS_NEEDS_RESET);
        dev.barWrite(BAR, NOTIFY, 2, 0);
        assertTrue(backend.events.isEmpty());
    }

    @Test
    void fieldsAreAccessedAtTheirNaturalWidthOnly() {
        assertEquals(0, common(DEVICE_FEATURE, 1));
        assertEquals(0, common(NUM_QUEUES, 4));
        common(QUEUE_SELECT, 4, 1);
        assertEquals(0, common(QUEUE_SELECT, 2));
        assertEquals(3, dev.badAccesses());
        common(NUM_QUEUES, 2, 7);
        assertEquals(2, common(NUM_QUEUES, 2), "num_queues is read-only");
    }

    @Test
    void deviceConfigurationIsTheBackendsWithinItsSize() {
        backend.config[0] = 0x10;
        backend.config[1] = 0x20;
        assertEquals(0x2010, dev.barRead(BAR, DEVICE, 2));
        dev.barWrite(BAR, DEVICE + 4, 4, 9);
        dev.barRead(BAR, DEVICE + 58, 4); // crosses the end of the 60 bytes
        assertEquals(List.of("config +4 x4 = 9"), backend.events);
        assertEquals(1, dev.badAccesses());
    }

    @Test
    void withoutMsixAQueueInterruptSetsIsrBit0WhichAReadClears() {
        dev.interruptQueue(0);
        dev.interruptConfig();
        assertEquals(ISR_QUEUE | ISR_CONFIG, dev.barRead(BAR, ISR, 1));
        assertEquals(0, dev.barRead(BAR, ISR, 1));
        assertEquals(1, common(CONFIG_GENERATION, 1), "a config change moves the generation");
        assertTrue(messages.isEmpty());
    }

    @Test
    void msixSendsUnmaskedVectorsAndHoldsMaskedOnesPendingUntilUnmasked() {
        negotiate(VERSION_1);
        setUpQueue(0, 64, 0, 0x1000, 0x2000, 0x3000);
        setUpQueue(1, 64, 1, 0x4000, 0x5000, 0x6000);
        assertEquals(1, dev.barRead(BAR, MSIX_TABLE + 12, 4), "entries start masked");
        enableMsix(false);
        programVector(0, 0xfee0_0000L, 0x4021, false);
        programVector(1, 0xfee0_1000L, 0x4022, true);
        assertEquals(0xfee0_0000L, dev.barRead(BAR, MSIX_TABLE, 4));
        assertEquals(0x4021, dev.barRead(BAR, MSIX_TABLE + 8, 4));

        dev.interruptQueue(0);
        dev.interruptQueue(1);
        assertEquals(List.of("0:0xfee00000/0x4021"), messages);
        assertEquals(0b10, dev.barRead(BAR, MSIX_PBA, 8), "vector 1 pending in the PBA");
        assertEquals(0, dev.barRead(BAR, ISR, 1), "no ISR bits with MSI-X on");

        dev.barWrite(BAR, MSIX_TABLE + MSIX_ENTRY_SIZE + 12, 4, 0); // unmask vector 1
        assertEquals(List.of("0:0xfee00000/0x4021", "1:0xfee01000/0x4022"), messages);
        assertEquals(0, dev.barRead(BAR, MSIX_PBA, 8));

        enableMsix(true); // function mask
        dev.interruptQueue(0);
        assertEquals(2, messages.size());
        assertTrue(dev.msix().pending(0));
        enableMsix(false);
        assertEquals("0:0xfee00000/0x4021", messages.get(2));
        assertFalse(dev.msix().pending(0));
    }

    @Test
    void thePciCfgWindowReadsAndWritesTheBarThroughConfigurationCycles() {
        IoBus io = new IoBus();
        PciBus bus = new PciBus(io, new MmioBus());
        bus.registerPorts();
        bus.add(1, dev);
        int cap = dev.pciCfgCapability();
        java.util.function.BiConsumer<Integer, Long> write = (offset, value) -> {
            io.write(PciBus.CONFIG_ADDRESS, 4, Integer.toUnsignedLong(PciBus.ENABLE | 1 << 11 | offset));
            io.write(PciBus.CONFIG_DATA, 4, value);
        };
        write.accept(cap + CAP_OFFSET, (long) COMMON + NUM_QUEUES);
        write.accept(cap + CAP_LENGTH_FIELD, 2L);
        io.write(PciBus.CONFIG_ADDRESS, 4, Integer.toUnsignedLong(PciBus.ENABLE | 1 << 11 | cap + CAP_PCI_CFG_DATA));
        assertEquals(2, io.read(PciBus.CONFIG_DATA, 4), "num_queues read through pci_cfg_data");

        write.accept(cap + CAP_OFFSET, (long) COMMON + DEVICE_STATUS);
        write.accept(cap + CAP_LENGTH_FIELD, 1L);
        write.accept(cap + CAP_PCI_CFG_DATA, (long) STATUS_ACKNOWLEDGE);
        assertEquals(STATUS_ACKNOWLEDGE, dev.status(), "device_status written through pci_cfg_data");

        write.accept(cap + CAP_OFFSET, (long) COMMON + 1); // a 4-byte access at an odd offset breaks 4.1.4.9.2
        write.accept(cap + CAP_LENGTH_FIELD, 4L);
        long bad = dev.badAccesses();
        io.write(PciBus.CONFIG_ADDRESS, 4, Integer.toUnsignedLong(PciBus.ENABLE | 1 << 11 | cap + CAP_PCI_CFG_DATA));
        assertEquals(0, io.read(PciBus.CONFIG_DATA, 4), "a misaligned window reads 0");
        assertEquals(bad + 1, dev.badAccesses());
    }

    @Test
    void msixControlOnlyTakesEnableAndFunctionMask() {
        int control = 0x84 + 2;
        dev.config().write(control, 2, 0xffff);
        assertEquals(0xc002, dev.config().read(control, 2), "table size (N-1 = 2) is read-only");
        dev.config().write(0x84 + 4, 4, 0);
        assertEquals(MSIX_TABLE, dev.config().read(0x84 + 4, 4), "table offset/BIR is read-only");
        assertEquals(PciConfigSpace.STATUS_CAPABILITIES_LIST, dev.config().read(PciConfigSpace.STATUS, 2));
    }
}

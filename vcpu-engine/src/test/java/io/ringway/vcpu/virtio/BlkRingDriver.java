package io.ringway.vcpu.virtio;

import java.lang.foreign.MemorySegment;
import java.util.function.BooleanSupplier;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The transport tests' virtio-blk driver side, shared by {@link VirtioMmioTransportTest} and the
 * virtio-pci function's test: a split queue 0 of {@link #QUEUE_SIZE} at fixed guest-physical
 * addresses, and a one-sector write request written into it the way a driver does (virtio 1.2, 2.7
 * split virtqueues; 5.2.6 the request layout).
 */
public final class BlkRingDriver {
    public static final long DESC = 0x10_0000;
    public static final long AVAIL = 0x10_1000;
    public static final long USED = 0x10_2000;
    public static final int QUEUE_SIZE = 16;
    /** The request's header, status byte and one data sector. */
    public static final long HEADER = 0x10_3000;
    public static final long STATUS = 0x10_3100;
    public static final long DATA = 0x10_4000;
    private static final int VIRTIO_BLK_T_OUT = 1;

    private BlkRingDriver() {
    }

    /**
     * A VIRTIO_BLK_T_OUT of one sector with {@code value} at the start of {@code sector}, in
     * descriptors 0–2 (header, data, status with 0xff until the device writes it), head 0 made
     * available in ring slot {@code availIdx}.
     *
     * @return the new avail idx ({@code availIdx + 1})
     */
    public static int writeRequest(MemorySegment m, int sector, long value, int availIdx) {
        m.set(JAVA_INT, HEADER, VIRTIO_BLK_T_OUT);
        m.set(JAVA_INT, HEADER + 4, 0);
        m.set(JAVA_LONG, HEADER + 8, sector);
        m.set(JAVA_LONG, DATA, value);
        m.set(JAVA_BYTE, STATUS, (byte) 0xff);
        descriptor(m, 0, HEADER, 16, 1, 1);
        descriptor(m, 1, DATA, 512, 1, 2);
        descriptor(m, 2, STATUS, 1, 2, 0);
        m.set(JAVA_SHORT, AVAIL + 4 + 2L * (availIdx % QUEUE_SIZE), (short) 0);
        m.set(JAVA_SHORT, AVAIL + 2, (short) (availIdx + 1));
        return availIdx + 1;
    }

    /** Head 0 made available as the first entry of a fresh ring (avail idx 1). */
    public static void publishHead0(MemorySegment m) {
        m.set(JAVA_SHORT, AVAIL + 4, (short) 0);
        m.set(JAVA_SHORT, AVAIL + 2, (short) 1);
    }

    /** Descriptor {@code index} of the table at {@link #DESC} (virtio 1.2, 2.7.5). */
    public static void descriptor(MemorySegment m, int index, long addr, int len, int flags, int next) {
        long at = DESC + 16L * index;
        m.set(JAVA_LONG, at, addr);
        m.set(JAVA_INT, at + 8, len);
        m.set(JAVA_SHORT, at + 12, (short) flags);
        m.set(JAVA_SHORT, at + 14, (short) next);
    }

    /** Waits up to 10 s for {@code condition}; fails naming {@code what}. */
    public static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 10 s: " + what);
            }
            Thread.sleep(1);
        }
    }
}

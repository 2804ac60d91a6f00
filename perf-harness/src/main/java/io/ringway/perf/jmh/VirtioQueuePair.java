package io.ringway.perf.jmh;

import io.ringway.vhost.virtio.DriverPackedQueue;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryRegion;
import io.ringway.vhost.virtio.PackedQueue;
import io.ringway.vhost.virtio.PackedRing;
import io.ringway.vhost.virtio.SplitQueue;
import io.ringway.vhost.virtio.SplitRing;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * One virtqueue of either ring format, driver and device side, over one Arena-allocated region of
 * guest memory at guest-physical address 0, for single-threaded benchmarks.
 *
 * <pre>
 * guest-physical layout (1 MiB region):
 *   0x01000  descriptor table / descriptor ring   (16 * size)
 *   0x03000  available ring / driver event suppression
 *   0x04000  used ring / device event suppression
 *   0x10000  buffers, BUFFER_SIZE apart, one per descriptor
 * </pre>
 *
 * <p>The driver calls are forwarded to {@link DriverSplitQueue} or {@link DriverPackedQueue}; only
 * one subclass is loaded in a fork, so the calls are monomorphic. {@link #rearm(int)} re-offers
 * already written buffers with the least driver work the format allows, so the device side can be
 * measured nearly alone.
 */
abstract sealed class VirtioQueuePair implements AutoCloseable {
    static final long MEMORY_SIZE = 1 << 20;
    static final long DESC_ADDR = 0x1000;
    static final long DRIVER_AREA_ADDR = 0x3000;
    static final long DEVICE_AREA_ADDR = 0x4000;
    static final long BUFFERS = 0x10000;
    static final int BUFFER_SIZE = 64;

    private static final ValueLayout.OfShort LE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LE16_ATOMIC =
            ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    final Arena arena = Arena.ofShared();
    final MemorySegment ram = arena.allocate(MEMORY_SIZE, 4096);
    final GuestMemory memory = GuestMemory.of(GuestMemoryRegion.of(0, ram));
    final int size;

    VirtioQueuePair(int size) {
        this.size = size;
        if (BUFFERS + (long) size * BUFFER_SIZE > MEMORY_SIZE) {
            throw new IllegalArgumentException("queue size " + size + " does not fit the buffer area");
        }
    }

    /**
     * @param format "split" or "packed"
     * @param size queue size
     * @param features negotiated features
     * @return an activated queue pair
     */
    static VirtioQueuePair open(String format, int size, long features) {
        return switch (format) {
            case "split" -> new Split(size, features);
            case "packed" -> new Packed(size, features | VirtioFeatures.mask(VirtioFeatures.RING_PACKED));
            default -> throw new IllegalArgumentException("format must be split or packed, got " + format);
        };
    }

    /** @return guest-physical address of buffer {@code i} */
    static long bufferAddr(int i) {
        return BUFFERS + (long) i * BUFFER_SIZE;
    }

    /** @return the device side */
    abstract Virtqueue device();

    /** Driver: {@code add} of the format's driver queue; the buffer id / head, or -1. */
    abstract int add(long[] addrs, int[] lens, boolean[] writable, int count);

    /** Driver: makes added chains visible; the number published. */
    abstract int publish();

    /** Driver: harvests one used element, {@code (id << 32) | len}, or -1. */
    abstract long pollUsed();

    /**
     * Prepares the device-only measurement: from now on descriptor slot {@code i} describes buffer
     * {@code i} ({@link #BUFFER_SIZE} bytes, device-readable, no chaining). Call once, on a fresh
     * pair, before any {@link #rearm}; the driver calls must not be used afterwards.
     */
    abstract void prepareRearm();

    /**
     * Makes the next {@code n} single-descriptor buffers available again, bypassing the driver
     * queue's bookkeeping. Split: one release store of avail idx (the table and ring entries never
     * change). Packed: the device overwrote each slot with a used descriptor, so each of the
     * {@code n} slots is written again (addr, len, id, then flags with release).
     */
    abstract void rearm(int n);

    @Override
    public void close() {
        arena.close();
    }

    static final class Split extends VirtioQueuePair {
        private final DriverSplitQueue driver;
        private final SplitQueue device;
        private int availIdx;

        Split(int size, long features) {
            super(size);
            driver = new DriverSplitQueue(memory, size, DESC_ADDR, DRIVER_AREA_ADDR, DEVICE_AREA_ADDR, features);
            device = new SplitQueue(size);
            device.activate(memory, driver.config(features));
        }

        @Override
        Virtqueue device() {
            return device;
        }

        @Override
        int add(long[] addrs, int[] lens, boolean[] writable, int count) {
            return driver.add(addrs, lens, writable, count);
        }

        @Override
        int publish() {
            return driver.publish();
        }

        @Override
        long pollUsed() {
            return driver.pollUsed();
        }

        @Override
        void prepareRearm() {
            for (int i = 0; i < size; i++) {
                driver.writeDescriptor(i, bufferAddr(i), BUFFER_SIZE, 0, 0);
                ram.set(LE16, DRIVER_AREA_ADDR + SplitRing.RING_ENTRIES + 2L * i, (short) i);
            }
            availIdx = device.lastAvailIdx();
        }

        @Override
        void rearm(int n) {
            // virtio 1.2, 2.7.13.3.1: the idx update is the release that publishes the ring entries.
            availIdx = (availIdx + n) & 0xFFFF;
            LE16_ATOMIC.setRelease(ram, DRIVER_AREA_ADDR + SplitRing.RING_IDX, (short) availIdx);
        }
    }

    static final class Packed extends VirtioQueuePair {
        private final DriverPackedQueue driver;
        private final PackedQueue device;
        private int pos;
        private int wrap = 1;

        Packed(int size, long features) {
            super(size);
            driver = new DriverPackedQueue(memory, size, DESC_ADDR, DRIVER_AREA_ADDR, DEVICE_AREA_ADDR, features);
            device = new PackedQueue(size);
            device.activate(memory, driver.config(features));
        }

        @Override
        Virtqueue device() {
            return device;
        }

        @Override
        int add(long[] addrs, int[] lens, boolean[] writable, int count) {
            return driver.add(addrs, lens, writable, count);
        }

        @Override
        int publish() {
            return driver.publish();
        }

        @Override
        long pollUsed() {
            return driver.pollUsed();
        }

        @Override
        void prepareRearm() {
            pos = device.lastAvailIdx() & 0x7FFF;
            wrap = device.lastAvailIdx() >>> 15;
        }

        @Override
        void rearm(int n) {
            for (int k = 0; k < n; k++) {
                // virtio 1.2, 2.8.21.1: addr, len, id, then flags with release (the device wrote id,
                // len and flags of its used descriptor here).
                driver.writeDescriptor(pos, bufferAddr(pos), BUFFER_SIZE, pos, PackedRing.availBits(wrap));
                if (++pos == size) {
                    pos = 0;
                    wrap ^= 1;
                }
            }
        }
    }
}

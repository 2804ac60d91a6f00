package io.ringway.storage.blk;

import io.ringway.runtime.sys.EventFd;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.DriverPackedQueue;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioFeatures;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * A virtio-blk driver for tests: one driver queue (split or packed) in front-end memory, started
 * through the Ringway front-end, with one request area per slot (header at +0, status at +64, data
 * from +4096, up to 124 KiB).
 *
 * <p>Layout of queue q: rings at {@code 1 MiB + q MiB}, slots at {@code 16 MiB + q * 4 MiB}.
 */
final class BlkDriver implements AutoCloseable {
    static final long MEMORY_SIZE = 64L << 20;
    static final int SLOTS = 16;
    static final long SLOT_SIZE = 128 * 1024;
    static final long DATA = 4096;
    static final long STATUS = 64;

    final int index;
    final boolean packed;
    final GuestMemory memory;
    private final DriverSplitQueue split;
    private final DriverPackedQueue packedQueue;
    final EventFd call;
    final long slotBase;

    BlkDriver(VhostUserFrontend frontend, FrontendMemory mem, int index, int size) {
        this.index = index;
        long features = frontend.features();
        this.packed = VirtioFeatures.has(features, VirtioFeatures.RING_PACKED);
        this.memory = mem.guestMemory();
        long ring = 0x10_0000L + index * 0x10_0000L;
        if (packed) {
            packedQueue = new DriverPackedQueue(memory, size, ring, ring + 0x4_0000, ring + 0x8_0000, features);
            split = null;
        } else {
            split = new DriverSplitQueue(memory, size, ring, ring + 0x4_0000, ring + 0x8_0000, features);
            packedQueue = null;
        }
        slotBase = 0x100_0000L + index * 0x40_0000L;
        call = EventFd.create(true);
        QueueConfig config = packed ? packedQueue.config(features) : split.config(features);
        frontend.startVring(index, mem, config, packed ? VhostUserFrontend.FRESH_PACKED_BASE : 0, -1, call.fd());
    }

    /**
     * Starts this queue again on a new connection, with the same rings and in-flight state on the
     * driver's side: SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR ... The base is the driver's own
     * view, as QEMU sends it: {@code splitBase} (the used entries it saw) for a split ring, the
     * next used position and wrap counter for a packed one.
     */
    void restart(VhostUserFrontend frontend, FrontendMemory mem, int splitBase) {
        QueueConfig config = packed ? packedQueue.config(frontend.features()) : split.config(frontend.features());
        int base = packed ? packedQueue.nextUsedIdx() : splitBase;
        frontend.startVring(index, mem, config, base, -1, call.fd());
    }

    long header(int slot) {
        return slotBase + slot * SLOT_SIZE;
    }

    long status(int slot) {
        return header(slot) + STATUS;
    }

    long data(int slot) {
        return header(slot) + DATA;
    }

    MemorySegment gpa(long addr, long len) {
        return memory.sliceGpa(addr, len);
    }

    void writeHeader(int slot, int type, long sector) {
        MemorySegment h = gpa(header(slot), 16);
        h.set(ValueLayout.JAVA_INT_UNALIGNED, 0, type);
        h.set(ValueLayout.JAVA_INT_UNALIGNED, 4, 0);
        h.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, sector);
        gpa(status(slot), 1).set(ValueLayout.JAVA_BYTE, 0, (byte) 0xff);
    }

    int statusByte(int slot) {
        return gpa(status(slot), 1).get(ValueLayout.JAVA_BYTE, 0) & 0xff;
    }

    /** Posts a raw chain and publishes it; returns its id. */
    int post(long[] addrs, int[] lens, boolean[] writable) {
        int id = packed ? packedQueue.add(addrs, lens, writable, addrs.length) : split.add(addrs, lens, writable, addrs.length);
        if (id < 0) {
            throw new IllegalStateException("ring full");
        }
        if (packed) {
            packedQueue.publish();
        } else {
            split.publish();
        }
        return id;
    }

    /** One used entry if there is one: {@code (id << 32) | len}, else -1. */
    long pollUsedOnce() {
        return packed ? packedQueue.pollUsed() : split.pollUsed();
    }

    /** Waits for one used entry: {@code (id << 32) | len}. */
    long awaitUsed() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            long used = packed ? packedQueue.pollUsed() : split.pollUsed();
            if (used >= 0) {
                return used;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("queue " + index + ": no used entry within 10 s");
            }
            Thread.onSpinWait();
        }
    }

    /** The usual layout: header, data split into {@code pieces} descriptors, status. Returns the id. */
    int postRequest(int slot, int type, long sector, int dataLen, int pieces, boolean dataWritable) {
        writeHeader(slot, type, sector);
        int n = dataLen == 0 ? 2 : 2 + pieces;
        long[] addrs = new long[n];
        int[] lens = new int[n];
        boolean[] writable = new boolean[n];
        addrs[0] = header(slot);
        lens[0] = 16;
        int at = 0;
        for (int p = 0; p < n - 2; p++) {
            int len = p == n - 3 ? dataLen - at : dataLen / pieces / 512 * 512;
            addrs[1 + p] = data(slot) + at;
            lens[1 + p] = len;
            writable[1 + p] = dataWritable;
            at += len;
        }
        addrs[n - 1] = status(slot);
        lens[n - 1] = 1;
        writable[n - 1] = true;
        return post(addrs, lens, writable);
    }

    /** One request, waited for; returns the status byte and checks the used length. */
    int request(int type, long sector, int dataLen, int pieces, boolean dataWritable, int expectedUsedLen) {
        postRequest(0, type, sector, dataLen, pieces, dataWritable);
        long used = awaitUsed();
        int len = (int) used;
        if (expectedUsedLen >= 0 && len != expectedUsedLen) {
            throw new AssertionError("used len " + len + ", expected " + expectedUsedLen);
        }
        return statusByte(0);
    }

    @Override
    public void close() {
        call.close();
    }
}

package io.ringway.control;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;

import io.ringway.runtime.sys.EventFd;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.VirtioFeatures;

/**
 * A minimal virtio-blk driver over the Ringway front-end, for checking data: one split queue, 4 KiB
 * requests in slots (header at +0, status at +64, data at +4096), no kick (the back-end polls).
 */
final class BlkWriter implements AutoCloseable {
    static final int OUT = 1;
    static final int IN = 0;
    static final int BLOCK = 4096;
    static final int QUEUE_SIZE = 128;
    private static final long MEMORY = 16L << 20;
    private static final long RING = 0x10_0000L;
    private static final long SLOTS = 0x20_0000L;
    private static final long SLOT = 0x2000L;

    private final FrontendMemory memory;
    private final VhostUserFrontend frontend;
    private final DriverSplitQueue queue;
    private final EventFd call;

    BlkWriter(Path socket) {
        memory = FrontendMemory.create("blk-writer", MEMORY);
        frontend = VhostUserFrontend.connect(socket, Duration.ofSeconds(10));
        long wanted = ~VirtioFeatures.mask(VirtioFeatures.RING_PACKED) & ~VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);
        frontend.negotiate(wanted, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
        frontend.setMemTable(memory);
        queue = new DriverSplitQueue(memory.guestMemory(), QUEUE_SIZE, RING, RING + 0x4_0000, RING + 0x8_0000,
                frontend.features());
        call = EventFd.create(true);
        frontend.startVring(0, memory, queue.config(frontend.features()), 0, -1, call.fd());
    }

    private MemorySegment at(long gpa, long len) {
        return memory.guestMemory().sliceGpa(gpa, len);
    }

    /** Posts a 4 KiB request in {@code slot}: a write of {@code data}, or a read when it is null; returns the id. */
    int submit(int slot, long sector, byte[] data) {
        long h = SLOTS + slot * SLOT;
        MemorySegment header = at(h, 16);
        header.set(ValueLayout.JAVA_INT_UNALIGNED, 0, data == null ? IN : OUT);
        header.set(ValueLayout.JAVA_INT_UNALIGNED, 4, 0);
        header.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, sector);
        at(h + 64, 1).set(ValueLayout.JAVA_BYTE, 0, (byte) 0xff);
        if (data != null) {
            MemorySegment.copy(data, 0, at(h + BLOCK, BLOCK), ValueLayout.JAVA_BYTE, 0, BLOCK);
        }
        int id = queue.add(new long[] {h, h + BLOCK, h + 64}, new int[] {16, BLOCK, 1},
                new boolean[] {false, data == null, true}, 3);
        if (id < 0) {
            throw new IllegalStateException("ring full");
        }
        queue.publish();
        return id;
    }

    /** One used entry, {@code (id << 32) | len}, or -1. */
    long pollUsed() {
        return queue.pollUsed();
    }

    int status(int slot) {
        return at(SLOTS + slot * SLOT + 64, 1).get(ValueLayout.JAVA_BYTE, 0) & 0xff;
    }

    byte[] data(int slot) {
        return at(SLOTS + slot * SLOT + BLOCK, BLOCK).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Reads 4 KiB at {@code sector}, waiting up to 10 s. */
    byte[] read(long sector) {
        submit(0, sector, null);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (pollUsed() < 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("read of sector " + sector + " not answered within 10 s");
            }
            Thread.onSpinWait();
        }
        if (status(0) != 0) {
            throw new AssertionError("read of sector " + sector + " failed with status " + status(0));
        }
        return data(0);
    }

    @Override
    public void close() {
        frontend.close();
        call.close();
        memory.close();
    }
}

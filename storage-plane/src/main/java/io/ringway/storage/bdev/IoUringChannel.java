package io.ringway.storage.bdev;

import io.ringway.runtime.sys.FileIo;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The io_uring engine of {@link FileBlockDevice}: reads, writes and flushes become SQEs at submit;
 * {@link #reap()} (run by every poll) enters the kernel once for everything queued since the last
 * poll, then reaps the CQ ring. Each in-flight request owns a slot with its own iovec array, which
 * stays valid until its CQE arrives. Discard and write-zeroes (rare) run synchronously.
 */
final class IoUringChannel extends IoChannel {
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final IoUring ring;
    private final MemorySegment iovecs;
    private final long iovecStride;
    private final int[] freeSlots;
    private int freeCount;
    private final int[] expected;
    private final MemorySegment zeros;
    private final MemorySegment zeroIov;

    IoUringChannel(FileBlockDevice device, int fd, int queueDepth, int maxSegments) {
        super(device, queueDepth, maxSegments);
        this.fd = fd;
        ring = new IoUring(queueDepth);
        iovecStride = FileIo.IOVEC_SIZE * maxSegments;
        iovecs = arena.allocate(iovecStride * queueDepth, 8);
        freeSlots = new int[queueDepth];
        expected = new int[queueDepth];
        for (int i = 0; i < queueDepth; i++) {
            freeSlots[freeCount++] = queueDepth - 1 - i;
        }
        zeros = arena.allocate(FileBlockDevice.ZERO_CHUNK, 4096);
        zeroIov = arena.allocate(FileIo.IOVEC_SIZE, 8);
    }

    private void queueRw(int opcode, long offset, SgList sg, int tag) {
        int slot = freeSlots[--freeCount];
        long base = slot * iovecStride;
        int n = FileBlockDevice.fillIovec(iovecs, base, sg);
        expected[slot] = (int) sg.bytes();
        ring.prepare(opcode, fd, offset, iovecs.address() + base, n, 0, ((long) slot << 32) | (tag & 0xffffffffL));
    }

    @Override
    protected void doRead(long offset, SgList sg, int tag) {
        queueRw(IoUring.OP_READV, offset, sg, tag);
    }

    @Override
    protected void doWrite(long offset, SgList sg, int tag) {
        queueRw(IoUring.OP_WRITEV, offset, sg, tag);
    }

    @Override
    protected void doFlush(int tag) {
        int slot = freeSlots[--freeCount];
        expected[slot] = 0;
        ring.prepare(IoUring.OP_FSYNC, fd, 0, 0, 0, IoUring.FSYNC_DATASYNC, ((long) slot << 32) | (tag & 0xffffffffL));
    }

    @Override
    protected void doDiscard(long offset, long length, int tag) {
        complete(tag, FileBlockDevice.discardSync(fd, zeros, zeroIov, offset, length));
    }

    @Override
    protected void doWriteZeroes(long offset, long length, int tag) {
        complete(tag, FileBlockDevice.writeZeroesSync(fd, zeros, zeroIov, offset, length));
    }

    @Override
    protected void reap() {
        if (ring.pending() > 0) {
            ring.submit();
        }
        int n = ring.ready();
        for (int i = 0; i < n; i++) {
            long userData = ring.completionUserData(i);
            int res = ring.completionResult(i);
            int slot = (int) (userData >>> 32);
            int tag = (int) userData;
            int status = res >= 0 && res == expected[slot] ? BlockStatus.OK : BlockStatus.IO_ERROR;
            freeSlots[freeCount++] = slot;
            complete(tag, status);
        }
        if (n > 0) {
            ring.consume(n);
        }
    }

    @Override
    public void close() {
        // Requests still in the kernel would write into freed iovecs: wait for them first.
        while (inFlight() > 0 && freeCount < freeSlots.length) {
            if (ring.pending() > 0) {
                ring.submit();
            }
            if (ring.ready() == 0) {
                ring.waitForCompletion();
            }
            int n = ring.ready();
            for (int i = 0; i < n; i++) {
                freeSlots[freeCount++] = (int) (ring.completionUserData(i) >>> 32);
            }
            ring.consume(n);
        }
        ring.close();
        arena.close();
    }
}

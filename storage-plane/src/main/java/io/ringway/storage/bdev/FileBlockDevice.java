package io.ringway.storage.bdev;

import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.FileIo;
import io.ringway.runtime.sys.LibC;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A regular file or a block device, optionally opened with O_DIRECT.
 *
 * <p>Engines: {@link Engine#PREADV} does each request with preadv/pwritev at submit time, on the
 * submitting lcore, and delivers the completion at the next poll. {@link Engine#IO_URING} (see
 * {@link IoUringChannel}) queues SQEs at submit and rings the kernel once per poll (batched
 * submission), reaping CQEs in the same call.
 *
 * <p>Durability: without O_DIRECT a completed write is in the page cache; with O_DIRECT it is in
 * the device (whose own cache may be volatile). Either way {@link #volatileWriteCache()} is true
 * and flush is fdatasync(2): what FLUSH semantics ask for.
 *
 * <p>O_DIRECT needs every buffer address and length aligned to the device's logical block size
 * (512 on most); a request that is not fails with IO_ERROR (EINVAL from the kernel).
 */
public final class FileBlockDevice implements BlockDevice {
    /** How requests reach the kernel. */
    public enum Engine {
        /** io_uring if the kernel allows it, else preadv/pwritev. */
        AUTO,
        /** io_uring_setup/io_uring_enter, SQ/CQ rings mapped into the process. */
        IO_URING,
        /** preadv/pwritev/fdatasync done synchronously at submit. */
        PREADV
    }

    static final int ZERO_CHUNK = 64 * 1024;

    private final String name;
    private final Path path;
    private final int fd;
    private final int blockSize;
    private final long blockCount;
    private final boolean readOnly;
    private final boolean direct;
    private final Engine engine;
    private final String engineNote;
    private final AtomicBoolean closed = new AtomicBoolean();

    private FileBlockDevice(String name, Path path, int fd, int blockSize, long blockCount, boolean readOnly,
            boolean direct, Engine engine, String engineNote) {
        this.name = name;
        this.path = path;
        this.fd = fd;
        this.blockSize = blockSize;
        this.blockCount = blockCount;
        this.readOnly = readOnly;
        this.direct = direct;
        this.engine = engine;
        this.engineNote = engineNote;
    }

    /**
     * Opens {@code path} (which must exist; its size, rounded down to the block size, is the
     * capacity).
     */
    public static FileBlockDevice open(String name, Path path, boolean direct, boolean readOnly, int blockSize,
            Engine engine) {
        BlockDevice.checkBlockSize(blockSize);
        int flags = (readOnly ? LibC.O_RDONLY : LibC.O_RDWR) | (direct ? LibC.O_DIRECT : 0);
        int fd = LibC.open(path.toString(), flags);
        try {
            long size = LibC.lseek(fd, 0, LibC.SEEK_END);
            long blocks = size / blockSize;
            if (blocks == 0) {
                throw new IllegalArgumentException(path + " is smaller than one block (" + size + " bytes, block "
                        + blockSize + ")");
            }
            Engine chosen;
            String note;
            if (engine == Engine.PREADV) {
                chosen = Engine.PREADV;
                note = "preadv/pwritev (asked for)";
            } else {
                String why = IoUring.unavailableReason();
                if (why == null) {
                    chosen = Engine.IO_URING;
                    note = "io_uring";
                } else if (engine == Engine.IO_URING) {
                    throw new IllegalStateException("io_uring unavailable: " + why);
                } else {
                    chosen = Engine.PREADV;
                    note = "io_uring unavailable (" + why + "), using preadv/pwritev";
                }
            }
            return new FileBlockDevice(name, path, fd, blockSize, blocks, readOnly, direct, chosen, note);
        } catch (RuntimeException e) {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /** @return the engine in use */
    public Engine engine() {
        return engine;
    }

    /** @return the file descriptor (tests) */
    public int fd() {
        return fd;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String describe() {
        return "file bdev " + name + ": " + path + (direct ? " (O_DIRECT)" : "") + ", " + capacityBytes()
                + " bytes, block " + blockSize + ", engine: " + engineNote;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public long blockCount() {
        return blockCount;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public boolean supportsDiscard() {
        return true;
    }

    @Override
    public boolean supportsWriteZeroes() {
        return true;
    }

    @Override
    public boolean volatileWriteCache() {
        return true;
    }

    @Override
    public IoChannel openChannel(int queueDepth, int maxSegments) {
        if (engine == Engine.IO_URING) {
            return new IoUringChannel(this, fd, queueDepth, maxSegments);
        }
        return new PreadvChannel(this, fd, queueDepth, maxSegments);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.closeQuietly(fd);
        }
    }

    /** Fills {@code iov} from {@code sg}; returns the entry count. */
    static int fillIovec(MemorySegment iov, long base, SgList sg) {
        int n = sg.count();
        for (int i = 0; i < n; i++) {
            long at = base + i * FileIo.IOVEC_SIZE;
            iov.set(ValueLayout.JAVA_LONG, at, sg.segment(i).address() + sg.offset(i));
            iov.set(ValueLayout.JAVA_LONG, at + 8, sg.length(i));
        }
        return n;
    }

    /** Writes zeros with pwritev from a zeroed buffer (for files that cannot fallocate ZERO_RANGE). */
    static int writeZeroBuffers(int fd, MemorySegment zeros, MemorySegment zeroIov, long offset, long length) {
        long at = offset;
        long left = length;
        while (left > 0) {
            long chunk = Math.min(left, zeros.byteSize());
            zeroIov.set(ValueLayout.JAVA_LONG, 0, zeros.address());
            zeroIov.set(ValueLayout.JAVA_LONG, 8, chunk);
            long r = FileIo.tryPwritev(fd, zeroIov, 1, at);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r != chunk) {
                return BlockStatus.IO_ERROR;
            }
            at += chunk;
            left -= chunk;
        }
        return BlockStatus.OK;
    }

    /** Discard by punching a hole, zeroing where holes cannot be punched: reads of the range return zeros. */
    static int discardSync(int fd, MemorySegment zeros, MemorySegment zeroIov, long offset, long length) {
        int r = FileIo.tryFallocate(fd, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, offset, length);
        if (r == 0) {
            return BlockStatus.OK;
        }
        return r == -Errno.EOPNOTSUPP ? writeZeroBuffers(fd, zeros, zeroIov, offset, length) : BlockStatus.IO_ERROR;
    }

    /** Write-zeroes by fallocate ZERO_RANGE, falling back to writing zeros. */
    static int writeZeroesSync(int fd, MemorySegment zeros, MemorySegment zeroIov, long offset, long length) {
        int r = FileIo.tryFallocate(fd, FileIo.FALLOC_FL_ZERO_RANGE | FileIo.FALLOC_FL_KEEP_SIZE, offset, length);
        return r == 0 ? BlockStatus.OK : writeZeroBuffers(fd, zeros, zeroIov, offset, length);
    }

    /** The synchronous engine. */
    private static final class PreadvChannel extends IoChannel {
        private final int fd;
        private final Arena arena = Arena.ofShared();
        private final MemorySegment iov;
        private final MemorySegment zeros;
        private final MemorySegment zeroIov;

        PreadvChannel(FileBlockDevice device, int fd, int queueDepth, int maxSegments) {
            super(device, queueDepth, maxSegments);
            this.fd = fd;
            iov = arena.allocate(FileIo.IOVEC_SIZE * maxSegments, 8);
            zeros = arena.allocate(ZERO_CHUNK, 4096);
            zeroIov = arena.allocate(FileIo.IOVEC_SIZE, 8);
        }

        @Override
        protected void doRead(long offset, SgList sg, int tag) {
            int n = fillIovec(iov, 0, sg);
            long want = sg.bytes();
            long r;
            do {
                r = FileIo.tryPreadv(fd, iov, n, offset);
            } while (r == -Errno.EINTR);
            complete(tag, r == want ? BlockStatus.OK : BlockStatus.IO_ERROR);
        }

        @Override
        protected void doWrite(long offset, SgList sg, int tag) {
            int n = fillIovec(iov, 0, sg);
            long want = sg.bytes();
            long r;
            do {
                r = FileIo.tryPwritev(fd, iov, n, offset);
            } while (r == -Errno.EINTR);
            complete(tag, r == want ? BlockStatus.OK : BlockStatus.IO_ERROR);
        }

        @Override
        protected void doFlush(int tag) {
            complete(tag, FileIo.tryFdatasync(fd) == 0 ? BlockStatus.OK : BlockStatus.IO_ERROR);
        }

        @Override
        protected void doDiscard(long offset, long length, int tag) {
            complete(tag, discardSync(fd, zeros, zeroIov, offset, length));
        }

        @Override
        protected void doWriteZeroes(long offset, long length, int tag) {
            complete(tag, writeZeroesSync(fd, zeros, zeroIov, offset, length));
        }

        @Override
        public void close() {
            arena.close();
        }
    }
}

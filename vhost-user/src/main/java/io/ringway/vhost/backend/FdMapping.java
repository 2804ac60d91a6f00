package io.ringway.vhost.backend;

import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code size} bytes at {@code offset} of a received fd, mapped MAP_SHARED read-write; the fd itself
 * is closed as soon as it is mapped (the mapping keeps the file alive).
 *
 * <p>The file is sized with {@code lseek(SEEK_END)} before anything is mapped: a mapping that
 * reaches past the end of the file faults with SIGBUS on first touch, which would kill the JVM.
 * On hugetlbfs the mapping starts and ends on huge page boundaries, as mmap requires there.
 */
final class FdMapping implements AutoCloseable {
    private static final long PAGE_SIZE = 4096;

    private final Arena arena;
    private final MemorySegment segment;
    private final AtomicBoolean closed = new AtomicBoolean();

    private FdMapping(Arena arena, MemorySegment segment) {
        this.arena = arena;
        this.segment = segment;
    }

    /**
     * Maps and takes the fd: it is closed whether mapping succeeds or not.
     *
     * @param what   what the area is, for messages ("memory region 2", "inflight area")
     * @param fd     the received fd
     * @param offset offset of the area in the fd, unsigned
     * @param size   size of the area, unsigned, not 0
     * @throws SessionException MEMORY_REGION_PAST_FD_END or MEMORY_REGION_NOT_MAPPABLE
     */
    static FdMapping map(String what, int fd, long offset, long size) {
        try {
            if (size == 0) {
                throw new SessionException(SessionRule.MEMORY_REGION_NOT_MAPPABLE, what + " has size 0");
            }
            long end = offset + size;
            if (Long.compareUnsigned(end, offset) < 0) {
                throw new SessionException(SessionRule.MEMORY_REGION_PAST_FD_END, what + ": offset 0x"
                        + Long.toHexString(offset) + " + size 0x" + Long.toHexString(size) + " wraps past 2^64");
            }
            long fileSize;
            LibC.FileSystem fileSystem;
            try {
                fileSize = LibC.lseek(fd, 0, LibC.SEEK_END);
                fileSystem = LibC.fstatfs(fd);
            } catch (LinuxException e) {
                throw new SessionException(SessionRule.MEMORY_REGION_NOT_MAPPABLE,
                        what + ": cannot size fd " + fd + ": " + e.getMessage(), e);
            }
            if (Long.compareUnsigned(end, fileSize) > 0) {
                throw new SessionException(SessionRule.MEMORY_REGION_PAST_FD_END, what + ": offset 0x"
                        + Long.toHexString(offset) + " + size 0x" + Long.toHexString(size) + " but the fd holds only 0x"
                        + Long.toHexString(fileSize) + " bytes");
            }
            long align = fileSystem.hugetlbfs() && fileSystem.blockSize() > 0 ? fileSystem.blockSize() : PAGE_SIZE;
            long mapOffset = offset - Long.remainderUnsigned(offset, align);
            long delta = offset - mapOffset;
            long mapLength = Math.ceilDiv(delta + size, align) * align;
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapping = LibC.mmap(0, mapLength, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED,
                        fd, mapOffset, arena);
                return new FdMapping(arena, mapping.asSlice(delta, size));
            } catch (LinuxException | IllegalArgumentException e) {
                arena.close();
                throw new SessionException(SessionRule.MEMORY_REGION_NOT_MAPPABLE, what + ": " + e.getMessage(), e);
            }
        } finally {
            LibC.closeQuietly(fd);
        }
    }

    /** The mapped area, exactly the requested size. */
    MemorySegment segment() {
        return segment;
    }

    /** Unmaps (the segment becomes inaccessible first); further calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }
}

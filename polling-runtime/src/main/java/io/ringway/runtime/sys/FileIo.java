package io.ringway.runtime.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Positioned and vectored file I/O for block devices: preadv(2), pwritev(2), readv(2) and
 * writev(2) (for character devices such as a tap fd), fdatasync(2),
 * fsync(2), fallocate(2), and the raw syscall(2) entry used for io_uring. Every method is a
 * hot-path {@code try} variant: it returns the result, or {@code -errno}, and never allocates.
 *
 * <p>An iovec array is {@code struct iovec { void *iov_base; size_t iov_len; }}: 16 bytes per
 * entry on x86-64 ({@link #IOVEC_SIZE}).
 */
public final class FileIo {
    /** sizeof(struct iovec) on x86-64. */
    public static final long IOVEC_SIZE = 16;
    /** fallocate mode: do not change the file size. */
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    /** fallocate mode: deallocate the range (needs KEEP_SIZE). */
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    /** fallocate mode: zero the range. */
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    /** syscall number of io_uring_setup on x86-64. */
    public static final long SYS_IO_URING_SETUP = 425;
    /** syscall number of io_uring_enter on x86-64. */
    public static final long SYS_IO_URING_ENTER = 426;

    private static final MethodHandle PREADV =
        LibC.downcall("preadv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle PWRITEV =
        LibC.downcall("pwritev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle READV =
        LibC.downcall("readv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle WRITEV =
        LibC.downcall("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle PREAD =
        LibC.downcall("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FDATASYNC = LibC.downcall("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FSYNC = LibC.downcall("fsync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FALLOCATE =
        LibC.downcall("fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    // syscall(2) is variadic after the number: long syscall(long number, ...).
    private static final MethodHandle SYSCALL6 = LibC.downcall("syscall",
        FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
        Linker.Option.firstVariadicArg(1));

    private FileIo() {
    }

    /** preadv(2): bytes read, or {@code -errno}. */
    public static long tryPreadv(int fd, MemorySegment iov, int iovcnt, long offset) {
        MemorySegment capture = LibC.capture();
        try {
            long r = (long) PREADV.invokeExact(capture, fd, iov, iovcnt, offset);
            return r < 0 ? -LibC.errno(capture) : r;
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** pwritev(2): bytes written, or {@code -errno}. */
    public static long tryPwritev(int fd, MemorySegment iov, int iovcnt, long offset) {
        MemorySegment capture = LibC.capture();
        try {
            long r = (long) PWRITEV.invokeExact(capture, fd, iov, iovcnt, offset);
            return r < 0 ? -LibC.errno(capture) : r;
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /**
     * readv(2) at the fd's current position (for character devices and sockets, e.g. a tap fd):
     * bytes read, or {@code -errno}.
     */
    public static long tryReadv(int fd, MemorySegment iov, int iovcnt) {
        MemorySegment capture = LibC.capture();
        try {
            long r = (long) READV.invokeExact(capture, fd, iov, iovcnt);
            return r < 0 ? -LibC.errno(capture) : r;
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** writev(2) at the fd's current position: bytes written, or {@code -errno}. */
    public static long tryWritev(int fd, MemorySegment iov, int iovcnt) {
        MemorySegment capture = LibC.capture();
        try {
            long r = (long) WRITEV.invokeExact(capture, fd, iov, iovcnt);
            return r < 0 ? -LibC.errno(capture) : r;
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** pread(2) into {@code buffer} (at most its size): bytes read, or {@code -errno}. */
    public static long tryPread(int fd, MemorySegment buffer, long count, long offset) {
        if (count < 0 || count > buffer.byteSize()) {
            throw new IllegalArgumentException("pread count " + count + " outside the buffer of " + buffer.byteSize() + " bytes");
        }
        MemorySegment capture = LibC.capture();
        try {
            long r = (long) PREAD.invokeExact(capture, fd, buffer, count, offset);
            return r < 0 ? -LibC.errno(capture) : r;
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** fdatasync(2): 0, or {@code -errno}. */
    public static int tryFdatasync(int fd) {
        MemorySegment capture = LibC.capture();
        try {
            int r = (int) FDATASYNC.invokeExact(capture, fd);
            return r < 0 ? -LibC.errno(capture) : r;
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** fsync(2): 0, or {@code -errno}. */
    public static int tryFsync(int fd) {
        MemorySegment capture = LibC.capture();
        try {
            int r = (int) FSYNC.invokeExact(capture, fd);
            return r < 0 ? -LibC.errno(capture) : r;
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** fallocate(2): 0, or {@code -errno}. */
    public static int tryFallocate(int fd, int mode, long offset, long length) {
        MemorySegment capture = LibC.capture();
        try {
            int r = (int) FALLOCATE.invokeExact(capture, fd, mode, offset, length);
            return r < 0 ? -LibC.errno(capture) : r;
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** syscall(2) with up to six arguments (unused ones 0): the result, or {@code -errno}. */
    public static long trySyscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
        MemorySegment capture = LibC.capture();
        try {
            long r = (long) SYSCALL6.invokeExact(capture, number, a1, a2, a3, a4, a5, a6);
            return r < 0 ? -LibC.errno(capture) : r;
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }
}

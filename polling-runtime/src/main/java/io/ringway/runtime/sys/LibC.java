package io.ringway.runtime.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Downcall handles to the libc functions Ringway needs, with errno captured on every call.
 *
 * <p>Two kinds of method: the plain ones ({@link #read}, {@link #mmap}, ...) throw a
 * {@link LinuxException} naming the call and its arguments; the {@code try} ones
 * ({@link #tryRead}, {@link #tryIoctl}, ...) are for hot paths and return the result, or
 * {@code -errno} on failure, without allocating. The errno capture buffer is allocated once per
 * thread.
 *
 * <p>Linux x86-64 only: constants and struct layouts are those of that ABI (checked with gcc
 * against glibc 2.36 headers).
 */
public final class LibC {
    // ---- mmap(2), mprotect(2)
    /** Pages may not be accessed. */
    public static final int PROT_NONE = 0x0;
    /** Pages may be read. */
    public static final int PROT_READ = 0x1;
    /** Pages may be written. */
    public static final int PROT_WRITE = 0x2;
    /** Pages may be executed. */
    public static final int PROT_EXEC = 0x4;
    /** Updates are visible to other mappings of the same file/fd. */
    public static final int MAP_SHARED = 0x01;
    /** Copy-on-write private mapping. */
    public static final int MAP_PRIVATE = 0x02;
    /** Place the mapping exactly at addr. */
    public static final int MAP_FIXED = 0x10;
    /** Not backed by a file; fd must be -1. */
    public static final int MAP_ANONYMOUS = 0x20;
    /** Do not reserve swap (or hugepages) for the mapping. */
    public static final int MAP_NORESERVE = 0x4000;
    /** Pre-fault the page tables of the mapping. */
    public static final int MAP_POPULATE = 0x8000;
    /** Back the anonymous mapping with huge pages. */
    public static final int MAP_HUGETLB = 0x40000;
    /** The value mmap returns on failure, {@code (void *) -1}. */
    public static final long MAP_FAILED = -1L;
    /** madvise(2) advice: back the range with transparent huge pages where THP allows it ("always" or "madvise"). */
    public static final int MADV_HUGEPAGE = 14;
    /** madvise(2) advice: no special treatment; fails with ENOMEM where part of the range is not mapped (tests use that). */
    public static final int MADV_NORMAL = 0;

    // ---- memfd_create(2), fcntl(2) seals
    /** Close the memfd on exec. */
    public static final int MFD_CLOEXEC = 0x1;
    /** Allow seals on the memfd. */
    public static final int MFD_ALLOW_SEALING = 0x2;
    /** Back the memfd with huge pages (hugetlbfs) of the default size. */
    public static final int MFD_HUGETLB = 0x4;
    /** Huge page size 2 MiB for {@link #MFD_HUGETLB} (21 &lt;&lt; MFD_HUGE_SHIFT). */
    public static final int MFD_HUGE_2MB = 21 << 26;
    /** Huge page size 1 GiB for {@link #MFD_HUGETLB} (30 &lt;&lt; MFD_HUGE_SHIFT). */
    public static final int MFD_HUGE_1GB = 30 << 26;
    /** fcntl command: duplicate to the lowest free fd at or above arg, close-on-exec. */
    public static final int F_DUPFD_CLOEXEC = 1030;
    /** fcntl command: get file status flags. */
    public static final int F_GETFL = 3;
    /** fcntl command: set file status flags. */
    public static final int F_SETFL = 4;
    /** fcntl command: add seals to a memfd. */
    public static final int F_ADD_SEALS = 1033;
    /** fcntl command: get the seals of a memfd. */
    public static final int F_GET_SEALS = 1034;
    /** Seal: the seal set cannot change. */
    public static final int F_SEAL_SEAL = 0x1;
    /** Seal: the file cannot shrink. */
    public static final int F_SEAL_SHRINK = 0x2;
    /** Seal: the file cannot grow. */
    public static final int F_SEAL_GROW = 0x4;

    // ---- open(2)
    /** Open for reading only. */
    public static final int O_RDONLY = 0x0;
    /** Open for writing only. */
    public static final int O_WRONLY = 0x1;
    /** Open for reading and writing. */
    public static final int O_RDWR = 0x2;
    /** Create the file if it does not exist. */
    public static final int O_CREAT = 0x40;
    /** With O_CREAT: fail if the file exists. */
    public static final int O_EXCL = 0x80;
    /** Truncate to length 0. */
    public static final int O_TRUNC = 0x200;
    /** Append on each write. */
    public static final int O_APPEND = 0x400;
    /** Non-blocking I/O. */
    public static final int O_NONBLOCK = 0x800;
    /** Bypass the page cache. */
    public static final int O_DIRECT = 0x4000;
    /** Synchronous writes (data and metadata). */
    public static final int O_SYNC = 0x101000;
    /** Close on exec. */
    public static final int O_CLOEXEC = 0x80000;

    // ---- lseek(2)
    /** Seek from the start of the file. */
    public static final int SEEK_SET = 0;
    /** Seek from the current offset. */
    public static final int SEEK_CUR = 1;
    /** Seek from the end of the file. */
    public static final int SEEK_END = 2;

    /** {@code statfs.f_type} of a hugetlbfs file (including a memfd created with MFD_HUGETLB). */
    public static final long HUGETLBFS_MAGIC = 0x958458f6L;
    /** {@code sizeof(struct statfs)} on x86-64; {@code f_type} is the first 8 bytes. */
    public static final long STATFS_SIZE = 120;

    /** sysconf name: number of processors online. */
    public static final int SC_NPROCESSORS_ONLN = 84;

    // ---- signals (pthread_sigmask(3), sigtimedwait(2), tgkill(2))
    /** pthread_sigmask how: add the set to the blocked signals. */
    public static final int SIG_BLOCK = 0;
    /** pthread_sigmask how: remove the set from the blocked signals. */
    public static final int SIG_UNBLOCK = 1;
    /** pthread_sigmask how: the set becomes the blocked signals. */
    public static final int SIG_SETMASK = 2;
    /** {@code sizeof(sigset_t)} in glibc (1024 bits); the kernel's own sigset is 8 bytes. */
    public static final long SIGSET_SIZE = 128;
    /** {@code sizeof(siginfo_t)}. */
    public static final long SIGINFO_SIZE = 128;
    /**
     * The first real-time signal number an application may use: glibc reserves 32 and 33, so
     * {@code SIGRTMIN} is 34 (checked with gcc).
     */
    public static final int SIGRTMIN = 34;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> CAPTURE =
        ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private LibC() {
    }

    // One holder class per downcall handle: a handle is made when its function is first called, not when LibC
    // is initialised (each costs milliseconds to make, far more under emulation, and `vm boot` needs few of them),
    // and a static final field in a holder still folds to a constant in compiled code.

    private static final class Close {
        static final MethodHandle HANDLE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static final class Read {
        static final MethodHandle HANDLE = downcall("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private static final class Write {
        static final MethodHandle HANDLE = downcall("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private static final class Open {
        static final MethodHandle HANDLE = downcall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    }

    private static final class IoctlLong {
        static final MethodHandle HANDLE = downcall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    }

    private static final class IoctlPtr {
        static final MethodHandle HANDLE = downcall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    }

    private static final class Fcntl {
        static final MethodHandle HANDLE = downcall("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    }

    private static final class Getpid {
        static final MethodHandle HANDLE = downcall("getpid", FunctionDescriptor.of(JAVA_INT));
    }

    private static final class Lseek {
        static final MethodHandle HANDLE = downcall("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    }

    private static final class Ftruncate {
        static final MethodHandle HANDLE = downcall("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    }

    private static final class Fstatfs {
        static final MethodHandle HANDLE = downcall("fstatfs", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    }

    private static final class MemfdCreate {
        static final MethodHandle HANDLE = downcall("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class Mmap {
        static final MethodHandle HANDLE = downcall("mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    }

    private static final class Munmap {
        static final MethodHandle HANDLE = downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private static final class Sysconf {
        static final MethodHandle HANDLE = downcall("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    }

    static final class Eventfd {
        static final MethodHandle HANDLE = downcall("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class Gettid {
        static final MethodHandle HANDLE = downcall("gettid", FunctionDescriptor.of(JAVA_INT));
    }

    private static final class Tgkill {
        static final MethodHandle HANDLE = downcall("tgkill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class PthreadSigmask {
        static final MethodHandle HANDLE = downcall("pthread_sigmask", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class Sigtimedwait {
        static final MethodHandle HANDLE = downcall("sigtimedwait", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }

    private static final class Madvise {
        static final MethodHandle HANDLE = downcall("madvise", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }

    /** A downcall handle to libc's {@code name} that captures errno; shared by this package. */
    @SuppressWarnings("restricted")
    static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
            .orElseThrow(() -> new UnsatisfiedLinkError("libc symbol not found: " + name));
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = Linker.Option.captureCallState("errno");
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /**
     * The errno capture buffer of the calling thread, to pass as the first argument of a
     * capturing downcall handle.
     */
    static MemorySegment capture() {
        return CAPTURE.get();
    }

    /** The errno stored in a capture buffer by the last call that used it. */
    static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** The errno of the calling thread's last call through this class. */
    public static int lastErrno() {
        return errno(capture());
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("downcall failed", t);
    }

    private static int check(int result, String call, String argument, MemorySegment capture) {
        if (result < 0) {
            throw new LinuxException(call, argument, errno(capture));
        }
        return result;
    }

    private static long check(long result, String call, String argument, MemorySegment capture) {
        if (result < 0) {
            throw new LinuxException(call, argument, errno(capture));
        }
        return result;
    }

    // ---------------------------------------------------------------- file descriptors

    /** close(2). Throws on EBADF; any other error (EINTR, EIO) still released the fd. */
    public static void close(int fd) {
        MemorySegment capture = capture();
        int result;
        try {
            result = (int) Close.HANDLE.invokeExact(capture, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(result, "close", "fd=" + fd, capture);
    }

    /** close(2) that reports nothing: for cleanup paths that already have an error to report. */
    public static void closeQuietly(int fd) {
        if (fd < 0) {
            return;
        }
        try {
            int ignored = (int) Close.HANDLE.invokeExact(capture(), fd);
        } catch (Throwable t) {
            // nothing useful to do: this is already an error path
        }
    }

    /** read(2) into {@code buffer}, at most {@code count} bytes; returns bytes read (0 at EOF). */
    public static long read(int fd, MemorySegment buffer, long count) {
        MemorySegment capture = capture();
        long result = tryRead(fd, buffer, count, capture);
        return check(result < 0 ? -1 : result, "read", "fd=" + fd + ", count=" + count, capture);
    }

    /** read(2) for hot paths: bytes read, or {@code -errno}. Does not allocate. */
    public static long tryRead(int fd, MemorySegment buffer, long count) {
        return tryRead(fd, buffer, count, capture());
    }

    private static long tryRead(int fd, MemorySegment buffer, long count, MemorySegment capture) {
        try {
            long result = (long) Read.HANDLE.invokeExact(capture, fd, buffer, count);
            return result < 0 ? -errno(capture) : result;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** write(2) of at most {@code count} bytes from {@code buffer}; returns bytes written. */
    public static long write(int fd, MemorySegment buffer, long count) {
        MemorySegment capture = capture();
        long result = tryWrite(fd, buffer, count, capture);
        return check(result < 0 ? -1 : result, "write", "fd=" + fd + ", count=" + count, capture);
    }

    /** write(2) for hot paths: bytes written, or {@code -errno}. Does not allocate. */
    public static long tryWrite(int fd, MemorySegment buffer, long count) {
        return tryWrite(fd, buffer, count, capture());
    }

    private static long tryWrite(int fd, MemorySegment buffer, long count, MemorySegment capture) {
        try {
            long result = (long) Write.HANDLE.invokeExact(capture, fd, buffer, count);
            return result < 0 ? -errno(capture) : result;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** open(2) with {@code O_CLOEXEC} added; {@code mode} is used when creating. Returns the fd. */
    public static int open(String path, int flags, int mode) {
        MemorySegment capture = capture();
        int result;
        try (Arena arena = Arena.ofConfined()) {
            result = (int) Open.HANDLE.invokeExact(capture, arena.allocateFrom(path), flags | O_CLOEXEC, mode);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return check(result, "open", "path=" + path + ", flags=0x" + Integer.toHexString(flags), capture);
    }

    /** open(2) of an existing file with {@code O_CLOEXEC} added. */
    public static int open(String path, int flags) {
        return open(path, flags, 0);
    }

    /** ioctl(2) with an integer argument; returns the (non-negative) result. */
    public static int ioctl(int fd, long request, long arg) {
        MemorySegment capture = capture();
        int result = tryIoctl(fd, request, arg, capture);
        return check(result < 0 ? -1 : result, "ioctl", ioctlArgument(fd, request), capture);
    }

    /** ioctl(2) with a pointer argument; returns the (non-negative) result. */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        MemorySegment capture = capture();
        int result = tryIoctl(fd, request, arg, capture);
        return check(result < 0 ? -1 : result, "ioctl", ioctlArgument(fd, request), capture);
    }

    /** ioctl(2) with an integer argument for hot paths: the result, or {@code -errno}. */
    public static int tryIoctl(int fd, long request, long arg) {
        return tryIoctl(fd, request, arg, capture());
    }

    /** ioctl(2) with a pointer argument for hot paths (e.g. KVM_RUN): the result, or {@code -errno}. */
    public static int tryIoctl(int fd, long request, MemorySegment arg) {
        return tryIoctl(fd, request, arg, capture());
    }

    private static int tryIoctl(int fd, long request, long arg, MemorySegment capture) {
        try {
            int result = (int) IoctlLong.HANDLE.invokeExact(capture, fd, request, arg);
            return result < 0 ? -errno(capture) : result;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int tryIoctl(int fd, long request, MemorySegment arg, MemorySegment capture) {
        try {
            int result = (int) IoctlPtr.HANDLE.invokeExact(capture, fd, request, arg);
            return result < 0 ? -errno(capture) : result;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static String ioctlArgument(int fd, long request) {
        return "fd=" + fd + ", request=0x" + Long.toHexString(request);
    }

    /** fcntl(2) with an integer argument (F_GETFL, F_SETFL, F_ADD_SEALS ...); returns the result. */
    public static int fcntl(int fd, int command, int arg) {
        MemorySegment capture = capture();
        int result;
        try {
            result = (int) Fcntl.HANDLE.invokeExact(capture, fd, command, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return check(result, "fcntl", "fd=" + fd + ", cmd=" + command + ", arg=" + arg, capture);
    }

    /** A close-on-exec duplicate of {@code fd} (fcntl F_DUPFD_CLOEXEC), e.g. to keep a copy of an fd handed to an owner. */
    public static int dup(int fd) {
        return fcntl(fd, F_DUPFD_CLOEXEC, 0);
    }

    /** getpid(2). */
    public static int getpid() {
        try {
            return (int) Getpid.HANDLE.invokeExact(capture());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** lseek(2); returns the new offset. {@code lseek(fd, 0, SEEK_END)} is the size of a file or memfd. */
    public static long lseek(int fd, long offset, int whence) {
        MemorySegment capture = capture();
        long result;
        try {
            result = (long) Lseek.HANDLE.invokeExact(capture, fd, offset, whence);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return check(result, "lseek", "fd=" + fd + ", offset=" + offset + ", whence=" + whence, capture);
    }

    /** ftruncate(2). */
    public static void ftruncate(int fd, long length) {
        MemorySegment capture = capture();
        int result;
        try {
            result = (int) Ftruncate.HANDLE.invokeExact(capture, fd, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(result, "ftruncate", "fd=" + fd + ", length=" + length, capture);
    }

    /**
     * The file system facts Ringway needs from fstatfs(2).
     *
     * @param type      {@code f_type}, e.g. {@link #HUGETLBFS_MAGIC}
     * @param blockSize {@code f_bsize}; on hugetlbfs, the huge page size
     */
    public record FileSystem(long type, long blockSize) {
        /** Whether the file lives on hugetlbfs (a hugetlbfs file or a memfd made with MFD_HUGETLB). */
        public boolean hugetlbfs() {
            return type == HUGETLBFS_MAGIC;
        }
    }

    /** fstatfs(2): the type and block size of the file system holding {@code fd}. */
    public static FileSystem fstatfs(int fd) {
        MemorySegment capture = capture();
        try (Arena arena = Arena.ofConfined()) {
            // struct statfs on x86-64: f_type at 0, f_bsize at 8, both 8 bytes.
            MemorySegment statfs = arena.allocate(STATFS_SIZE, 8);
            int result = (int) Fstatfs.HANDLE.invokeExact(capture, fd, statfs);
            check(result, "fstatfs", "fd=" + fd, capture);
            return new FileSystem(statfs.get(JAVA_LONG, 0), statfs.get(JAVA_LONG, 8));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** sysconf(3). */
    public static long sysconf(int name) {
        MemorySegment capture = capture();
        long result;
        try {
            result = (long) Sysconf.HANDLE.invokeExact(capture, name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return check(result, "sysconf", "name=" + name, capture);
    }

    // ---------------------------------------------------------------- threads and signals

    /** geteuid(2): the effective user id (always succeeds). */
    public static int geteuid() {
        try {
            return (int) Geteuid.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** geteuid cannot fail: no errno capture. */
    private static final class Geteuid {
        static final MethodHandle HANDLE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("geteuid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    }

    /** gettid(2): the kernel thread id of the calling thread (for {@link #tryTgkill}). */
    public static int gettid() {
        try {
            return (int) Gettid.HANDLE.invokeExact(capture());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * tgkill(2): sends {@code signal} to thread {@code tid} of process {@code tgid}, for hot or
     * cross-thread paths: 0, or {@code -errno} (ESRCH when the thread is gone). Does not allocate.
     */
    public static int tryTgkill(int tgid, int tid, int signal) {
        MemorySegment capture = capture();
        try {
            int result = (int) Tgkill.HANDLE.invokeExact(capture, tgid, tid, signal);
            return result < 0 ? -errno(capture) : result;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * pthread_sigmask(3) of the calling thread. {@code set} and {@code old} are glibc sigsets of
     * {@link #SIGSET_SIZE} bytes (bit {@code signal - 1} of the first long is {@code signal});
     * either may be {@link MemorySegment#NULL}.
     */
    public static void pthreadSigmask(int how, MemorySegment set, MemorySegment old) {
        int result;
        try {
            result = (int) PthreadSigmask.HANDLE.invokeExact(capture(), how, set, old);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (result != 0) {
            // pthread functions return the error number instead of setting errno
            throw new LinuxException("pthread_sigmask", "how=" + how, result);
        }
    }

    /**
     * sigtimedwait(2): takes one pending signal of {@code set} (a glibc sigset) off the calling
     * thread, waiting at most {@code timeout} (a {@code struct timespec}, 16 bytes; zeros = poll).
     * Returns the signal number, or {@code -errno} (EAGAIN when none was pending). {@code info}
     * may be {@link MemorySegment#NULL}. Does not allocate.
     */
    public static int trySigtimedwait(MemorySegment set, MemorySegment info, MemorySegment timeout) {
        MemorySegment capture = capture();
        try {
            int result = (int) Sigtimedwait.HANDLE.invokeExact(capture, set, info, timeout);
            return result < 0 ? -errno(capture) : result;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- memory

    /** memfd_create(2); returns the fd. Use {@link #MFD_CLOEXEC} unless the fd must survive exec. */
    public static int memfdCreate(String name, int flags) {
        MemorySegment capture = capture();
        int result;
        try (Arena arena = Arena.ofConfined()) {
            result = (int) MemfdCreate.HANDLE.invokeExact(capture, arena.allocateFrom(name), flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return check(result, "memfd_create", "name=" + name + ", flags=0x" + Integer.toHexString(flags), capture);
    }

    /**
     * mmap(2). The returned segment is {@code length} bytes long and has the global scope: it stays
     * accessible until {@link #munmap}, and touching it afterwards crashes the JVM. Prefer
     * {@link #mmap(long, long, int, int, int, long, Arena)}.
     */
    @SuppressWarnings("restricted")
    public static MemorySegment mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        MemorySegment capture = capture();
        MemorySegment result;
        try {
            result = (MemorySegment) Mmap.HANDLE.invokeExact(capture, MemorySegment.ofAddress(addr), length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (result.address() == MAP_FAILED) {
            throw new LinuxException("mmap", "fd=" + fd + ", length=" + length
                + ", prot=0x" + Integer.toHexString(prot) + ", flags=0x" + Integer.toHexString(flags)
                + ", offset=" + offset, errno(capture));
        }
        return result.reinterpret(length);
    }

    /**
     * mmap(2) bound to {@code arena}: closing the arena makes the segment inaccessible and then
     * unmaps it, so a stale access throws instead of crashing. Use a shared arena when several
     * threads touch the mapping.
     */
    @SuppressWarnings("restricted")
    public static MemorySegment mmap(long addr, long length, int prot, int flags, int fd, long offset, Arena arena) {
        MemorySegment mapped = mmap(addr, length, prot, flags, fd, offset);
        long address = mapped.address();
        return mapped.reinterpret(length, arena, _ -> munmapQuietly(address, length));
    }

    /**
     * madvise(2) of the whole of {@code range} (page aligned) with {@code advice}, e.g. {@link #MADV_HUGEPAGE}.
     * Fails with EINVAL where the kernel does not know the advice (MADV_HUGEPAGE without CONFIG_TRANSPARENT_HUGEPAGE).
     */
    public static void madvise(MemorySegment range, int advice) {
        MemorySegment capture = capture();
        int result;
        try {
            result = (int) Madvise.HANDLE.invokeExact(capture, range, range.byteSize(), advice);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(result, "madvise", "address=0x" + Long.toHexString(range.address()) + ", length=" + range.byteSize()
            + ", advice=" + advice, capture);
    }

    /** munmap(2) of {@code length} bytes at the address of {@code mapping}. */
    public static void munmap(MemorySegment mapping, long length) {
        MemorySegment capture = capture();
        int result;
        try {
            result = (int) Munmap.HANDLE.invokeExact(capture, mapping, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(result, "munmap", "address=0x" + Long.toHexString(mapping.address()) + ", length=" + length, capture);
    }

    /**
     * munmap(2) that never throws, for arena cleanup actions: an exception there would escape
     * {@code Arena.close()} and skip the cleanups after it (other mappings left mapped). munmap of a range
     * this process mapped fails only on a bug (a bad address or length).
     *
     * @return 0, or -errno when munmap failed
     */
    public static int munmapQuietly(long address, long length) {
        MemorySegment capture = capture();
        try {
            int result = (int) Munmap.HANDLE.invokeExact(capture, MemorySegment.ofAddress(address), length);
            return result == 0 ? 0 : -errno(capture);
        } catch (Throwable t) {
            return -Errno.EINVAL; // the downcall itself failed: nothing was unmapped
        }
    }
}

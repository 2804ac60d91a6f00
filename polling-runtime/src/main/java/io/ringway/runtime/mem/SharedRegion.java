package io.ringway.runtime.mem;

import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Shared memory backed by a memfd (or a hugetlbfs memfd, on request), mapped MAP_SHARED as a
 * {@link MemorySegment}. Its {@link #fd()} can travel to another process (SCM_RIGHTS), which maps
 * the same pages with {@link #map(int, long)}: this is how guest memory is shared between the vCPU
 * engine, KVM and vhost-user backends.
 *
 * <p>A region made by {@link #create} is sealed against shrinking, so a peer cannot truncate the
 * memfd under our mapping (a truncated mapping faults with SIGBUS on access).
 *
 * <p>{@link #close()} first makes the segment inaccessible (a later access throws
 * {@link IllegalStateException} instead of faulting), then unmaps it and closes the fd.
 */
public final class SharedRegion implements MappedRegion {
    /** The huge page size used for hugepage regions, 2 MiB. */
    public static final long HUGE_PAGE_SIZE = 2L * 1024 * 1024;

    // Not /proc/sys/vm/nr_hugepages: a sysctl file answers a second read() at a non-zero offset with
    // end-of-file, and the JDK reads it in more than one call ("1" for 1024 here). sysfs reads whole.
    static final Path NR_HUGEPAGES = Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
    static final Path FREE_HUGEPAGES = Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");

    private static final System.Logger LOG = System.getLogger(SharedRegion.class.getName());

    /**
     * How to back a new region.
     *
     * @param hugepages back the region with 2 MiB huge pages (size rounded up to 2 MiB); falls back
     *                  to normal pages with a warning when none are free
     * @param populate  pre-fault the whole mapping (MAP_POPULATE), so the data plane never takes a
     *                  page fault on first touch
     */
    public record Options(boolean hugepages, boolean populate) {
        /** Normal pages, not pre-faulted. */
        public static final Options DEFAULTS = new Options(false, false);

        /** Normal pages, not pre-faulted; chain {@link #hugepages(boolean)} and {@link #populate(boolean)}. */
        public static Options defaults() {
            return DEFAULTS;
        }

        /** These options with hugepages on or off. */
        public Options hugepages(boolean on) {
            return new Options(on, populate);
        }

        /** These options with populate on or off. */
        public Options populate(boolean on) {
            return new Options(hugepages, on);
        }
    }

    private final String name;
    private final int fd;
    private final long size;
    private final boolean hugepages;
    private final Arena arena;
    private final MemorySegment segment;
    private final AtomicBoolean closed = new AtomicBoolean();

    private SharedRegion(String name, int fd, long size, boolean hugepages, Arena arena, MemorySegment segment) {
        this.name = name;
        this.fd = fd;
        this.size = size;
        this.hugepages = hugepages;
        this.arena = arena;
        this.segment = segment;
    }

    /**
     * Creates a region of normal pages, not pre-faulted.
     *
     * @param name a name for the memfd (shows in /proc/PID/fd and /proc/PID/maps)
     * @param size the size in bytes, positive
     */
    public static SharedRegion create(String name, long size) {
        return create(name, size, Options.DEFAULTS);
    }

    /**
     * Creates a region.
     *
     * @param name    a name for the memfd (shows in /proc/PID/fd and /proc/PID/maps)
     * @param size    the size in bytes, positive; rounded up to {@link #HUGE_PAGE_SIZE} when huge
     *                pages are used
     * @param options huge pages and pre-faulting
     */
    public static SharedRegion create(String name, long size, Options options) {
        requirePositive(size);
        if (options.hugepages()) {
            long hugeSize = roundUp(size, HUGE_PAGE_SIZE);
            String shortage = hugePagesShortage(hugeSize);
            if (shortage != null) {
                warnFallback(name, hugeSize, shortage);
            } else {
                try {
                    return createMemfd(name, hugeSize, options.populate(),
                        LibC.MFD_HUGETLB | LibC.MFD_HUGE_2MB, true);
                } catch (LinuxException e) {
                    warnFallback(name, hugeSize, "memfd MFD_HUGETLB failed: " + e.getMessage()
                        + " (" + hugepageCounts() + ")");
                }
            }
        }
        return createMemfd(name, size, options.populate(), 0, false);
    }

    /**
     * Maps a region from a file descriptor received from another process (MAP_SHARED, read-write).
     * The region adopts the fd: {@link #close()} closes it. Huge pages are detected from the fd.
     *
     * @param fd   a memfd or hugetlbfs file descriptor
     * @param size the bytes to map from offset 0, positive, not beyond the end of the file
     */
    public static SharedRegion map(int fd, long size) {
        requirePositive(size);
        long fileSize = LibC.lseek(fd, 0, LibC.SEEK_END);
        if (size > fileSize) {
            // Mapping past the end of the file would fault with SIGBUS on first touch.
            throw new IllegalArgumentException("cannot map " + size + " bytes of fd " + fd
                + ": the file is only " + fileSize + " bytes");
        }
        LibC.FileSystem fileSystem = LibC.fstatfs(fd);
        boolean huge = fileSystem.hugetlbfs();
        // hugetlbfs mappings must be a whole number of huge pages.
        long mapLength = huge ? roundUp(size, fileSystem.blockSize()) : size;
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping = LibC.mmap(0, mapLength, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0, arena);
            return new SharedRegion("fd " + fd, fd, size, huge, arena, mapping.asSlice(0, size));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static SharedRegion createMemfd(String name, long size, boolean populate, int hugeFlags, boolean huge) {
        int fd = LibC.memfdCreate(name, LibC.MFD_CLOEXEC | LibC.MFD_ALLOW_SEALING | hugeFlags);
        Arena arena = Arena.ofShared();
        try {
            LibC.ftruncate(fd, size);
            LibC.fcntl(fd, LibC.F_ADD_SEALS, LibC.F_SEAL_SHRINK);
            int flags = LibC.MAP_SHARED | (populate ? LibC.MAP_POPULATE : 0);
            MemorySegment mapping = LibC.mmap(0, size, LibC.PROT_READ | LibC.PROT_WRITE, flags, fd, 0, arena);
            return new SharedRegion(name, fd, size, huge, arena, mapping);
        } catch (RuntimeException e) {
            arena.close();
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * Why a hugetlb region of {@code size} bytes (rounded up to {@link #HUGE_PAGE_SIZE}) cannot be had now (none
     * reserved, too few free), or null when the huge pages look available (or the counts cannot be read). A
     * caller with a better fall-back than {@link #create}'s normal-page memfd asks this first.
     */
    public static String hugePagesShortage(long size) {
        long pages = Math.ceilDiv(size, HUGE_PAGE_SIZE);
        long configured = readCount(NR_HUGEPAGES);
        if (configured == 0) {
            return NR_HUGEPAGES + " is 0";
        }
        long free = readCount(FREE_HUGEPAGES);
        if (free >= 0 && free < pages) {
            return "needs " + pages + " free 2 MiB huge pages, " + hugepageCounts();
        }
        return null;
    }

    private static String hugepageCounts() {
        return NR_HUGEPAGES + " is " + readCount(NR_HUGEPAGES) + ", " + FREE_HUGEPAGES + " is " + readCount(FREE_HUGEPAGES);
    }

    /** The number in a one-number proc/sys file, or -1 when it cannot be read. */
    private static long readCount(Path file) {
        try {
            return Long.parseLong(Files.readString(file).trim());
        } catch (IOException | NumberFormatException | SecurityException e) {
            return -1;
        }
    }

    private static void warnFallback(String name, long hugeSize, String reason) {
        LOG.log(System.Logger.Level.WARNING,
            "shared region ''{0}'': huge pages requested for {1} bytes but not available ({2}); using normal pages",
            name, Long.toString(hugeSize), reason);
    }

    static void requirePositive(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("region size must be positive, got " + size);
        }
    }

    static long roundUp(long value, long multiple) {
        return Math.ceilDiv(value, multiple) * multiple;
    }

    /** The mapped memory, {@link #size()} bytes; inaccessible after {@link #close()}. */
    @Override
    public MemorySegment segment() {
        return segment;
    }

    /** The memfd (or received fd) backing the region; send it to share the region. */
    public int fd() {
        return fd;
    }

    /** The size in bytes (after rounding up to the huge page size when huge pages are used). */
    @Override
    public long size() {
        return size;
    }

    /** Whether the region is actually backed by huge pages. */
    public boolean hugepages() {
        return hugepages;
    }

    /** The memfd name given to {@link #create}, or "fd N" for a mapped received fd. */
    @Override
    public String name() {
        return name;
    }

    @Override
    public String backing() {
        return hugepages ? "hugetlb memfd (2 MiB pages)" : "memfd (shmem)";
    }

    /** Makes the segment inaccessible, unmaps it and closes the fd; further calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                arena.close();
            } finally {
                LibC.close(fd);
            }
        }
    }

    @Override
    public String toString() {
        return "SharedRegion[" + name + ", fd=" + fd + ", size=" + size + (hugepages ? ", hugepages" : "") + "]";
    }
}

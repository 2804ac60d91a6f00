package io.ringway.runtime.mem;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;

/**
 * Transparent huge pages (THP, Documentation/admin-guide/mm/transhuge.rst): the host's modes, the
 * MADV_HUGEPAGE advice, and how much of a mapping huge pages back right now.
 */
public final class TransparentHugePages {
    /** THP for anonymous memory: "always", "madvise" (only ranges advised MADV_HUGEPAGE) or "never". */
    static final Path ENABLED = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
    /** THP for shmem (memfd) mappings: "always", "within_size", "advise", "never", "deny", "force". */
    static final Path SHMEM_ENABLED = Path.of("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
    private static final Path SMAPS = Path.of("/proc/self/smaps");

    private TransparentHugePages() {
    }

    /** The selected mode of THP for anonymous memory ("madvise" for "always [madvise] never"), or "unknown". */
    public static String enabled() {
        return selected(ENABLED);
    }

    /** The selected mode of THP for shmem (memfd) mappings, or "unknown". */
    public static String shmemEnabled() {
        return selected(SHMEM_ENABLED);
    }

    /** The bracketed choice of a sysfs mode file such as "always [madvise] never"; "unknown" when unreadable. */
    static String selected(Path file) {
        try {
            return selectedOf(Files.readString(file));
        } catch (IOException | SecurityException e) {
            return "unknown";
        }
    }

    static String selectedOf(String modes) {
        int open = modes.indexOf('[');
        int close = modes.indexOf(']', open + 1);
        return open < 0 || close < 0 ? "unknown" : modes.substring(open + 1, close);
    }

    /**
     * madvise(MADV_HUGEPAGE) over {@code range} (page aligned): null when the kernel took the advice, else why
     * not (the call, its arguments and errno). Taking it is no promise of huge pages: the modes decide.
     */
    public static String advise(MemorySegment range) {
        try {
            LibC.madvise(range, LibC.MADV_HUGEPAGE);
            return null;
        } catch (LinuxException e) {
            return e.getMessage();
        }
    }

    /**
     * The bytes of {@code range} that huge pages map now, from this process's /proc/self/smaps (the sum of
     * AnonHugePages, ShmemPmdMapped, Shared_Hugetlb and Private_Hugetlb of the mappings that overlap it;
     * a mapping the kernel merged with a neighbour counts whole), or -1 when smaps cannot be read.
     * Reads a file: for reports and tests, not for hot paths.
     */
    public static long mappedHugeBytes(MemorySegment range) {
        List<String> lines;
        try {
            lines = Files.readAllLines(SMAPS);
        } catch (IOException | SecurityException e) {
            return -1;
        }
        return hugeBytesIn(lines, range.address(), range.address() + range.byteSize());
    }

    static long hugeBytesIn(List<String> smaps, long start, long end) {
        long total = 0;
        boolean inside = false;
        for (String line : smaps) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && isHex(line, 0, dash)) { // "7f...000-7f...000 rw-p ..." starts a mapping
                long from = Long.parseUnsignedLong(line, 0, dash, 16);
                long to = Long.parseUnsignedLong(line, dash + 1, space, 16);
                inside = from < end && start < to;
            } else if (inside && (line.startsWith("AnonHugePages:") || line.startsWith("ShmemPmdMapped:")
                    || line.startsWith("Shared_Hugetlb:") || line.startsWith("Private_Hugetlb:"))) {
                String[] f = line.trim().split("\\s+"); // "AnonHugePages:    524288 kB"
                total += Long.parseLong(f[1]) * 1024;
            }
        }
        return total;
    }

    private static boolean isHex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                return false;
            }
        }
        return to > from;
    }
}

package io.ringway.runtime.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * How much memory this process can still take for real (not merely reserve): the smaller of the
 * kernel's MemAvailable estimate ({@code /proc/meminfo}) and the room left under the memory
 * cgroup's limit (cgroup v2 {@code memory.max - memory.current}, or v1 {@code memory.limit_in_bytes
 * - memory.usage_in_bytes}). Control plane only: it reads files.
 */
public final class MemoryInfo {
    private static final Path MEMINFO = Path.of("/proc/meminfo");
    private static final List<Path[]> CGROUP_LIMITS = List.of(
            new Path[] {Path.of("/sys/fs/cgroup/memory.max"), Path.of("/sys/fs/cgroup/memory.current")},
            new Path[] {Path.of("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
                    Path.of("/sys/fs/cgroup/memory/memory.usage_in_bytes")});

    /** What {@link #available()} found, and where. */
    public record Available(long bytes, String source) {
    }

    private MemoryInfo() {
    }

    /**
     * @return bytes available now and which limit gave the figure
     * @throws IllegalStateException if /proc/meminfo cannot be read or has no MemAvailable line
     */
    public static Available available() {
        long best = memAvailable();
        String source = "MemAvailable in " + MEMINFO;
        for (Path[] files : CGROUP_LIMITS) {
            long room = cgroupRoom(files[0], files[1]);
            if (room >= 0 && room < best) {
                best = room;
                source = "room under the cgroup limit " + files[0];
            }
        }
        return new Available(best, source);
    }

    private static long memAvailable() {
        try {
            for (String line : Files.readAllLines(MEMINFO)) {
                if (line.startsWith("MemAvailable:")) {
                    String[] f = line.trim().split("\\s+");
                    return Long.parseLong(f[1]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("cannot read MemAvailable from " + MEMINFO + ": " + e, e);
        }
        throw new IllegalStateException(MEMINFO + " has no MemAvailable line");
    }

    /** @return limit - usage, or -1 if there is no such cgroup file or no limit ("max") */
    private static long cgroupRoom(Path limitFile, Path usageFile) {
        try {
            if (!Files.isReadable(limitFile) || !Files.isReadable(usageFile)) {
                return -1;
            }
            String limit = Files.readString(limitFile).trim();
            if (limit.equals("max")) {
                return -1;
            }
            long l = Long.parseLong(limit);
            long u = Long.parseLong(Files.readString(usageFile).trim());
            return Math.max(0, l - u);
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }
}

package io.ringway.runtime.stats;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where stats files live. {@code RINGWAY_STATS_DIR} (environment) or {@code ringway.stats.dir}
 * (system property) override the default, which is {@code /dev/shm/ringway-stats} when /dev/shm is
 * writable (a tmpfs: the counters never touch a disk) and {@code java.io.tmpdir/ringway-stats}
 * otherwise.
 */
public final class StatsDirectory {
    private StatsDirectory() {
    }

    /** The directory every Ringway process of this machine writes its stats file into. */
    public static Path resolve() {
        String property = System.getProperty("ringway.stats.dir");
        if (property != null && !property.isBlank()) {
            return Path.of(property);
        }
        String env = System.getenv("RINGWAY_STATS_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            return shm.resolve("ringway-stats");
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "ringway-stats");
    }
}

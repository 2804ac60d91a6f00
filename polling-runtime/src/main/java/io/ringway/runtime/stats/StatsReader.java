package io.ringway.runtime.stats;

import static io.ringway.runtime.stats.StatsFileDescriptor.*;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersReader;

/**
 * Reads the stats files of running Ringway processes (see {@link StatsRegistry}). Everything read
 * from a file is treated as untrusted: lengths are checked against the file size before use.
 */
public final class StatsReader {
    /** One counter value at the time of reading. */
    public record Counter(int id, String label, long value) {
    }

    /** The counters of one live process. */
    public record ProcessStats(long pid, String command, Path file, List<Counter> counters) {
    }

    private StatsReader() {
    }

    /**
     * Snapshot of every live process in {@code directory}. Files whose process has exited (or whose
     * pid now belongs to another process) are deleted when {@code cleanStale} is set, else skipped.
     */
    public static List<ProcessStats> readAll(Path directory, boolean cleanStale) throws IOException {
        List<ProcessStats> result = new ArrayList<>();
        if (!Files.isDirectory(directory)) {
            return result;
        }
        List<Path> files;
        try (Stream<Path> listing = Files.list(directory)) {
            files = listing.filter(p -> p.getFileName().toString().endsWith(".stats")).sorted().toList();
        }
        for (Path file : files) {
            Optional<ProcessStats> stats;
            try {
                stats = read(file);
            } catch (IOException e) {
                continue; // removed while listing
            }
            if (stats.isPresent()) {
                result.add(stats.get());
            } else if (cleanStale) {
                Files.deleteIfExists(file);
            }
        }
        result.sort(Comparator.comparingLong(ProcessStats::pid));
        return result;
    }

    /** Reads one stats file; empty if the file is not a ready Ringway stats file of a live process. */
    public static Optional<ProcessStats> read(Path file) throws IOException {
        try (Arena arena = Arena.ofConfined();
             FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < HEADER_LENGTH || size > Integer.MAX_VALUE) {
                return Optional.empty();
            }
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            if (!StatsRegistry.plausible(mapped, size)
                    || mapped.get(ValueLayout.JAVA_INT_UNALIGNED, READY_OFFSET) != 1) {
                return Optional.empty();
            }
            int pid = mapped.get(ValueLayout.JAVA_INT_UNALIGNED, PID_OFFSET);
            long start = mapped.get(ValueLayout.JAVA_LONG_UNALIGNED, START_TIME_OFFSET);
            if (!alive(pid, start)) {
                return Optional.empty();
            }
            int commandLength = Math.clamp(mapped.get(ValueLayout.JAVA_INT_UNALIGNED, COMMAND_LENGTH_OFFSET), 0, COMMAND_MAX);
            byte[] command = mapped.asSlice(COMMAND_OFFSET, commandLength).toArray(ValueLayout.JAVA_BYTE);
            int metaLength = mapped.get(ValueLayout.JAVA_INT_UNALIGNED, METADATA_LENGTH_OFFSET);
            int valuesLength = mapped.get(ValueLayout.JAVA_INT_UNALIGNED, VALUES_LENGTH_OFFSET);
            // Copy the buffers out first: the reader then parses a private, stable snapshot.
            MemorySegment copy = arena.allocate((long) metaLength + valuesLength, 64);
            MemorySegment.copy(mapped, HEADER_LENGTH, copy, 0, (long) metaLength + valuesLength);
            CountersReader reader = new CountersReader(new UnsafeBuffer(copy.address(), metaLength),
                    new UnsafeBuffer(copy.address() + metaLength, valuesLength), StandardCharsets.UTF_8);
            List<Counter> counters = new ArrayList<>();
            reader.forEach((value, id, label) -> counters.add(new Counter(id, label, value)));
            return Optional.of(new ProcessStats(pid, new String(command, StandardCharsets.UTF_8), file, counters));
        }
    }

    private static boolean alive(int pid, long startMillis) {
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty() || !handle.get().isAlive()) {
            return false;
        }
        if (startMillis == 0) {
            return true;
        }
        // A recycled pid has a different start time; allow clock granularity slack.
        return handle.get().info().startInstant()
                .map(i -> Math.abs(i.toEpochMilli() - startMillis) < 2_000)
                .orElse(true);
    }
}

package io.ringway.perf.trace;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;

/**
 * Per-operation latency events of a bench run in a Chronicle Queue journal ({@code ringway bench
 * --trace DIR}), exported to CSV by {@code ringway trace export DIR --csv FILE}.
 *
 * <p>An event is (scenario, series, start time in epoch ns, latency in ns). Scenarios collect
 * their events in arrays while they measure and hand them over afterwards, so the journal never
 * sits on a timed path.
 */
public final class TraceJournal implements AutoCloseable {
    /** CSV header of {@link #exportCsv}. */
    public static final String CSV_HEADER = "scenario,series,start_epoch_ns,latency_ns";

    private final ChronicleQueue queue;
    private final ExcerptAppender appender;

    private TraceJournal(ChronicleQueue queue) {
        this.queue = queue;
        this.appender = queue.createAppender();
    }

    /** Opens (or creates) the journal in {@code dir}. */
    public static TraceJournal open(Path dir) throws IOException {
        Files.createDirectories(dir);
        return new TraceJournal(SingleChronicleQueueBuilder.binary(dir.toFile()).build());
    }

    /** Appends {@code count} events of one series: {@code starts[i]}, {@code latencies[i]}. */
    public void append(String scenario, String series, long[] starts, long[] latencies, int count) {
        if (count < 0 || count > starts.length || count > latencies.length) {
            throw new IllegalArgumentException("count " + count + " outside the arrays (" + starts.length + ", "
                    + latencies.length + ")");
        }
        for (int i = 0; i < count; i++) {
            long start = starts[i];
            long latency = latencies[i];
            appender.writeBytes(b -> b.writeUtf8(scenario).writeUtf8(series).writeLong(start).writeLong(latency));
        }
    }

    @Override
    public void close() {
        appender.close();
        queue.close();
    }

    /**
     * Writes every event of the journal in {@code dir} as CSV; returns the number of events.
     *
     * @throws IOException if {@code dir} holds no journal or the CSV cannot be written
     */
    public static long exportCsv(Path dir, Path csv) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("no trace journal at " + dir + " (not a directory)");
        }
        try (var listing = Files.list(dir)) {
            if (listing.noneMatch(p -> p.getFileName().toString().endsWith(".cq4"))) {
                throw new IOException("no trace journal at " + dir + " (no .cq4 files; record one with ringway bench --trace DIR)");
            }
        }
        Path parent = csv.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        long n = 0;
        try (ChronicleQueue queue = SingleChronicleQueueBuilder.binary(dir.toFile()).readOnly(true).build();
             ExcerptTailer tailer = queue.createTailer();
             Writer out = Files.newBufferedWriter(csv, StandardCharsets.UTF_8)) {
            out.write(CSV_HEADER);
            out.write('\n');
            StringBuilder line = new StringBuilder(128);
            while (true) {
                line.setLength(0);
                boolean read = tailer.readBytes(b -> line.append(csvField(b.readUtf8())).append(',')
                        .append(csvField(b.readUtf8())).append(',')
                        .append(b.readLong()).append(',')
                        .append(b.readLong()).append('\n'));
                if (!read) {
                    break;
                }
                out.append(line);
                n++;
            }
        }
        return n;
    }

    private static String csvField(String s) {
        if (s == null) {
            return "";
        }
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }
}

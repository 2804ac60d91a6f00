package io.ringway.runtime.stats;

import static io.ringway.runtime.stats.StatsFileDescriptor.*;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicReference;

import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

/**
 * The counters of one process, in a memory-mapped file that {@code ringway stats} (another process)
 * reads while this one runs. Counters are Agrona {@link AtomicCounter}s: the data plane updates them
 * with plain or release stores, never a lock.
 *
 * <p>Allocation and freeing of counters is control-plane work and is serialised here; updating a
 * counter is not. The file is deleted when the registry is closed or the JVM exits normally; a
 * reader skips (and cleans) files whose process is gone.
 */
public final class StatsRegistry implements AutoCloseable {
    /** Counter type id for counters Ringway allocates (Agrona reserves 0 for its own). */
    public static final int RINGWAY_COUNTER_TYPE = 1001;
    public static final int DEFAULT_MAX_COUNTERS = 4096;

    private static final AtomicReference<StatsRegistry> PROCESS = new AtomicReference<>();

    private final Path file;
    private final Arena arena;
    private final CountersManager counters;
    private final boolean unmapOnClose;
    private boolean closed;

    private StatsRegistry(Path file, int maxCounters, boolean unmapOnClose) {
        this.file = file;
        this.unmapOnClose = unmapOnClose;
        this.arena = Arena.ofShared();
        int length = fileLength(maxCounters);
        MemorySegment mapped;
        try {
            Files.createDirectories(file.getParent());
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                channel.truncate(length);
                mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, length, arena);
            }
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot create stats file " + file + ": " + e.getMessage(), e);
        }
        mapped.fill((byte) 0);
        UnsafeBuffer header = new UnsafeBuffer(mapped.address(), HEADER_LENGTH);
        header.putLong(MAGIC_OFFSET, MAGIC);
        header.putInt(VERSION_OFFSET, VERSION);
        ProcessHandle self = ProcessHandle.current();
        header.putInt(PID_OFFSET, (int) self.pid());
        header.putLong(START_TIME_OFFSET, self.info().startInstant().map(i -> i.toEpochMilli()).orElse(0L));
        header.putInt(METADATA_LENGTH_OFFSET, metadataLength(maxCounters));
        header.putInt(VALUES_LENGTH_OFFSET, valuesLength(maxCounters));
        byte[] command = commandLine().getBytes(StandardCharsets.UTF_8);
        int commandLength = Math.min(command.length, COMMAND_MAX);
        header.putInt(COMMAND_LENGTH_OFFSET, commandLength);
        header.putBytes(COMMAND_OFFSET, command, 0, commandLength);
        UnsafeBuffer metadata = new UnsafeBuffer(mapped.address() + HEADER_LENGTH, metadataLength(maxCounters));
        UnsafeBuffer values = new UnsafeBuffer(mapped.address() + HEADER_LENGTH + metadataLength(maxCounters),
                valuesLength(maxCounters));
        this.counters = new CountersManager(metadata, values, StandardCharsets.UTF_8);
        header.putIntRelease(READY_OFFSET, 1);
    }

    /**
     * The registry of this process, created on first use in {@link StatsDirectory#resolve()} as
     * {@code <pid>.stats}. If the directory cannot be written, counters still work but live in a
     * private file under java.io.tmpdir.
     */
    public static StatsRegistry process() {
        StatsRegistry current = PROCESS.get();
        if (current != null) {
            return current;
        }
        synchronized (PROCESS) {
            current = PROCESS.get();
            if (current == null) {
                Path file = StatsDirectory.resolve().resolve(ProcessHandle.current().pid() + ".stats");
                current = new StatsRegistry(file, DEFAULT_MAX_COUNTERS, false);
                StatsRegistry registry = current;
                Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(registry::close));
                PROCESS.set(current);
            }
            return current;
        }
    }

    /**
     * A registry in an explicit file (tests, or a second registry of one process). Closing it
     * unmaps the file: no counter of it may be touched afterwards.
     */
    public static StatsRegistry open(Path file, int maxCounters) {
        if (maxCounters <= 0) {
            throw new IllegalArgumentException("maxCounters must be > 0, got " + maxCounters);
        }
        return new StatsRegistry(file, maxCounters, true);
    }

    /** Allocates a counter labelled {@code label}, e.g. "lcore-0 busy iterations". */
    public synchronized AtomicCounter newCounter(String label) {
        if (closed) {
            throw new IllegalStateException("stats registry " + file + " is closed");
        }
        return counters.newCounter(label, RINGWAY_COUNTER_TYPE);
    }

    /** Frees a counter so its slot may be reused; call instead of {@link AtomicCounter#close()}. */
    public synchronized void free(AtomicCounter counter) {
        if (!closed && !counter.isClosed()) {
            counter.disconnectCountersManager();
            counters.free(counter.id());
            counter.close();
        }
    }

    /** The stats file. */
    public Path file() {
        return file;
    }

    /** Reader over this registry's counters (same process). */
    public CountersManager counters() {
        return counters;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        PROCESS.compareAndSet(this, null);
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a stale file is recognised by readers from its dead pid
        }
        // The process registry keeps its mapping to the end: counters still held by running
        // threads write through raw addresses, and an unmapped page would crash the JVM.
        if (unmapOnClose) {
            arena.close();
        }
    }

    private static String commandLine() {
        ProcessHandle.Info info = ProcessHandle.current().info();
        String cmd = System.getProperty("sun.java.command", "");
        if (cmd.isEmpty()) {
            cmd = info.commandLine().orElse("java");
        }
        return cmd;
    }

    /** Length check helper for readers: values read from the file are untrusted. */
    static boolean plausible(MemorySegment header, long fileLength) {
        if (fileLength < HEADER_LENGTH) {
            return false;
        }
        long magic = header.get(ValueLayout.JAVA_LONG_UNALIGNED, MAGIC_OFFSET);
        int meta = header.get(ValueLayout.JAVA_INT_UNALIGNED, METADATA_LENGTH_OFFSET);
        int values = header.get(ValueLayout.JAVA_INT_UNALIGNED, VALUES_LENGTH_OFFSET);
        return magic == MAGIC && meta >= 0 && values >= 0 && (long) HEADER_LENGTH + meta + values <= fileLength;
    }
}

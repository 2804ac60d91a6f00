package io.ringway.net.capture;

import io.ringway.runtime.stats.StatsRegistry;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * A packet capture: data-path threads copy packets (up to a snap length) into a preallocated
 * off-heap ring and return at once; a writer thread of its own drains the ring into a Chronicle
 * Queue journal in a directory. When the ring is full the packet is left out of the capture and
 * counted ({@code capture NAME: dropped (ring full)} in {@code ringway stats}); the data path never
 * waits for the journal.
 *
 * <p>The ring is an Agrona {@link ManyToOneRingBuffer}: a port's receive and send sides (and the
 * queues of a multi-queue port) may run on different lcores, and any of them may capture. Claiming
 * a record is one compare-and-swap on the ring's tail; no allocation, lock or log per packet.
 *
 * <p>Record layout: {@link CaptureDescriptor}. Read a journal back with {@link #read}; export it to
 * pcap with {@link PcapWriter} ({@code ringway capture export DIR --pcap FILE}).
 */
public final class CaptureJournal implements AutoCloseable {
    /** Default most bytes kept per packet: a whole packet buffer's data room. */
    public static final int DEFAULT_SNAP_LENGTH = 1984;
    /** Default ring size in bytes (a power of 2), about 2000 full-size packets. */
    public static final int DEFAULT_RING_BYTES = 4 << 20;
    private static final int DRAIN_LIMIT = 256;

    private final String name;
    private final Path dir;
    private final int snapLength;
    private final StatsRegistry stats;
    private final MemorySegment ringMemory;
    private final RingBuffer ring;
    private final long epochOffsetNanos;
    private final AtomicCounter captured;
    private final AtomicCounter dropped;
    private final AtomicCounter written;
    private final ChronicleQueue queue;
    private final Writer writer;
    private Thread writerThread;
    private volatile boolean running = true;
    private volatile Throwable writerFailure;
    private boolean closed;

    private CaptureJournal(Builder b) throws IOException {
        this.name = b.name;
        this.dir = b.dir;
        this.snapLength = b.snapLength;
        this.stats = b.stats;
        Files.createDirectories(dir);
        int length = b.ringBytes + RingBufferDescriptor.TRAILER_LENGTH;
        // An automatic arena: the ring lives as long as this object, so a data-path thread that still
        // captures after close() writes into a ring nobody drains (then drops) instead of freed memory.
        this.ringMemory = Arena.ofAuto().allocate(length, 128);
        this.ring = new ManyToOneRingBuffer(new UnsafeBuffer(ringMemory.address(), length));
        if (ring.maxMsgLength() < CaptureDescriptor.DATA_OFFSET + snapLength) {
            throw new IllegalArgumentException("a ring of " + b.ringBytes + " bytes holds records of at most "
                    + ring.maxMsgLength() + " bytes (an eighth), the snap length " + snapLength + " needs "
                    + (CaptureDescriptor.DATA_OFFSET + snapLength) + ": use a larger ring");
        }
        Instant now = Instant.now();
        this.epochOffsetNanos = now.getEpochSecond() * 1_000_000_000L + now.getNano() - System.nanoTime();
        this.captured = stats.newCounter("capture " + name + ": captured");
        this.dropped = stats.newCounter("capture " + name + ": dropped (ring full)");
        this.written = stats.newCounter("capture " + name + ": written to journal");
        this.queue = SingleChronicleQueueBuilder.binary(dir.toFile()).build();
        this.writer = new Writer();
    }

    /**
     * @param dir the journal's directory (created if needed; an existing journal is appended to)
     * @return a builder
     */
    public static Builder builder(Path dir) {
        return new Builder(dir);
    }

    /**
     * Copies one packet into the capture ring, for the data path. Never blocks, allocates, locks or logs.
     *
     * @param port       the port id recorded with it
     * @param direction  {@link CaptureDescriptor#RX} or {@link CaptureDescriptor#TX}
     * @param memory     the memory holding the packet (e.g. a mempool's)
     * @param dataOffset offset of the first packet byte in {@code memory}
     * @param length     the packet's length; bytes past the snap length are not copied
     * @return true if captured, false if the ring was full (counted as dropped)
     */
    public boolean capture(int port, int direction, MemorySegment memory, long dataOffset, int length) {
        int copy = Math.min(Math.max(length, 0), snapLength);
        int index = ring.tryClaim(direction, CaptureDescriptor.DATA_OFFSET + copy);
        if (index < 0) {
            dropped.increment();
            return false;
        }
        ringMemory.set(ValueLayout.JAVA_LONG_UNALIGNED, index + CaptureDescriptor.TIMESTAMP_OFFSET,
                epochOffsetNanos + System.nanoTime());
        ringMemory.set(ValueLayout.JAVA_INT_UNALIGNED, index + CaptureDescriptor.PORT_OFFSET, port);
        ringMemory.set(ValueLayout.JAVA_INT_UNALIGNED, index + CaptureDescriptor.ORIGINAL_LENGTH_OFFSET, length);
        MemorySegment.copy(memory, dataOffset, ringMemory, index + CaptureDescriptor.DATA_OFFSET, copy);
        ring.commit(index);
        captured.increment();
        return true;
    }

    /** Starts the writer thread (the builder does unless told not to). */
    public synchronized CaptureJournal startWriter() {
        if (writerThread == null && !closed) {
            writerThread = Thread.ofPlatform().name("capture-" + name).daemon(true).start(writer);
        }
        return this;
    }

    /** @return the snap length: most bytes kept per packet */
    public int snapLength() {
        return snapLength;
    }

    /** @return the journal's directory */
    public Path dir() {
        return dir;
    }

    /** @return packets copied into the ring */
    public long captured() {
        return captured.get();
    }

    /** @return packets left out because the ring was full */
    public long dropped() {
        return dropped.get();
    }

    /** @return packets the writer appended to the journal */
    public long written() {
        return written.get();
    }

    /** @return why the writer thread stopped early, or null */
    public Throwable writerFailure() {
        return writerFailure;
    }

    /**
     * Waits until the writer has journaled everything captured so far.
     *
     * @return true if it did within the timeout
     */
    public boolean awaitWritten(long timeout, TimeUnit unit) {
        long target = captured.get();
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (written.get() < target) {
            if (System.nanoTime() - deadline > 0 || writerFailure != null) {
                return false;
            }
            LockSupport.parkNanos(100_000);
        }
        return true;
    }

    /**
     * Stops the writer after it has drained the ring, closes the journal and frees the counters.
     * Call once no data-path thread captures: what is captured later is not journaled (the ring's
     * memory stays valid until this object is unreachable, so a late capture is harmless).
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        running = false;
        Thread t = writerThread;
        boolean writerStopped = true;
        if (t == null) {
            writer.drainOnCaller(); // never started: journal what is in the ring
        } else {
            LockSupport.unpark(t);
            try {
                t.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            writerStopped = !t.isAlive();
        }
        stats.free(captured);
        stats.free(dropped);
        stats.free(written);
        if (writerStopped) {
            // A writer stuck in the journal keeps the queue: closing it under the writer would fail it.
            queue.close();
        }
    }

    /** Drains the ring into the journal on its own thread. */
    private final class Writer implements Runnable, MessageHandler {
        private final byte[] scratch = new byte[snapLength];
        private ExcerptAppender appender;

        @Override
        public void run() {
            try {
                appender = queue.createAppender();
                int idle = 0;
                while (running) {
                    int n = ring.read(this, DRAIN_LIMIT);
                    if (n > 0) {
                        idle = 0;
                    } else if (++idle < 100) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.parkNanos(50_000);
                    }
                }
                while (ring.read(this, DRAIN_LIMIT) > 0) {
                    // the rest, after the data path stopped
                }
            } catch (Throwable t) {
                writerFailure = t;
            } finally {
                if (appender != null) {
                    appender.close();
                }
            }
        }

        void drainOnCaller() {
            appender = queue.createAppender();
            try {
                while (ring.read(this, DRAIN_LIMIT) > 0) {
                    // everything captured while no writer ran
                }
            } finally {
                appender.close();
            }
        }

        @Override
        public void onMessage(int direction, MutableDirectBuffer buffer, int index, int length) {
            int copy = length - CaptureDescriptor.DATA_OFFSET;
            buffer.getBytes(index + CaptureDescriptor.DATA_OFFSET, scratch, 0, copy);
            try (DocumentContext dc = appender.writingDocument()) {
                Bytes<?> b = dc.wire().bytes();
                b.writeByte(CaptureDescriptor.VERSION);
                b.writeByte((byte) direction);
                b.writeInt(buffer.getInt(index + CaptureDescriptor.PORT_OFFSET));
                b.writeLong(buffer.getLong(index + CaptureDescriptor.TIMESTAMP_OFFSET));
                b.writeInt(buffer.getInt(index + CaptureDescriptor.ORIGINAL_LENGTH_OFFSET));
                b.writeInt(copy);
                b.write(scratch, 0, copy);
            }
            written.increment();
        }
    }

    /**
     * Reads every record of the journal in {@code dir}, oldest first.
     *
     * @return the number of records
     * @throws IOException if {@code dir} holds no capture journal, or a record is not one of ours
     */
    public static long read(Path dir, Consumer<CaptureRecord> sink) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("no capture journal at " + dir + " (not a directory)");
        }
        try (var listing = Files.list(dir)) {
            if (listing.noneMatch(p -> p.getFileName().toString().endsWith(".cq4"))) {
                throw new IOException("no capture journal at " + dir
                        + " (no .cq4 files; record one with ringway net --capture DIR)");
            }
        }
        long n = 0;
        try (ChronicleQueue q = SingleChronicleQueueBuilder.binary(dir.toFile()).readOnly(true).build();
             ExcerptTailer tailer = q.createTailer()) {
            while (true) {
                CaptureRecord r;
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        break;
                    }
                    Bytes<?> b = dc.wire().bytes();
                    r = decode(b, dir, n);
                }
                sink.accept(r);
                n++;
            }
        }
        return n;
    }

    private static CaptureRecord decode(Bytes<?> b, Path dir, long n) throws IOException {
        long available = b.readRemaining();
        if (available < 22) {
            throw new IOException("capture journal " + dir + ": record " + n + " is " + available
                    + " bytes, shorter than a record header (22)");
        }
        byte version = b.readByte();
        if (version != CaptureDescriptor.VERSION) {
            throw new IOException("capture journal " + dir + ": record " + n + " has version " + version + ", expected "
                    + CaptureDescriptor.VERSION + " (not a capture journal?)");
        }
        int direction = b.readByte();
        int port = b.readInt();
        long timestamp = b.readLong();
        int original = b.readInt();
        int copy = b.readInt();
        if (copy < 0 || copy > b.readRemaining() || copy > original) {
            throw new IOException("capture journal " + dir + ": record " + n + " says " + copy
                    + " captured bytes of " + original + " with " + b.readRemaining() + " left");
        }
        byte[] data = new byte[copy];
        b.read(data);
        return new CaptureRecord(timestamp, port, direction, original, data);
    }

    /** Builds and starts a {@link CaptureJournal}. */
    public static final class Builder {
        private final Path dir;
        private String name = "capture";
        private int snapLength = DEFAULT_SNAP_LENGTH;
        private int ringBytes = DEFAULT_RING_BYTES;
        private StatsRegistry stats;
        private boolean startWriter = true;

        private Builder(Path dir) {
            this.dir = Objects.requireNonNull(dir, "dir");
        }

        /** Name used in the counter labels and the writer thread's name (default {@code capture}). */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Most bytes kept per packet, at least 1 (default {@value #DEFAULT_SNAP_LENGTH}). */
        public Builder snapLength(int bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("snap length must be at least 1, got " + bytes);
            }
            this.snapLength = bytes;
            return this;
        }

        /** Ring size in bytes, a power of 2 (default 4 MiB); a record may use at most an eighth. */
        public Builder ringBytes(int bytes) {
            if (bytes < 1024 || Integer.bitCount(bytes) != 1) {
                throw new IllegalArgumentException("capture ring size must be a power of 2 of at least 1024, got " + bytes);
            }
            this.ringBytes = bytes;
            return this;
        }

        /** Registry for the counters (default the process's, visible to {@code ringway stats}). */
        public Builder stats(StatsRegistry stats) {
            this.stats = stats;
            return this;
        }

        /** Whether {@link #start()} starts the writer thread (default true; tests hold it back). */
        Builder startWriter(boolean start) {
            this.startWriter = start;
            return this;
        }

        /**
         * @return the running capture
         * @throws IOException if the journal's directory cannot be created
         */
        public CaptureJournal start() throws IOException {
            if (stats == null) {
                stats = StatsRegistry.process();
            }
            CaptureJournal j = new CaptureJournal(this);
            return startWriter ? j.startWriter() : j;
        }
    }
}

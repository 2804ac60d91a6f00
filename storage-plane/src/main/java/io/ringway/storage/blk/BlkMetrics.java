package io.ringway.storage.blk;

import io.ringway.runtime.stats.StatsRegistry;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;
import org.agrona.concurrent.status.AtomicCounter;

import java.util.List;

/**
 * Counters of one virtio-blk queue, in the process's stats file ({@code ringway stats} shows them),
 * and its request latency (pop to used entry) in an HdrHistogram recorder. The queue's lcore is the
 * only writer: release stores, no lock, no allocation.
 */
public final class BlkMetrics implements AutoCloseable {
    private static final long HIGHEST_NANOS = 60_000_000_000L;

    private final StatsRegistry registry;
    final AtomicCounter reads;
    final AtomicCounter writes;
    final AtomicCounter flushes;
    final AtomicCounter others;
    final AtomicCounter bytesRead;
    final AtomicCounter bytesWritten;
    final AtomicCounter errors;
    final AtomicCounter busy;
    final AtomicCounter staleDropped;
    private final long[] errorsByRule = new long[BlkRequestError.values().length];
    private final SingleWriterRecorder latency = new SingleWriterRecorder(1, HIGHEST_NANOS, 2);
    private volatile BlkRequestError lastError;

    BlkMetrics(StatsRegistry registry, String prefix) {
        this.registry = registry;
        reads = registry.newCounter(prefix + ": reads");
        writes = registry.newCounter(prefix + ": writes");
        flushes = registry.newCounter(prefix + ": flushes");
        others = registry.newCounter(prefix + ": other requests");
        bytesRead = registry.newCounter(prefix + ": bytes read");
        bytesWritten = registry.newCounter(prefix + ": bytes written");
        errors = registry.newCounter(prefix + ": error statuses");
        busy = registry.newCounter(prefix + ": backend busy");
        staleDropped = registry.newCounter(prefix + ": completions of an earlier ring run dropped");
    }

    void error(BlkRequestError rule) {
        errors.incrementRelease();
        errorsByRule[rule.ordinal()]++;
        lastError = rule;
    }

    void latency(long nanos) {
        latency.recordValue(Math.min(Math.max(nanos, 1), HIGHEST_NANOS));
    }

    /** @return requests completed (every type) */
    public long requests() {
        return reads.get() + writes.get() + flushes.get() + others.get();
    }

    public long reads() {
        return reads.get();
    }

    public long writes() {
        return writes.get();
    }

    public long bytesRead() {
        return bytesRead.get();
    }

    public long bytesWritten() {
        return bytesWritten.get();
    }

    public long errors() {
        return errors.get();
    }

    /** @return completions dropped because the ring (or device) restarted while they were in the block device */
    public long staleDropped() {
        return staleDropped.get();
    }

    /** @return the last rule a request broke, or null */
    public BlkRequestError lastError() {
        return lastError;
    }

    /** @return how many requests broke {@code rule} (approximate while the queue runs) */
    public long errors(BlkRequestError rule) {
        return errorsByRule[rule.ordinal()];
    }

    /**
     * The latency histogram since the last call (another thread may call this while the lcore
     * records).
     *
     * @param recycle a histogram from the previous call to reuse, or null
     */
    public Histogram intervalLatency(Histogram recycle) {
        return latency.getIntervalHistogram(recycle);
    }

    /** Sums the interval latency histograms of several queues. */
    public static Histogram sumIntervalLatency(List<BlkMetrics> queues) {
        Histogram sum = new Histogram(1, HIGHEST_NANOS, 2);
        for (BlkMetrics m : queues) {
            sum.add(m.intervalLatency((Histogram) null));
        }
        return sum;
    }

    @Override
    public void close() {
        for (AtomicCounter c : List.of(reads, writes, flushes, others, bytesRead, bytesWritten, errors, busy, staleDropped)) {
            registry.free(c);
        }
    }
}

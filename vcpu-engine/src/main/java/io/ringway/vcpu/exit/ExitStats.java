package io.ringway.vcpu.exit;

import org.HdrHistogram.Histogram;
import org.agrona.concurrent.status.AtomicCounter;

import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vcpu.kvm.KvmApi;

/**
 * Per-exit-reason counts and latency histograms of one vCPU.
 *
 * <p>The latency of an exit is the time from the previous return of KVM_RUN to this one: guest
 * execution since the last exit, the exit itself, and the handling of the previous exit by the
 * run loop. For a guest that does nothing but the exiting instruction, that is the round trip.
 *
 * <p>Counts are kept twice: in a plain array the vCPU thread owns (read by others after the run,
 * or as a racy snapshot), and, when a {@link StatsRegistry} is given, in shared-memory counters
 * that {@code ringway stats} reads live ({@code vcpu.<id>.exit.<reason>}).
 */
public final class ExitStats implements AutoCloseable {
    /** Exit reasons below this have their own slot; larger ones share the last. */
    public static final int MAX_REASON = 64;
    /** The longest latency a histogram keeps: 60 s (longer values are clamped). */
    public static final long MAX_NANOS = 60_000_000_000L;

    private static final int[] COUNTED = {KvmApi.KVM_EXIT_IO, KvmApi.KVM_EXIT_MMIO, KvmApi.KVM_EXIT_HLT,
        KvmApi.KVM_EXIT_INTR, KvmApi.KVM_EXIT_SHUTDOWN, KvmApi.KVM_EXIT_INTERNAL_ERROR, KvmApi.KVM_EXIT_FAIL_ENTRY};

    private final long[] counts = new long[MAX_REASON + 1];
    private final Histogram[] histograms = new Histogram[MAX_REASON + 1];
    private final AtomicCounter[] counters = new AtomicCounter[MAX_REASON + 1];
    private final StatsRegistry registry;
    private final AtomicCounter unclaimedIo;
    private final AtomicCounter unclaimedMmio;
    private long unclaimedIoCount;
    private long unclaimedMmioCount;

    /** Stats kept in this object only. */
    public ExitStats() {
        this(null, 0);
    }

    /** Stats also published as live counters {@code vcpu.<vcpuId>.exit.<reason>} in {@code registry}. */
    public ExitStats(StatsRegistry registry, int vcpuId) {
        this.registry = registry;
        for (int reason : COUNTED) {
            histograms[reason] = newHistogram();
            if (registry != null) {
                counters[reason] = registry.newCounter("vcpu." + vcpuId + ".exit." + KvmApi.exitName(reason).substring(9).toLowerCase());
            }
        }
        unclaimedIo = registry == null ? null : registry.newCounter("vcpu." + vcpuId + ".exit.io_unclaimed");
        unclaimedMmio = registry == null ? null : registry.newCounter("vcpu." + vcpuId + ".exit.mmio_unclaimed");
    }

    private static Histogram newHistogram() {
        return new Histogram(1, MAX_NANOS, 2);
    }

    /** Records one exit of {@code reason} that took {@code nanos}. Vcpu thread only; no allocation for the usual reasons. */
    public void record(int reason, long nanos) {
        int slot = reason >= 0 && reason < MAX_REASON ? reason : MAX_REASON;
        counts[slot]++;
        Histogram h = histograms[slot];
        if (h == null) {
            h = histograms[slot] = newHistogram(); // first exit of a rare reason
        }
        h.recordValue(Math.max(1, Math.min(nanos, MAX_NANOS)));
        AtomicCounter c = counters[slot];
        if (c != null) {
            c.incrementRelease();
        }
    }

    void unclaimedIo() {
        unclaimedIoCount++;
        if (unclaimedIo != null) {
            unclaimedIo.incrementRelease();
        }
    }

    void unclaimedMmio() {
        unclaimedMmioCount++;
        if (unclaimedMmio != null) {
            unclaimedMmio.incrementRelease();
        }
    }

    /** Exits of {@code reason} so far. */
    public long count(int reason) {
        return counts[reason >= 0 && reason < MAX_REASON ? reason : MAX_REASON];
    }

    /** All exits so far. */
    public long total() {
        long sum = 0;
        for (long c : counts) {
            sum += c;
        }
        return sum;
    }

    /** PIO exits no device claimed. */
    public long unclaimedIoCount() {
        return unclaimedIoCount;
    }

    /** MMIO exits no device claimed. */
    public long unclaimedMmioCount() {
        return unclaimedMmioCount;
    }

    /** The latency histogram of {@code reason} (empty when none happened). Read it after the run. */
    public Histogram histogram(int reason) {
        Histogram h = histograms[reason >= 0 && reason < MAX_REASON ? reason : MAX_REASON];
        return h == null ? newHistogram() : h;
    }

    /** Clears counts and histograms (not the shared counters). Vcpu thread, or while it is not running. */
    public void reset() {
        java.util.Arrays.fill(counts, 0);
        for (Histogram h : histograms) {
            if (h != null) {
                h.reset();
            }
        }
        unclaimedIoCount = 0;
        unclaimedMmioCount = 0;
    }

    /** Frees the shared counters. */
    @Override
    public void close() {
        if (registry != null) {
            for (AtomicCounter c : counters) {
                if (c != null) {
                    registry.free(c);
                }
            }
            registry.free(unclaimedIo);
            registry.free(unclaimedMmio);
        }
    }
}

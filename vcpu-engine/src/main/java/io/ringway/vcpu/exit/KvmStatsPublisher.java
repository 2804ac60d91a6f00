package io.ringway.vcpu.exit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.agrona.concurrent.status.AtomicCounter;

import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vcpu.kvm.KvmStats;

/**
 * Copies some of KVM's own statistics of a vCPU or VM ({@link KvmStats}) into live counters of a
 * {@link StatsRegistry}, so {@code ringway stats} shows them beside Ringway's: labels are
 * {@code <prefix>.<kvm name>}, e.g. {@code vcpu.0.kvm.exits}. Statistics this kernel does not
 * have are left out. {@link #publish()} re-reads the stats fd (one pread) and stores the values;
 * {@link #startPeriodic} does that on a daemon thread, off the vCPU thread.
 */
public final class KvmStatsPublisher implements AutoCloseable {
    /** What {@code ringway vm} publishes per vCPU. */
    public static final List<String> VCPU_DEFAULTS = List.of("exits", "halt_exits", "halt_wakeup", "io_exits", "mmio_exits",
        "irq_exits", "irq_injections", "insn_emulation", "signal_exits", "pf_taken", "blocking");

    private final KvmStats stats;
    private final StatsRegistry registry;
    private final int[] indexes;
    private final AtomicCounter[] counters;
    private volatile Thread periodic;
    private volatile boolean closed;

    /** Counters {@code prefix.name} for each of {@code names} that {@code stats} has. */
    public KvmStatsPublisher(KvmStats stats, StatsRegistry registry, String prefix, List<String> names) {
        this.stats = stats;
        this.registry = registry;
        List<Integer> found = new ArrayList<>();
        List<AtomicCounter> made = new ArrayList<>();
        for (String name : names) {
            int i = stats.indexOf(name);
            if (i >= 0 && stats.descriptors().get(i).isScalar()) {
                found.add(i);
                made.add(registry.newCounter(prefix + "." + name));
            }
        }
        this.indexes = found.stream().mapToInt(Integer::intValue).toArray();
        this.counters = made.toArray(new AtomicCounter[0]);
        publish();
    }

    /** Labels published, in order (control plane). */
    public List<String> published() {
        List<String> names = new ArrayList<>();
        for (int i : indexes) {
            names.add(stats.descriptors().get(i).name());
        }
        return names;
    }

    /** Re-reads KVM's values and stores them in the counters. */
    public synchronized void publish() {
        if (closed) {
            return;
        }
        stats.refresh();
        for (int k = 0; k < indexes.length; k++) {
            counters[k].setRelease(stats.value(indexes[k]));
        }
    }

    /** Publishes every {@code period} on a daemon thread until {@link #close()}. */
    public synchronized void startPeriodic(Duration period, String threadName) {
        if (periodic != null) {
            throw new IllegalStateException("already publishing periodically");
        }
        long millis = Math.max(1, period.toMillis());
        periodic = Thread.ofPlatform().name(threadName).daemon(true).start(() -> {
            while (!closed) {
                try {
                    Thread.sleep(millis);
                } catch (InterruptedException e) {
                    return;
                }
                try {
                    publish();
                } catch (RuntimeException e) {
                    return; // the stats fd went away with its VM: stop quietly, the last values stay
                }
            }
        });
    }

    /** Publishes a last time, stops the thread and frees the counters (the {@link KvmStats} stays open: its owner closes it). */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            if (closed) {
                return;
            }
            try {
                publish();
            } catch (RuntimeException ignored) {
                // the stats fd is gone: keep the last values
            }
            closed = true;
            t = periodic;
        }
        if (t != null) {
            t.interrupt();
            try {
                t.join(1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (AtomicCounter c : counters) {
            registry.free(c);
        }
    }
}

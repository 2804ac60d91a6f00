package io.ringway.net.l2switch;

import io.ringway.runtime.stats.StatsRegistry;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * One switch port's counters in a {@link StatsRegistry} (visible to {@code ringway stats}), written
 * by the switch's lcore only.
 * <ul>
 *   <li>{@code rx}: frames the switch took from the port.</li>
 *   <li>{@code tx}: frames the port took from the switch (forwarded and flooded).</li>
 *   <li>{@code flooded}: frames from this port sent to every other port (group or unknown destination).</li>
 *   <li>{@code learned}: source addresses learned on this port, new or moved here.</li>
 *   <li>{@code dropped}: frames from this port dropped: destination on this same port, shorter than an
 *       Ethernet header, or flooded with no other port.</li>
 *   <li>{@code tx dropped}: frames for this port that never left: the port refused them, or no
 *       buffer was free for a flood copy.</li>
 *   <li>{@code tx zero-copy}: the part of {@code tx} copied straight from the sending guest's buffer
 *       into this port's guest buffer ({@link L2Switch#fuse}).</li>
 * </ul>
 */
public final class SwitchPortCounters implements AutoCloseable {
    private final StatsRegistry registry;
    public final AtomicCounter rx;
    public final AtomicCounter tx;
    public final AtomicCounter flooded;
    public final AtomicCounter learned;
    public final AtomicCounter dropped;
    public final AtomicCounter txDropped;
    public final AtomicCounter txZeroCopy;

    /**
     * @param registry where the counters live
     * @param port     the port's name, used in the labels
     */
    public SwitchPortCounters(StatsRegistry registry, String port) {
        this.registry = registry;
        String p = "switch port " + port + ": ";
        rx = registry.newCounter(p + "rx");
        tx = registry.newCounter(p + "tx");
        flooded = registry.newCounter(p + "flooded");
        learned = registry.newCounter(p + "learned");
        dropped = registry.newCounter(p + "dropped");
        txDropped = registry.newCounter(p + "tx dropped");
        txZeroCopy = registry.newCounter(p + "tx zero-copy");
    }

    @Override
    public void close() {
        for (AtomicCounter c : new AtomicCounter[] {rx, tx, flooded, learned, dropped, txDropped, txZeroCopy}) {
            registry.free(c);
        }
    }

    @Override
    public String toString() {
        return "rx " + rx.get() + ", tx " + tx.get() + ", flooded " + flooded.get() + ", learned " + learned.get()
                + ", dropped " + dropped.get() + ", tx dropped " + txDropped.get() + ", tx zero-copy " + txZeroCopy.get();
    }
}

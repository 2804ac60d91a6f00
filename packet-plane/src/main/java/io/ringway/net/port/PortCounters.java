package io.ringway.net.port;

import io.ringway.runtime.stats.StatsRegistry;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * Per-port counters in a {@link StatsRegistry} (visible to {@code ringway stats}): packets and
 * bytes received and sent, and packets dropped on the way out (the port or the forwarding engine
 * could not send them) or on the way in.
 */
public final class PortCounters implements AutoCloseable {
    private final StatsRegistry registry;
    public final AtomicCounter rxPackets;
    public final AtomicCounter rxBytes;
    public final AtomicCounter txPackets;
    public final AtomicCounter txBytes;
    public final AtomicCounter txDrops;
    public final AtomicCounter rxDrops;

    /**
     * @param registry where the counters live
     * @param port     the port's name, used in the labels
     */
    public PortCounters(StatsRegistry registry, String port) {
        this.registry = registry;
        String p = "port " + port + ": ";
        rxPackets = registry.newCounter(p + "rx packets");
        rxBytes = registry.newCounter(p + "rx bytes");
        txPackets = registry.newCounter(p + "tx packets");
        txBytes = registry.newCounter(p + "tx bytes");
        txDrops = registry.newCounter(p + "tx dropped");
        rxDrops = registry.newCounter(p + "rx dropped");
    }

    @Override
    public void close() {
        for (AtomicCounter c : new AtomicCounter[] {rxPackets, rxBytes, txPackets, txBytes, txDrops, rxDrops}) {
            registry.free(c);
        }
    }

    @Override
    public String toString() {
        return "rx " + rxPackets.get() + " pkts / " + rxBytes.get() + " B, tx " + txPackets.get() + " pkts / "
                + txBytes.get() + " B, tx dropped " + txDrops.get() + ", rx dropped " + rxDrops.get();
    }
}

package io.ringway.net.device;

import io.ringway.runtime.stats.StatsRegistry;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * Counters of one {@link VirtioNetDevice}, in a {@link StatsRegistry} so that {@code ringway stats}
 * shows them live. Directions use the virtio words: <em>transmit</em> is guest to device (the
 * transmitq, vring 2k+1), <em>receive</em> is device to guest (the receiveq, vring 2k). Updated once
 * per burst on the data path.
 */
public final class VirtioNetMetrics implements AutoCloseable {
    private final StatsRegistry registry;
    /** Packets taken from the guest's transmit queues and handed on. */
    public final AtomicCounter txPackets;
    /** Bytes of those packets (Ethernet frames, without the net header). */
    public final AtomicCounter txBytes;
    /** Transmit chains shorter than the virtio-net header: dropped. */
    public final AtomicCounter txDropShortHeader;
    /** Transmit chains with a header and no packet bytes: dropped. */
    public final AtomicCounter txDropEmpty;
    /** Transmit packets larger than a packet buffer: dropped. */
    public final AtomicCounter txDropOversize;
    /** Transmit packets dropped because the packet pool was empty. */
    public final AtomicCounter txDropNoBuffer;
    /** Packets written into the guest's receive buffers. */
    public final AtomicCounter rxPackets;
    /** Bytes of those packets (without the net header). */
    public final AtomicCounter rxBytes;
    /** Packets dropped because the guest's receive buffers could not hold them. */
    public final AtomicCounter rxDropBufferTooSmall;
    /** Packets dropped because the device was reset or the memory table changed while they waited. */
    public final AtomicCounter rxDropReset;
    /** Control commands answered VIRTIO_NET_OK. */
    public final AtomicCounter ctrlOk;
    /** Control commands answered VIRTIO_NET_ERR (unknown, not negotiated, malformed). */
    public final AtomicCounter ctrlErr;
    /** Control chains that had no room for the ack byte: dropped. */
    public final AtomicCounter ctrlDropMalformed;

    VirtioNetMetrics(StatsRegistry registry, String name) {
        this.registry = registry;
        String p = "net " + name + ": ";
        txPackets = registry.newCounter(p + "guest tx packets");
        txBytes = registry.newCounter(p + "guest tx bytes");
        txDropShortHeader = registry.newCounter(p + "guest tx dropped: chain shorter than net header");
        txDropEmpty = registry.newCounter(p + "guest tx dropped: empty packet");
        txDropOversize = registry.newCounter(p + "guest tx dropped: larger than a packet buffer");
        txDropNoBuffer = registry.newCounter(p + "guest tx dropped: packet pool empty");
        rxPackets = registry.newCounter(p + "guest rx packets");
        rxBytes = registry.newCounter(p + "guest rx bytes");
        rxDropBufferTooSmall = registry.newCounter(p + "guest rx dropped: receive buffers too small");
        rxDropReset = registry.newCounter(p + "guest rx dropped: device reset");
        ctrlOk = registry.newCounter(p + "control commands ok");
        ctrlErr = registry.newCounter(p + "control commands err");
        ctrlDropMalformed = registry.newCounter(p + "control chains dropped: no ack byte");
    }

    /** Frees the counters. */
    @Override
    public void close() {
        for (AtomicCounter c : new AtomicCounter[] {txPackets, txBytes, txDropShortHeader, txDropEmpty, txDropOversize,
                txDropNoBuffer, rxPackets, rxBytes, rxDropBufferTooSmall, rxDropReset, ctrlOk, ctrlErr, ctrlDropMalformed}) {
            registry.free(c);
        }
    }
}

package io.ringway.net.port;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.ring.SpscRing;
import io.ringway.runtime.stats.StatsRegistry;

/**
 * A port over a {@link VirtioNetDevice}: queue {@code q} is the device's queue pair {@code q}.
 * Receiving takes the packets the guest transmitted; sending queues packets for the guest's
 * receive buffers, and takes none while no front-end has the device active (the caller frees
 * them and counts them dropped).
 */
public final class VhostUserPort implements Port, AutoCloseable {
    private final String name;
    private final VirtioNetDevice device;
    private final Mempool pool;
    private final SpscRing[] in;
    private final SpscRing[] out;
    private final PortCounters counters;

    /**
     * @param name   port name for counters
     * @param device the device whose queue pairs this port serves
     * @param stats  registry for the port counters
     */
    public VhostUserPort(String name, VirtioNetDevice device, StatsRegistry stats) {
        this.name = name;
        this.device = device;
        this.pool = device.pool();
        int pairs = device.maxQueuePairs();
        this.in = new SpscRing[pairs];
        this.out = new SpscRing[pairs];
        for (int k = 0; k < pairs; k++) {
            in[k] = device.fromGuest(k);
            out[k] = device.toGuest(k);
        }
        this.counters = new PortCounters(stats, name);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int queueCount() {
        return in.length;
    }

    @Override
    public Mempool pool() {
        return pool;
    }

    /** @return the device */
    public VirtioNetDevice device() {
        return device;
    }

    @Override
    public int rxBurst(int queue, long[] packets, int off, int max) {
        int n = in[queue].dequeueBurst(packets, off, max);
        if (n > 0) {
            counters.rxPackets.getAndAdd(n);
            counters.rxBytes.getAndAdd(Mbuf.totalLength(pool, packets, off, n));
        }
        return n;
    }

    @Override
    public int txBurst(int queue, long[] packets, int off, int n) {
        if (!device.isActive()) {
            return 0;
        }
        int sent = out[queue].enqueueBurst(packets, off, n);
        if (sent > 0) {
            counters.txPackets.getAndAdd(sent);
            counters.txBytes.getAndAdd(Mbuf.totalLength(pool, packets, off, sent));
        }
        return sent;
    }

    /** Counts packets a {@link VirtioNetDevice.LocalStream} took from queue {@code queue} as received. */
    public void countRx(long[] packets, int off, int n) {
        counters.rxPackets.getAndAdd(n);
        counters.rxBytes.getAndAdd(Mbuf.totalLength(pool, packets, off, n));
    }

    /**
     * {@link #txBurst} for a {@link VirtioNetDevice.LocalStream} of queue {@code queue}, inside its
     * calls on the device's lcore: to the device's lcore-local queue instead of the ring.
     */
    public int txBurstLocal(int queue, long[] packets, int off, int n) {
        int sent = device.deliverLocal(queue, packets, off, n);
        if (sent > 0) {
            counters.txPackets.getAndAdd(sent);
            counters.txBytes.getAndAdd(Mbuf.totalLength(pool, packets, off, sent));
        }
        return sent;
    }

    @Override
    public int txRoom(int queue) {
        if (!device.isActive()) {
            return 0;
        }
        return out[queue].capacity() - out[queue].size();
    }

    @Override
    public PortCounters counters() {
        return counters;
    }

    @Override
    public void close() {
        counters.close();
    }
}

package io.ringway.net.port;

import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.ring.SpscRing;
import io.ringway.runtime.stats.StatsRegistry;

/**
 * An in-process port made of SPSC rings, one pair per queue: what is sent into one end of a
 * {@link #pair} arrives at the other (DPDK's {@code net_ring}). Packet buffers still in the rings
 * when the ports close go back to the pool.
 */
public final class RingPort implements Port, AutoCloseable {
    private final String name;
    private final Mempool pool;
    private final SpscRing[] in;
    private final SpscRing[] out;
    private final PortCounters counters;
    private final boolean ownsRings;

    private RingPort(String name, Mempool pool, SpscRing[] in, SpscRing[] out, StatsRegistry stats, boolean ownsRings) {
        this.name = name;
        this.pool = pool;
        this.in = in;
        this.out = out;
        this.ownsRings = ownsRings;
        this.counters = new PortCounters(stats, name);
    }

    /**
     * Two connected ports: {@code a}'s transmit rings are {@code b}'s receive rings and the other
     * way round.
     *
     * @param capacity ring capacity, a power of 2
     * @return {@code {a, b}}
     */
    public static RingPort[] pair(String a, String b, int queues, int capacity, Mempool pool, StatsRegistry stats) {
        SpscRing[] ab = new SpscRing[queues];
        SpscRing[] ba = new SpscRing[queues];
        for (int q = 0; q < queues; q++) {
            ab[q] = SpscRing.allocate(capacity);
            ba[q] = SpscRing.allocate(capacity);
        }
        return new RingPort[] {new RingPort(a, pool, ba, ab, stats, true), new RingPort(b, pool, ab, ba, stats, false)};
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
        int sent = out[queue].enqueueBurst(packets, off, n);
        if (sent > 0) {
            counters.txPackets.getAndAdd(sent);
            counters.txBytes.getAndAdd(Mbuf.totalLength(pool, packets, off, sent));
        }
        return sent;
    }

    @Override
    public int txRoom(int queue) {
        return out[queue].capacity() - out[queue].size();
    }

    @Override
    public PortCounters counters() {
        return counters;
    }

    /** Frees the counters; the first port of a pair also drains and frees the rings of both directions. */
    @Override
    public void close() {
        counters.close();
        if (ownsRings) {
            long[] drain = new long[32];
            for (SpscRing[] rings : new SpscRing[][] {in, out}) {
                for (SpscRing r : rings) {
                    int n;
                    while ((n = r.dequeueBurst(drain, 0, drain.length)) > 0) {
                        pool.freeBulk(null, drain, 0, n);
                    }
                    r.close();
                }
            }
        }
    }
}

package io.ringway.net.port;

import io.ringway.runtime.mem.Mempool;

/**
 * A packet port in the manner of a DPDK ethdev: bursts of packet buffer handles in and out, per
 * queue. {@link #rxBurst} hands the caller packets that arrived at the port (the caller owns them
 * and must send or free them); {@link #txBurst} takes packets to send out of the port and returns
 * how many it took (the caller still owns the rest).
 *
 * <p>Each queue has one reader and one writer thread at a time. No method allocates, locks or logs.
 */
public interface Port {

    /** @return the port's name, e.g. {@code vhost0} */
    String name();

    /** @return the number of queues (queue pairs) */
    int queueCount();

    /** @return the pool the port's packet buffers come from */
    Mempool pool();

    /**
     * Takes up to {@code max} packets that arrived on queue {@code queue}.
     *
     * @return the number of handles written to {@code packets[off ..]}
     */
    int rxBurst(int queue, long[] packets, int off, int max);

    /**
     * Sends packets out of queue {@code queue}.
     *
     * @return how many of {@code packets[off .. off+n)} the port took (from the start)
     */
    int txBurst(int queue, long[] packets, int off, int n);

    /**
     * How many packets {@link #txBurst} would take on queue {@code queue} now, at least (a hint for
     * generators, so that they do not build packets only to drop them).
     *
     * @return free room, or {@link Integer#MAX_VALUE} when the port cannot tell
     */
    default int txRoom(int queue) {
        return Integer.MAX_VALUE;
    }

    /** @return the port's counters */
    PortCounters counters();
}

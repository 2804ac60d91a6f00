package io.ringway.net.forward;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.port.Port;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.poll.Poller;
import io.ringway.vhost.virtio.SimpleChains;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One testpmd forwarding stream as an lcore {@link Poller}: receives a burst from
 * {@code (rxPort, rxQueue)}, applies the mode, and sends to {@code (txPort, txQueue)}; what the
 * transmit port does not take is freed and counted as the transmit port's drops.
 *
 * <p>Owns a mempool cache; runs on one lcore. No allocation, lock or log per burst.
 */
public final class ForwardingStream implements Poller, VirtioNetDevice.LocalStream, AutoCloseable {
    /** Packets per burst. */
    public static final int BURST = 32;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final ForwardingMode mode;
    private final Port rxPort;
    private final int rxQueue;
    private final Port txPort;
    private final int txQueue;
    private final Mempool pool;
    private final MemorySegment memory;
    private final Mempool.Cache cache;
    private final boolean ownsCache;
    private final long[] burst = new long[BURST];
    private final UdpPacketTemplate template;
    /** Set while the stream runs inside its device's queue processing ({@link #runLocal}): lcore-owned. */
    private VhostUserPort localPort;

    /**
     * @param mode     the mode
     * @param rxPort   where packets come from (unused by txonly)
     * @param rxQueue  its queue
     * @param txPort   where packets go (unused by rxonly; macswap uses rxPort)
     * @param txQueue  its queue
     * @param template the frame txonly sends (null for other modes)
     */
    public ForwardingStream(ForwardingMode mode, Port rxPort, int rxQueue, Port txPort, int txQueue,
            UdpPacketTemplate template) {
        this(mode, rxPort, rxQueue, txPort, txQueue, template, null);
    }

    /**
     * As {@link #ForwardingStream(ForwardingMode, Port, int, Port, int, UdpPacketTemplate)}, with
     * the mempool cache of the lcore the stream will run on (shared with the other streams and
     * devices of that lcore; the caller closes it); null for a cache of the stream's own.
     */
    public ForwardingStream(ForwardingMode mode, Port rxPort, int rxQueue, Port txPort, int txQueue,
            UdpPacketTemplate template, Mempool.Cache lcoreCache) {
        if (mode == ForwardingMode.SWITCH) {
            throw new IllegalArgumentException("switch mode is an L2Switch over all ports, not a stream");
        }
        this.mode = mode;
        this.rxPort = rxPort;
        this.rxQueue = rxQueue;
        this.txPort = mode == ForwardingMode.MACSWAP ? rxPort : txPort;
        this.txQueue = mode == ForwardingMode.MACSWAP ? rxQueue : txQueue;
        this.pool = (rxPort != null ? rxPort : txPort).pool();
        this.memory = pool.memory();
        this.ownsCache = lcoreCache == null;
        this.cache = ownsCache ? pool.createCache(2 * BURST) : lcoreCache;
        if (mode == ForwardingMode.TXONLY && template == null) {
            throw new IllegalArgumentException("txonly needs a packet template");
        }
        this.template = template;
    }

    /**
     * Whether this stream can run inside its vhost-user device's queue processing (rxonly, txonly,
     * macswap on one vhost-user port) when it shares the device's lcore.
     */
    public boolean canRunLocal() {
        return switch (mode) {
            case RXONLY, MACSWAP -> rxPort instanceof VhostUserPort;
            case TXONLY -> txPort instanceof VhostUserPort;
            default -> false;
        };
    }

    /** @return the device and queue pair to attach to with {@link VirtioNetDevice#attachLocal} */
    public VhostUserPort localPort() {
        return (VhostUserPort) (mode == ForwardingMode.TXONLY ? txPort : rxPort);
    }

    /** @return the queue pair for {@link VirtioNetDevice#attachLocal} */
    public int localQueue() {
        return mode == ForwardingMode.TXONLY ? txQueue : rxQueue;
    }

    /**
     * Attaches this stream to its device's queue pair in place of a poller, or detaches it (on the
     * device's lcore: {@link io.ringway.runtime.poll.Lcore#execute}).
     */
    public void runLocal(boolean on) {
        VhostUserPort p = localPort();
        localPort = on ? p : null;
        p.device().attachLocal(localQueue(), on ? this : null);
    }

    @Override
    public void fromGuest(int pair, long[] packets, int n) {
        VhostUserPort p = localPort;
        p.countRx(packets, 0, n);
        if (mode == ForwardingMode.MACSWAP) {
            swap(packets, n);
            int sent = p.txBurstLocal(pair, packets, 0, n);
            if (sent < n) {
                pool.freeBulk(cache, packets, sent, n - sent);
                p.counters().txDrops.getAndAdd(n - sent);
            }
        } else {
            pool.freeBulk(cache, packets, 0, n);
        }
    }

    @Override
    public int fromGuestBurst(int pair, SimpleChains frames, int n, int headerLength) {
        VhostUserPort p = localPort;
        int k;
        if (mode == ForwardingMode.RXONLY) {
            // Consumed where they lie: counted, and the buffers go back to the guest.
            k = n;
        } else if (mode == ForwardingMode.MACSWAP) {
            // One copy each, guest transmit buffer to guest receive buffer, addresses swapped on the way.
            k = p.device().receiveBurstSwapped(pair, frames, 0, n, headerLength);
        } else {
            return 0;
        }
        if (k > 0) {
            long bytes = 0;
            for (int i = 0; i < k; i++) {
                bytes += frames.length[i] - headerLength;
            }
            p.counters().rxPackets.getAndAdd(k);
            p.counters().rxBytes.getAndAdd(bytes);
            if (mode == ForwardingMode.MACSWAP) {
                p.counters().txPackets.getAndAdd(k);
                p.counters().txBytes.getAndAdd(bytes);
            }
        }
        return k;
    }

    @Override
    public int beforeReceive(int pair) {
        if (mode != ForwardingMode.TXONLY) {
            return 0;
        }
        VhostUserPort p = localPort;
        // Straight into the guest's buffers: no packet buffer to fill, queue and free.
        int n = p.device().generateLocal(pair, template.frame(), template.length(), BURST);
        if (n > 0) {
            p.counters().txPackets.getAndAdd(n);
            p.counters().txBytes.getAndAdd((long) n * template.length());
            return n;
        }
        // Build packet buffers only when the guest has taken what was built: few in flight, hot.
        return n < 0 && p.device().localQueued(pair) == 0 ? txOnly() : 0;
    }

    @Override
    public int doWork() {
        return switch (mode) {
            case RXONLY -> rxOnly();
            case TXONLY -> txOnly();
            case IO -> io(false);
            case MACSWAP -> io(true);
            case SWITCH -> throw new IllegalStateException("unreachable: rejected by the constructor");
        };
    }

    private int rxOnly() {
        int n = rxPort.rxBurst(rxQueue, burst, 0, BURST);
        if (n > 0) {
            pool.freeBulk(cache, burst, 0, n);
        }
        return n;
    }

    private int txOnly() {
        // Build no more than the port can take now; testpmd builds a full burst and drops the rest.
        int room = localPort != null ? localPort.device().localRoom(txQueue) : txPort.txRoom(txQueue);
        if (room < BURST || !pool.allocBulk(cache, burst, 0, BURST)) {
            return 0;
        }
        MemorySegment frame = template.frame();
        int length = template.length();
        for (int i = 0; i < BURST; i++) {
            long offset = pool.offset(burst[i]);
            MemorySegment.copy(frame, 0, memory, Mbuf.data(offset), length);
            Mbuf.length(memory, offset, length);
        }
        return send(BURST);
    }

    private int io(boolean swap) {
        int n = rxPort.rxBurst(rxQueue, burst, 0, BURST);
        if (n == 0) {
            return 0;
        }
        if (swap) {
            swap(burst, n);
        }
        send(n);
        return n;
    }

    private void swap(long[] b, int n) {
        for (int i = 0; i < n; i++) {
            long data = Mbuf.data(pool.offset(b[i]));
            if (Mbuf.length(memory, data - io.ringway.net.packet.MbufDescriptor.DATA_OFFSET) >= 12) {
                // dst = bytes 0..5, src = bytes 6..11
                int d0 = memory.get(INT, data);
                short d1 = memory.get(SHORT, data + 4);
                memory.set(INT, data, memory.get(INT, data + 6));
                memory.set(SHORT, data + 4, memory.get(SHORT, data + 10));
                memory.set(INT, data + 6, d0);
                memory.set(SHORT, data + 10, d1);
            }
        }
    }

    private int send(int n) {
        VhostUserPort lp = localPort;
        int sent = lp != null ? lp.txBurstLocal(txQueue, burst, 0, n) : txPort.txBurst(txQueue, burst, 0, n);
        if (sent < n) {
            pool.freeBulk(cache, burst, sent, n - sent);
            txPort.counters().txDrops.getAndAdd(n - sent);
        }
        return sent;
    }

    /** Returns the stream's cached buffers to the pool. Call once the stream no longer runs. */
    @Override
    public void close() {
        if (ownsCache) {
            cache.close();
        }
    }

    @Override
    public String name() {
        return mode.name().toLowerCase(java.util.Locale.ROOT) + " " + (rxPort != null ? rxPort.name() + "/" + rxQueue : "")
                + " -> " + (txPort != null ? txPort.name() + "/" + txQueue : "");
    }
}

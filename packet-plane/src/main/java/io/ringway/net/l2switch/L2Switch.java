package io.ringway.net.l2switch;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.packet.Mbuf;
import io.ringway.net.packet.MbufDescriptor;
import io.ringway.net.port.Port;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.poll.Poller;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.virtio.SimpleChains;
import org.agrona.concurrent.status.AtomicCounter;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * An L2 learning switch (IEEE 802.1D transparent bridging, without spanning tree) over any set of
 * {@link Port}s, as an lcore {@link Poller}.
 *
 * <p>Per frame: learn the source address on the ingress port ({@link MacTable}: ageing, moves,
 * full-table policy); then a group destination (broadcast, multicast) or an unknown one is flooded
 * to every port but the ingress one; a known destination on another port is forwarded there; a
 * known destination on the ingress port is dropped (802.1D 7.7.1: a frame is not sent back out of
 * the port it came in on).
 *
 * <p>Flooding needs one buffer per output port: the ingress buffer goes to one output and the
 * others get copies from the pool; a copy that finds the pool empty is counted as that port's
 * {@code tx dropped}. Output is batched: a receive burst is sorted into one burst per output port,
 * then each port gets one {@link Port#txBurst}; what a port refuses is freed and counted.
 *
 * <p>Every queue of every port is polled; frames leave on queue 0. The switch, its table and its
 * mempool cache belong to one lcore. No allocation, lock or log per frame.
 *
 * <p>Zero-copy path ({@link #fuse}): with the switch on the lcore that serves its
 * {@link VhostUserPort}s' devices, each device hands the switch the frames its guest sends while
 * they are still in the guest's transmit buffers ({@link VirtioNetDevice.SwitchIngress}). A frame
 * to a learned unicast address on another vhost-user port is copied once, from one guest's buffer
 * straight into the other guest's receive buffer, and both buffers go back in batches (one used
 * index store per burst and queue); no packet buffer, no ring. Everything else — group and
 * unknown destinations (flooding), ports that are not vhost-user, a destination with no free
 * receive buffer or with packets still queued — takes the packet-buffer path above, in order.
 */
public final class L2Switch implements Poller, AutoCloseable {
    /** Frames per receive burst. */
    public static final int BURST = 32;
    /** Default MAC table capacity. */
    public static final int DEFAULT_MAC_TABLE_CAPACITY = 4096;
    /** Default age of a MAC table entry (802.1D's default ageing time). */
    public static final Duration DEFAULT_AGE = Duration.ofSeconds(300);
    /** Ethernet header: destination, source, EtherType. */
    private static final int ETHERNET_HEADER = 14;
    private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort SHORT_BE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int TX_QUEUE = 0;

    private final String name;
    private final Port[] ports;
    private final int[] queues;
    private final SwitchPortCounters[] counters;
    private final MacTable table;
    private final LongSupplier clock;
    private final Mempool pool;
    private final MemorySegment memory;
    private final Mempool.Cache cache;
    private final boolean ownsCache;
    private final StatsRegistry stats;
    private final AtomicCounter macMoves;
    private final AtomicCounter macTableFull;
    private final long[] rx = new long[BURST];
    private final long[][] out;
    private final int[] outCount;
    /** For each ingress port, the output that gets the original buffer of a flood (the others get copies). */
    private final int[] floodLast;
    /** Zero-copy path: the device of each vhost-user port (null for other ports) and its ingress. */
    private final VirtioNetDevice[] devices;
    private final Ingress[] ingress;
    // Zero-copy counts of the current burst, per port, added to the counters at its end (lcore-owned).
    private final int[] directRx;
    private final long[] directRxBytes;
    private final int[] directDropped;
    private final int[] directTx;
    private final long[] directTxBytes;
    private final int[] directTxDropped;
    /** Per input port: where its last zero-copy frame went (-1: none yet), the receive queue read ahead next burst. */
    private final int[] lastDirect;
    private final boolean[] touched;
    private boolean burstOpen;
    private long burstNow;
    /** While fused: a vhost-user port's packet-buffer ring may hold frames (its device said so); others are not polled. */
    private final boolean[] ringPending;
    private boolean fusedOn;
    // Within one zero-copy burst (one clock reading) the table changes only when a new source is
    // learned: the last source learned and the last destination looked up are remembered until then.
    private long burstSrc = NO_MAC;
    private int burstSrcPort = -1;
    private long burstDst = NO_MAC;
    private int burstDstPort;
    /** Not a MAC address (those have 48 bits). */
    private static final long NO_MAC = -1;
    /** {@link #switchBurst}: each frame's destination port, or {@link #DROP}. */
    private final int[] burstTo = new int[VirtioNetDevice.BURST];
    private static final int DROP = -1;

    private L2Switch(Builder b) {
        this.name = b.name;
        this.ports = b.ports.toArray(new Port[0]);
        this.stats = b.stats;
        int n = ports.length;
        this.queues = new int[n];
        this.counters = new SwitchPortCounters[n];
        this.out = new long[n][BURST];
        this.outCount = new int[n];
        this.floodLast = new int[n];
        this.pool = ports[0].pool();
        for (int i = 0; i < n; i++) {
            if (ports[i].pool() != pool) {
                throw new IllegalArgumentException("every switch port must use the same mempool: " + ports[i].name()
                        + " does not share " + ports[0].name() + "'s");
            }
            queues[i] = ports[i].queueCount();
            floodLast[i] = i == n - 1 ? n - 2 : n - 1;
        }
        this.devices = new VirtioNetDevice[n];
        this.ingress = new Ingress[n];
        for (int i = 0; i < n; i++) {
            if (ports[i] instanceof VhostUserPort v) {
                devices[i] = v.device();
                ingress[i] = new Ingress(i);
            }
        }
        this.directRx = new int[n];
        this.directRxBytes = new long[n];
        this.directDropped = new int[n];
        this.directTx = new int[n];
        this.directTxBytes = new long[n];
        this.directTxDropped = new int[n];
        this.lastDirect = new int[n];
        java.util.Arrays.fill(lastDirect, -1);
        this.touched = new boolean[n];
        this.ringPending = new boolean[n];
        this.memory = pool.memory();
        this.table = new MacTable(b.macTableCapacity, b.age.toNanos());
        this.clock = b.clock;
        this.ownsCache = b.cache == null;
        this.cache = ownsCache ? pool.createCache(2 * BURST) : b.cache;
        this.macMoves = stats.newCounter(name + ": mac moves");
        this.macTableFull = stats.newCounter(name + ": mac table full (not learned)");
        for (int i = 0; i < n; i++) {
            counters[i] = new SwitchPortCounters(stats, ports[i].name());
        }
    }

    /**
     * @param stats registry for the switch's counters
     * @return a builder
     */
    public static Builder builder(StatsRegistry stats) {
        return new Builder(stats);
    }

    @Override
    public int doWork() {
        long now = 0;
        int total = 0;
        for (int i = 0; i < ports.length; i++) {
            Port port = ports[i];
            boolean skip = fusedOn && devices[i] != null;
            if (skip && !ringPending[i]) {
                // Fused: this port's device hands frames to the ring only when it said so (endBurst).
                continue;
            }
            int before = total;
            for (int q = 0; q < queues[i]; q++) {
                int n = port.rxBurst(q, rx, 0, BURST);
                if (n == 0) {
                    continue;
                }
                if (total == 0) {
                    // One clock reading per call, and none on an idle poll.
                    now = clock.getAsLong();
                }
                total += n;
                counters[i].rx.getAndAddRelease(n);
                for (int k = 0; k < n; k++) {
                    switchFrame(i, rx[k], now);
                }
                flush();
            }
            if (skip && total == before) {
                ringPending[i] = false;
            }
        }
        return total;
    }

    private void switchFrame(int in, long handle, long now) {
        long offset = pool.offset(handle);
        int length = Mbuf.length(memory, offset);
        if (length < ETHERNET_HEADER) {
            pool.free(cache, handle);
            counters[in].dropped.incrementRelease();
            return;
        }
        long data = Mbuf.data(offset);
        long dst = mac(data);
        long src = mac(data + 6);
        if (!MacTable.isGroup(src)) {
            // A group source address is invalid (802.1D 7.8): forward the frame, learn nothing.
            learn(in, src, now);
        }
        int to = MacTable.isGroup(dst) ? MacTable.NO_PORT : table.lookup(dst, now);
        if (to == MacTable.NO_PORT) {
            flood(in, handle, offset, length);
        } else if (to == in) {
            pool.free(cache, handle);
            counters[in].dropped.incrementRelease();
        } else {
            out[to][outCount[to]++] = handle;
        }
    }

    private void learn(int in, long src, long now) {
        switch (table.learn(src, in, now)) {
            case MacTable.LEARNED -> counters[in].learned.incrementRelease();
            case MacTable.MOVED -> {
                counters[in].learned.incrementRelease();
                macMoves.incrementRelease();
            }
            case MacTable.FULL -> macTableFull.incrementRelease();
            default -> {
            }
        }
    }

    private void flood(int in, long handle, long offset, int length) {
        if (ports.length == 1) {
            pool.free(cache, handle);
            counters[in].dropped.incrementRelease();
            return;
        }
        counters[in].flooded.incrementRelease();
        int last = floodLast[in];
        for (int j = 0; j < ports.length; j++) {
            if (j == in || j == last) {
                continue;
            }
            long copy = pool.alloc(cache);
            if (copy == Mempool.NO_HANDLE) {
                counters[j].txDropped.incrementRelease();
                continue;
            }
            MemorySegment.copy(memory, offset, memory, pool.offset(copy), MbufDescriptor.DATA_OFFSET + length);
            out[j][outCount[j]++] = copy;
        }
        out[last][outCount[last]++] = handle;
    }

    private void flush() {
        for (int j = 0; j < ports.length; j++) {
            int n = outCount[j];
            if (n == 0) {
                continue;
            }
            outCount[j] = 0;
            Port port = ports[j];
            long[] burst = out[j];
            int sent = port.txBurst(TX_QUEUE, burst, 0, n);
            if (sent > 0) {
                counters[j].tx.getAndAddRelease(sent);
            }
            if (sent < n) {
                pool.freeBulk(cache, burst, sent, n - sent);
                counters[j].txDropped.getAndAddRelease(n - sent);
                port.counters().txDrops.getAndAdd(n - sent);
            }
        }
    }

    private long mac(long at) {
        return mac(memory, at);
    }

    private static long mac(MemorySegment m, long at) {
        return (m.get(INT_BE, at) & 0xffff_ffffL) << 16 | (m.get(SHORT_BE, at + 4) & 0xffffL);
    }

    // ------------------------------------------------------------------ zero-copy path

    /**
     * Turns the zero-copy path on or off: attaches (or detaches) the switch to every queue pair of
     * its vhost-user ports' devices. Run it on the lcore that serves those devices' queues and runs
     * this switch ({@code Lcore.execute}), or before either runs; the devices must all be served on
     * that one lcore, since a frame is written into the destination device's receive queue from the
     * source device's transmit processing. Off, the switch works through packet buffers only.
     */
    public void fuse(boolean on) {
        fusedOn = on;
        // Whatever the rings hold from before is drained on the next poll.
        Arrays.fill(ringPending, true);
        for (int i = 0; i < ports.length; i++) {
            VirtioNetDevice d = devices[i];
            if (d != null) {
                for (int k = 0; k < d.maxQueuePairs(); k++) {
                    d.attachSwitch(k, on ? ingress[i] : null);
                }
            }
        }
    }

    /** @return whether {@link #fuse} can do anything: at least one port is a vhost-user port */
    public boolean hasVhostUserPorts() {
        for (VirtioNetDevice d : devices) {
            if (d != null) {
                return true;
            }
        }
        return false;
    }

    /** The switch as seen by the device of port {@code in}. */
    private final class Ingress implements VirtioNetDevice.SwitchIngress {
        private final int in;

        Ingress(int in) {
            this.in = in;
        }

        @Override
        public boolean fromGuest(int pair, MemorySegment frame, long offset, int length) {
            return switchDirect(in, frame, offset, length);
        }

        @Override
        public void beginBurst(int pair, int frames) {
            int to = lastDirect[in];
            if (to >= 0) {
                VirtioNetDevice out = devices[to];
                if (out != null) {
                    out.prefetchReceive(TX_QUEUE, frames);
                }
            }
        }

        @Override
        public int fromGuestBurst(int pair, SimpleChains chains, int n, int headerLength) {
            return switchBurst(in, chains, n, headerLength);
        }

        @Override
        public void endBurst(int pair, int handedOn) {
            if (handedOn > 0) {
                ringPending[in] = true;
            }
            endDirect();
        }
    }

    /** One frame still in the guest's transmit buffer: forwarded by one copy, dropped, or refused (false: packet-buffer path). */
    private boolean switchDirect(int in, MemorySegment frame, long at, int length) {
        if (length < ETHERNET_HEADER) {
            directRx[in]++;
            directRxBytes[in] += length;
            directDropped[in]++;
            return true;
        }
        int to = destination(in, frame, at);
        if (to == MacTable.NO_PORT) {
            return false;
        }
        if (to == in) {
            directRx[in]++;
            directRxBytes[in] += length;
            directDropped[in]++;
            return true;
        }
        VirtioNetDevice out = devices[to];
        if (out == null) {
            return false;
        }
        // Touched even when refused: publishDirect ends the device's direct burst either way.
        touched[to] = true;
        lastDirect[in] = to;
        int r = out.receiveDirect(TX_QUEUE, frame, at, length);
        if (r < 0) {
            return false;
        }
        directRx[in]++;
        directRxBytes[in] += length;
        if (r > 0) {
            directTx[to]++;
            directTxBytes[to] += length;
        } else {
            directTxDropped[to]++;
        }
        return true;
    }

    /**
     * A burst of frames in one-buffer transmit chains (see {@link VirtioNetDevice.SwitchIngress#fromGuestBurst}):
     * first every frame's destination, in one loop (its addresses are the only reads of the frames),
     * up to the first frame this path does not forward (a group or unknown destination, or a port
     * that is not a vhost-user device on this lcore); then each run of frames to one destination in
     * one {@link VirtioNetDevice#receiveBurst}. Frames to their own port are dropped and counted.
     *
     * @return frames taken, from the first on; the others go the frame-by-frame way
     */
    private int switchBurst(int in, SimpleChains chains, int count, int hdr) {
        final int n = Math.min(count, burstTo.length);
        final int[] to = burstTo;
        final int[] length = chains.length;
        final long[] offset = chains.offset;
        int m = 0;
        for (; m < n; m++) {
            if (length[m] - hdr < ETHERNET_HEADER) {
                to[m] = DROP;
                continue;
            }
            final int t = destination(in, chains.segment(m), offset[m] + hdr);
            if (t == MacTable.NO_PORT) {
                break;
            }
            if (t == in) {
                to[m] = DROP;
            } else if (devices[t] == null) {
                break;
            } else {
                to[m] = t;
            }
        }
        int k = 0;
        while (k < m) {
            final int t = to[k];
            int end = k + 1;
            while (end < m && to[end] == t) {
                end++;
            }
            if (t == DROP) {
                for (int i = k; i < end; i++) {
                    directRxBytes[in] += length[i] - hdr;
                }
                directRx[in] += end - k;
                directDropped[in] += end - k;
                k = end;
                continue;
            }
            // Touched even when refused: publishDirect ends the device's direct burst either way.
            touched[t] = true;
            lastDirect[in] = t;
            final int written = devices[t].receiveBurst(TX_QUEUE, chains, k, end - k, hdr);
            long bytes = 0;
            for (int i = k; i < k + written; i++) {
                bytes += length[i] - hdr;
            }
            directRx[in] += written;
            directRxBytes[in] += bytes;
            directTx[t] += written;
            directTxBytes[t] += bytes;
            k += written;
            if (k < end) {
                break;
            }
        }
        return k;
    }

    /**
     * Where a frame from port {@code in} goes, learning its source address on the way; within one
     * zero-copy burst (one clock reading) the last source learned and the last destination looked
     * up are remembered. Each address is read once from guest memory; only the copies are used.
     *
     * @return the port, or {@link MacTable#NO_PORT} for a group or unknown destination
     */
    private int destination(int in, MemorySegment frame, long at) {
        long dst = mac(frame, at);
        if (MacTable.isGroup(dst)) {
            return MacTable.NO_PORT;
        }
        long now = burstNow;
        if (!burstOpen) {
            now = burstNow = clock.getAsLong();
            burstOpen = true;
        }
        long src = mac(frame, at + 6);
        if ((src != burstSrc || in != burstSrcPort) && !MacTable.isGroup(src)) {
            learn(in, src, now);
            burstSrc = src;
            burstSrcPort = in;
            burstDst = NO_MAC;
        }
        if (dst == burstDst) {
            return burstDstPort;
        }
        int to = table.lookup(dst, now);
        if (to != MacTable.NO_PORT) {
            burstDst = dst;
            burstDstPort = to;
        }
        return to;
    }

    /** End of a zero-copy burst: each destination publishes once; the counts go to the counters. */
    private void endDirect() {
        burstOpen = false;
        burstSrc = NO_MAC;
        burstSrcPort = -1;
        burstDst = NO_MAC;
        for (int j = 0; j < ports.length; j++) {
            if (touched[j]) {
                touched[j] = false;
                devices[j].publishDirect(TX_QUEUE);
            }
            if (directRx[j] != 0) {
                counters[j].rx.getAndAddRelease(directRx[j]);
                ports[j].counters().rxPackets.getAndAdd(directRx[j]);
                ports[j].counters().rxBytes.getAndAdd(directRxBytes[j]);
                directRx[j] = 0;
                directRxBytes[j] = 0;
            }
            if (directTx[j] != 0) {
                counters[j].tx.getAndAddRelease(directTx[j]);
                counters[j].txZeroCopy.getAndAddRelease(directTx[j]);
                ports[j].counters().txPackets.getAndAdd(directTx[j]);
                ports[j].counters().txBytes.getAndAdd(directTxBytes[j]);
                directTx[j] = 0;
                directTxBytes[j] = 0;
            }
            if (directDropped[j] != 0) {
                counters[j].dropped.getAndAddRelease(directDropped[j]);
                directDropped[j] = 0;
            }
            if (directTxDropped[j] != 0) {
                counters[j].txDropped.getAndAddRelease(directTxDropped[j]);
                ports[j].counters().txDrops.getAndAdd(directTxDropped[j]);
                directTxDropped[j] = 0;
            }
        }
    }

    /** @return the MAC table (read it on the switch's lcore, or once the switch no longer runs) */
    public MacTable macTable() {
        return table;
    }

    /** @return the ports, in switch order */
    public List<Port> ports() {
        return List.of(ports);
    }

    /** @return the counters of port {@code i} (switch order) */
    public SwitchPortCounters counters(int i) {
        return counters[i];
    }

    /** @return how many times a known address was seen on another port */
    public long macMoves() {
        return macMoves.get();
    }

    /** @return how many source addresses were not learned because their table slots were all live */
    public long macTableFull() {
        return macTableFull.get();
    }

    @Override
    public String name() {
        return name;
    }

    /** Returns the cached buffers (if the cache is the switch's own) and frees the counters. Call once the switch no longer runs. */
    @Override
    public void close() {
        if (ownsCache) {
            cache.close();
        }
        for (SwitchPortCounters c : counters) {
            c.close();
        }
        stats.free(macMoves);
        stats.free(macTableFull);
    }

    /** Builds an {@link L2Switch}. */
    public static final class Builder {
        private final StatsRegistry stats;
        private final List<Port> ports = new ArrayList<>();
        private String name = "switch";
        private int macTableCapacity = DEFAULT_MAC_TABLE_CAPACITY;
        private Duration age = DEFAULT_AGE;
        private LongSupplier clock = System::nanoTime;
        private Mempool.Cache cache;

        private Builder(StatsRegistry stats) {
            this.stats = Objects.requireNonNull(stats, "stats");
        }

        /** Adds a port; ports are numbered in the order added. */
        public Builder port(Port port) {
            ports.add(Objects.requireNonNull(port, "port"));
            return this;
        }

        /** Adds ports in order. */
        public Builder ports(List<? extends Port> list) {
            list.forEach(this::port);
            return this;
        }

        /** Name for the poller and the counter labels (default {@code switch}). */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** MAC table entries, a power of 2 (default {@value #DEFAULT_MAC_TABLE_CAPACITY}). */
        public Builder macTableCapacity(int capacity) {
            this.macTableCapacity = capacity;
            return this;
        }

        /** How long a learned address lives without being seen again (default 300 s). */
        public Builder age(Duration age) {
            this.age = Objects.requireNonNull(age, "age");
            return this;
        }

        /** The clock, in nanoseconds (default {@link System#nanoTime}); tests inject their own. */
        public Builder clock(LongSupplier nanoClock) {
            this.clock = Objects.requireNonNull(nanoClock, "clock");
            return this;
        }

        /** The mempool cache of the lcore the switch will run on (the caller closes it); default: one of its own. */
        public Builder cache(Mempool.Cache lcoreCache) {
            this.cache = lcoreCache;
            return this;
        }

        /** @return the switch */
        public L2Switch build() {
            if (ports.isEmpty()) {
                throw new IllegalArgumentException("a switch needs at least one port");
            }
            return new L2Switch(this);
        }
    }
}

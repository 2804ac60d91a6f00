package io.ringway.net.device;

import io.ringway.net.packet.MbufDescriptor;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.ring.SpscRing;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.backend.VhostUserDeviceHooks;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.SimpleChains;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.function.IntFunction;

/**
 * A virtio-net device (virtio 1.2, 5.1) served over vhost-user: N queue pairs
 * (receiveq {@code 2k}, transmitq {@code 2k+1}) and a control queue.
 *
 * <p>Offered features: VERSION_1, EVENT_IDX, INDIRECT_DESC, RING_PACKED, IN_ORDER and MRG_RXBUF (each
 * but VERSION_1 and INDIRECT_DESC can be withheld through the builder), MQ, STATUS, MTU, MAC, CTRL_VQ,
 * CTRL_RX, CTRL_MAC_ADDR. IN_ORDER costs nothing here: every queue returns its buffers in the order
 * they were made available, and a driver that knows it frees them more cheaply (DPDK's virtio
 * in-order paths). On a packed ring with IN_ORDER a transmit burst goes back as one used descriptor
 * (virtio 1.2, 2.8.9; receive buffers each get their own, with their lengths). No checksum
 * or segmentation offload is offered, so the headers the device writes are zero but for
 * {@code num_buffers}, and the headers the guest writes are skipped.
 *
 * <p>Packets leave and enter the device as {@link io.ringway.net.packet.Mbuf} handles through two
 * SPSC rings per queue pair: {@link #fromGuest(int)} (filled on the lcore serving the transmitq,
 * read by a port) and {@link #toGuest(int)} (written by a port, drained on the lcore serving the
 * receiveq). A queue is touched only inside {@link #process(int)}, which the transport calls on the
 * lcore while the queue runs; that is what makes a frontend disconnect safe under load.
 *
 * <p>Several lcores: a queue pair's two vrings form one placement group ({@link #lcoreGroupOf}
 * is {@code vring / 2}), so pair {@code k} runs on one lcore and its receive and transmit handlers
 * share that lcore's mempool cache ({@link Builder#cacheOfPair}); a memory-table swap is handled on
 * each lcore for the pairs placed there. The counters are shared by every pair (atomic adds).
 *
 * <p>Control queue index (virtio 1.2, 5.1.2): {@code 2 * max_virtqueue_pairs} when MQ is
 * negotiated, else 2.
 */
public final class VirtioNetDevice implements VirtioDevice, VhostUserDeviceHooks, AutoCloseable {
    /**
     * A forwarding stream that runs inside the device's own queue processing, on the lcore that
     * serves the queue pair, instead of as a separate poller behind the SPSC rings: what the guest
     * sends is handed to it straight from the transmitq's burst, and what it sends to the guest goes
     * to a small lcore-local queue that the receiveq drains. Both calls run inside
     * {@link #process(int)}, so they touch nothing while the vrings are stopped.
     */
    public interface LocalStream {
        /**
         * Packets the guest sent on {@code pair} (transmitq processing). The stream owns them: it
         * sends them with {@link #deliverLocal} or frees them, before returning.
         */
        void fromGuest(int pair, long[] packets, int n);

        /**
         * Called when the receiveq of {@code pair} is processed and nothing is queued for the guest;
         * may {@link #deliverLocal} or {@link #generateLocal}.
         *
         * @return work done (frames generated), for the lcore's idle policy
         */
        int beforeReceive(int pair);

        /**
         * A burst the guest sent on {@code pair}, still in its transmit buffers: chain {@code i < n}
         * of {@code frames} is one readable buffer, the net header ({@code headerLength} bytes) and
         * a frame of 1 to {@link MbufDescriptor#DATA_ROOM} bytes. The stream takes the first
         * {@code k} (consumed, or written to the guest with {@link #receiveBurstSwapped}, and
         * counted) before returning; the rest come as packet buffers through {@link #fromGuest}.
         *
         * @return k (0 by default: a stream that takes packet buffers only)
         */
        default int fromGuestBurst(int pair, SimpleChains frames, int n, int headerLength) {
            return 0;
        }
    }

    /**
     * A switch that takes the frames the guest sends where they lie, in its transmit buffers,
     * before any packet buffer is involved: for each frame it may copy it straight into another
     * device's receive buffers ({@link #receiveDirect}) or drop it, and the transmit buffer goes back
     * to the guest right after; a frame it does not take (and every later one of that burst) goes
     * on as a packet buffer through {@link #fromGuest(int)}. Both calls run inside
     * {@link #process(int)} of the transmitq, on the lcore that serves it.
     */
    public interface SwitchIngress {
        /**
         * A frame the guest sent on {@code pair}: {@code length} bytes at {@code offset} of
         * {@code memory} (the net header already skipped; length checked against the MTU room).
         * Valid only during the call.
         *
         * @return true if taken (copied or dropped, and counted); false to send it as a packet buffer
         */
        boolean fromGuest(int pair, MemorySegment memory, long offset, int length);

        /**
         * The end of a transmit burst on {@code pair} that popped at least one chain: publish what
         * was written.
         *
         * @param handedOn frames of this burst that go on as packet buffers through {@link #fromGuest(int)}
         */
        void endBurst(int pair, int handedOn);

        /**
         * The start of a transmit burst of at most {@code frames} frames on {@code pair}: the switch may
         * read ahead in the receive queue the frames will most likely go to.
         */
        default void beginBurst(int pair, int frames) {
        }

        /**
         * A burst of frames the guest sent on {@code pair}, in order: chain {@code i < n} of
         * {@code chains} is one readable buffer, the net header ({@code headerLength} bytes) and then
         * a frame of 1 to {@link MbufDescriptor#DATA_ROOM} bytes. The switch takes the first
         * {@code k} (copied to their destinations or dropped, and counted), each as
         * {@link #fromGuest(int, MemorySegment, long, int)} would; the rest go on frame by frame.
         * Valid only during the call.
         *
         * @return k, the frames taken (0 by default: a switch that takes frames one at a time)
         */
        default int fromGuestBurst(int pair, SimpleChains chains, int n, int headerLength) {
            return 0;
        }
    }

    /** Capacity of the lcore-local queue towards the guest used with a {@link LocalStream}. */
    public static final int LOCAL_QUEUE = 128;
    /** The burst size, end to end. */
    public static final int BURST = 32;
    /** virtio 1.2, 5: the network device ID. */
    public static final int DEVICE_ID = 1;
    private static final int ROLE_NONE = 0;
    private static final int ROLE_RECEIVE = 1;
    private static final int ROLE_TRANSMIT = 2;
    private static final int ROLE_CONTROL = 3;

    private final String name;
    private final int maxPairs;
    private final int maxQueueSize;
    private final long offered;
    private final Mempool pool;
    /** The mempool cache of each queue pair (of the lcore serving it). */
    private final Mempool.Cache[] caches;
    private final boolean ownsCaches;
    private final VirtioNetMetrics metrics;
    private final SpscRing[] fromGuest;
    private final SpscRing[] toGuest;
    private final TransmitQueueHandler[] transmit;
    private final ReceiveQueueHandler[] receive;
    private final ControlQueueHandler control;
    private final int[] role;
    private final int[] pairOf;
    private final byte[] mac;
    private volatile int mtu;
    private volatile boolean active;
    private volatile long negotiated;
    volatile boolean promiscuous;
    volatile boolean allMulticast;
    volatile int unicastFilterEntries;
    volatile int multicastFilterEntries;
    volatile int activeQueuePairs = 1;
    private volatile byte[] driverMac;

    private VirtioNetDevice(Builder b) {
        this.name = b.name;
        this.maxPairs = b.queuePairs;
        this.maxQueueSize = b.maxQueueSize;
        this.pool = b.pool;
        this.mac = b.mac.clone();
        this.mtu = b.mtu;
        long f = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
                | VirtioFeatures.mask(VirtioFeatures.INDIRECT_DESC)
                | VirtioFeatures.mask(VirtioNetFeatures.MQ)
                | VirtioFeatures.mask(VirtioNetFeatures.STATUS)
                | VirtioFeatures.mask(VirtioNetFeatures.MTU)
                | VirtioFeatures.mask(VirtioNetFeatures.MAC)
                | VirtioFeatures.mask(VirtioNetFeatures.CTRL_VQ)
                | VirtioFeatures.mask(VirtioNetFeatures.CTRL_RX)
                | VirtioFeatures.mask(VirtioNetFeatures.CTRL_MAC_ADDR);
        if (b.eventIdx) {
            f |= VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);
        }
        if (b.packed) {
            f |= VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
        }
        if (b.mergeable) {
            f |= VirtioFeatures.mask(VirtioNetFeatures.MRG_RXBUF);
        }
        if (b.inOrder) {
            f |= VirtioFeatures.mask(VirtioFeatures.IN_ORDER);
        }
        this.offered = f;
        StatsRegistry stats = b.stats != null ? b.stats : StatsRegistry.process();
        this.metrics = new VirtioNetMetrics(stats, name);
        this.ownsCaches = b.cacheOfPair == null;
        this.caches = new Mempool.Cache[maxPairs];
        for (int k = 0; k < maxPairs; k++) {
            caches[k] = ownsCaches ? pool.createCache(2 * BURST)
                    : Objects.requireNonNull(b.cacheOfPair.apply(k), "no mempool cache for queue pair " + k);
        }
        this.fromGuest = new SpscRing[maxPairs];
        this.toGuest = new SpscRing[maxPairs];
        this.transmit = new TransmitQueueHandler[maxPairs];
        this.receive = new ReceiveQueueHandler[maxPairs];
        for (int k = 0; k < maxPairs; k++) {
            fromGuest[k] = SpscRing.allocate(b.ringCapacity);
            toGuest[k] = SpscRing.allocate(b.ringCapacity);
            transmit[k] = new TransmitQueueHandler(metrics, pool, caches[k], fromGuest[k], maxQueueSize, b.portId, k);
            receive[k] = new ReceiveQueueHandler(metrics, pool, caches[k], toGuest[k], maxQueueSize, k);
            transmit[k].peer = receive[k];
        }
        this.control = new ControlQueueHandler(this, metrics, maxQueueSize);
        this.role = new int[queueCount()];
        this.pairOf = new int[queueCount()];
    }

    /**
     * Starts building a device whose packets live in {@code pool}.
     *
     * @param pool a pool of {@link MbufDescriptor#BUFFER_SIZE}-byte packet buffers
     * @return a builder
     */
    public static Builder builder(Mempool pool) {
        return new Builder(pool);
    }

    /** Builder for {@link VirtioNetDevice}. */
    public static final class Builder {
        private final Mempool pool;
        private String name = "net0";
        private int queuePairs = 1;
        private int maxQueueSize = 1024;
        private int ringCapacity = 1024;
        private byte[] mac = {0x02, 0x52, 0x57, 0x00, 0x00, 0x01};
        private int mtu = 1500;
        private boolean mergeable = true;
        private boolean packed = true;
        private boolean eventIdx = true;
        private boolean inOrder = true;
        private int portId;
        private StatsRegistry stats;
        private IntFunction<Mempool.Cache> cacheOfPair;

        private Builder(Mempool pool) {
            this.pool = Objects.requireNonNull(pool, "pool");
            if (pool.elementSize() < MbufDescriptor.BUFFER_SIZE) {
                throw new IllegalArgumentException("packet buffers must be at least " + MbufDescriptor.BUFFER_SIZE
                        + " bytes, got " + pool.elementSize());
            }
        }

        /** A name for counters and logs. */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Queue pairs (max_virtqueue_pairs), 1 to 128. */
        public Builder queuePairs(int pairs) {
            if (pairs < 1 || pairs > 128) {
                throw new IllegalArgumentException("queue pairs must be 1..128, got " + pairs);
            }
            this.queuePairs = pairs;
            return this;
        }

        /** Largest queue size accepted (default 1024), a power of 2 up to 32768. */
        public Builder maxQueueSize(int size) {
            if (size < 1 || size > 32768 || Integer.bitCount(size) != 1) {
                throw new IllegalArgumentException("queue size must be a power of 2 in 1..32768, got " + size);
            }
            this.maxQueueSize = size;
            return this;
        }

        /** Capacity of each per-queue-pair packet ring (default 1024), a power of 2. */
        public Builder ringCapacity(int capacity) {
            this.ringCapacity = capacity;
            return this;
        }

        /** The MAC address in config space (6 bytes). */
        public Builder mac(byte[] mac) {
            if (mac.length != 6) {
                throw new IllegalArgumentException("a MAC address has 6 bytes, got " + mac.length);
            }
            this.mac = mac.clone();
            return this;
        }

        /** The MTU in config space (default 1500), 68 up to what a packet buffer holds. */
        public Builder mtu(int mtu) {
            if (!validMtu(mtu)) {
                throw new IllegalArgumentException("MTU must be 68.." + maxMtu() + ", got " + mtu);
            }
            this.mtu = mtu;
            return this;
        }

        /** Offer VIRTIO_NET_F_MRG_RXBUF (default true). */
        public Builder mergeableRxBuffers(boolean on) {
            this.mergeable = on;
            return this;
        }

        /** Offer VIRTIO_F_RING_PACKED (default true). */
        public Builder packedRing(boolean on) {
            this.packed = on;
            return this;
        }

        /**
         * Offer VIRTIO_F_IN_ORDER (default true): the device uses every queue's buffers in the order
         * they were made available, which it does anyway.
         */
        public Builder inOrder(boolean on) {
            this.inOrder = on;
            return this;
        }

        /** Offer VIRTIO_F_EVENT_IDX (default true). */
        public Builder eventIdx(boolean on) {
            this.eventIdx = on;
            return this;
        }

        /** The port id stamped on received packet buffers. */
        public Builder portId(int id) {
            this.portId = id;
            return this;
        }

        /**
         * The mempool cache of the lcore that will serve the device's queues, shared with the
         * forwarding streams on that lcore so that a freed buffer is the next one allocated (LIFO,
         * still in the CPU cache). Default: a cache of the device's own per queue pair. With the
         * pairs spread over several lcores use {@link #cacheOfPair} instead.
         */
        public Builder cache(Mempool.Cache cache) {
            Objects.requireNonNull(cache, "cache");
            this.cacheOfPair = k -> cache;
            return this;
        }

        /**
         * The mempool cache of queue pair {@code k}: the cache of the lcore that will serve that
         * pair (a cache belongs to one thread; see {@link VirtioNetDevice#lcoreGroupOf}). The
         * caller closes the caches.
         */
        public Builder cacheOfPair(IntFunction<Mempool.Cache> cacheOfPair) {
            this.cacheOfPair = Objects.requireNonNull(cacheOfPair, "cacheOfPair");
            return this;
        }

        /** Registry for the counters; the process registry by default. */
        public Builder stats(StatsRegistry stats) {
            this.stats = stats;
            return this;
        }

        public VirtioNetDevice build() {
            return new VirtioNetDevice(this);
        }
    }

    static int maxMtu() {
        return MbufDescriptor.DATA_ROOM - 14;
    }

    static boolean validMtu(int mtu) {
        return mtu >= 68 && mtu <= maxMtu();
    }

    // ------------------------------------------------------------------ VirtioDevice

    @Override
    public int deviceType() {
        return DEVICE_ID;
    }

    @Override
    public long deviceFeatures() {
        return offered;
    }

    /** @return {@code 2 * queue pairs + 1}: the pairs and the control queue */
    @Override
    public int queueCount() {
        return 2 * maxPairs + 1;
    }

    @Override
    public int maxQueueSize() {
        return maxQueueSize;
    }

    @Override
    public byte[] readConfig(int offset, int length) {
        byte[] space = new byte[VirtioNetConfigDescriptor.LENGTH];
        byte[] m = driverMac != null ? driverMac : mac;
        System.arraycopy(m, 0, space, VirtioNetConfigDescriptor.MAC_OFFSET, 6);
        // The link is up whenever the back-end serves the device: a driver reads status at probe,
        // before any queue runs, and would otherwise see it down until a config change interrupt.
        putLe16(space, VirtioNetConfigDescriptor.STATUS_OFFSET, VirtioNetConfigDescriptor.S_LINK_UP);
        putLe16(space, VirtioNetConfigDescriptor.MAX_VIRTQUEUE_PAIRS_OFFSET, maxPairs);
        putLe16(space, VirtioNetConfigDescriptor.MTU_OFFSET, mtu);
        byte[] out = new byte[Math.max(0, length)];
        for (int i = 0; i < out.length; i++) {
            long at = (long) offset + i;
            out[i] = at >= 0 && at < space.length ? space[(int) at] : 0;
        }
        return out;
    }

    private static void putLe16(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
    }

    /** virtio 1.2, 5.1.4: with VERSION_1 every field is read-only for the driver; writes are ignored. */
    @Override
    public void writeConfig(int offset, byte[] data) {
    }

    @Override
    public void activate(long negotiatedFeatures, GuestMemory memory, List<Virtqueue> queues) {
        boolean mq = VirtioFeatures.has(negotiatedFeatures, VirtioNetFeatures.MQ);
        boolean mrg = VirtioFeatures.has(negotiatedFeatures, VirtioNetFeatures.MRG_RXBUF);
        boolean ctrl = VirtioFeatures.has(negotiatedFeatures, VirtioNetFeatures.CTRL_VQ);
        int headerLength = VirtioNetHeaderDescriptor.length(negotiatedFeatures);
        int pairs = mq ? maxPairs : 1;
        int ctrlIndex = ctrl ? (mq ? 2 * maxPairs : 2) : -1;
        java.util.Arrays.fill(role, ROLE_NONE);
        for (int k = 0; k < pairs; k++) {
            role[2 * k] = ROLE_RECEIVE;
            role[2 * k + 1] = ROLE_TRANSMIT;
            pairOf[2 * k] = k;
            pairOf[2 * k + 1] = k;
            receive[k].activate(queue(queues, 2 * k), mrg, headerLength);
            transmit[k].activate(queue(queues, 2 * k + 1), headerLength);
        }
        if (ctrlIndex >= 0 && ctrlIndex < role.length) {
            role[ctrlIndex] = ROLE_CONTROL;
            control.activate(queue(queues, ctrlIndex), negotiatedFeatures);
        }
        negotiated = negotiatedFeatures;
        activeQueuePairs = 1;
        active = true;
    }

    private static Virtqueue queue(List<Virtqueue> queues, int index) {
        return index < queues.size() ? queues.get(index) : null;
    }

    @Override
    public void reset() {
        active = false;
        java.util.Arrays.fill(role, ROLE_NONE);
        for (int k = 0; k < maxPairs; k++) {
            transmit[k].reset();
            receive[k].reset();
        }
        control.reset();
        promiscuous = false;
        allMulticast = false;
        driverMac = null;
    }

    @Override
    public int process(int queueIndex) {
        return switch (role[queueIndex]) {
            case ROLE_TRANSMIT -> transmit[pairOf[queueIndex]].process();
            case ROLE_RECEIVE -> receive[pairOf[queueIndex]].process();
            case ROLE_CONTROL -> control.process();
            default -> 0;
        };
    }

    // ------------------------------------------------------------------ vhost-user hooks

    @Override
    public int vhostUserQueueNum(int queueCount) {
        // vhost-user GET_QUEUE_NUM counts queue pairs for a net device.
        return maxPairs;
    }

    @Override
    public boolean setMtu(int mtu) {
        if (!validMtu(mtu)) {
            return false;
        }
        this.mtu = mtu;
        return true;
    }

    /** A queue pair's receiveq and transmitq share one lcore (the control queue forms a group of its own). */
    @Override
    public int lcoreGroupOf(int vring) {
        return vring / 2;
    }

    /** On each lcore, for the receive queues placed there (their half-assembled merged packets point into the old table). */
    @Override
    public void memoryTableChanged(GuestMemory memory, int[] vrings) {
        for (int vring : vrings) {
            if (vring < role.length && role[vring] == ROLE_RECEIVE) {
                receive[pairOf[vring]].memoryChanged();
            }
        }
    }

    // ------------------------------------------------------------------ packets and state

    /**
     * Packets the guest sent on queue pair {@code pair}; one consumer (the port's lcore) frees them.
     *
     * @param pair queue pair
     * @return the ring
     */
    public SpscRing fromGuest(int pair) {
        return fromGuest[pair];
    }

    /**
     * Packets for the guest on queue pair {@code pair}; one producer. The device frees them once
     * written into guest memory (or dropped).
     *
     * @param pair queue pair
     * @return the ring
     */
    public SpscRing toGuest(int pair) {
        return toGuest[pair];
    }

    /**
     * Runs {@code stream} inside the processing of queue pair {@code pair} (null: back to the
     * rings). Call on the lcore that serves the device's queues (a command), or before the back-end
     * serves the device; that lcore must serve both queues of the pair.
     */
    public void attachLocal(int pair, LocalStream stream) {
        transmit[pair].local = stream;
        receive[pair].local = stream;
    }

    /**
     * Lets {@code ingress} take the frames the guest sends on {@code pair} straight from its
     * transmit buffers (null: back to packet buffers only). On the lcore that serves the pair, or
     * before the back-end serves the device.
     */
    public void attachSwitch(int pair, SwitchIngress ingress) {
        transmit[pair].ingress = ingress;
    }

    /**
     * Writes a frame that lies elsewhere (another device's transmit buffer) straight into the
     * guest's receive buffers of {@code pair}: one copy, no packet buffer. Only from work that runs
     * on the lcore serving this receiveq (a {@link SwitchIngress} of a device on the same lcore);
     * the used entry becomes visible with {@link #publishDirect}.
     *
     * @return 1 written; 0 dropped (the guest's buffer was too small; counted); -1 not taken: send
     *     it as a packet buffer instead (no guest buffer now, packets queued before it, or the
     *     receiveq is not polled on this lcore)
     */
    public int receiveDirect(int pair, MemorySegment frame, long offset, int length) {
        return receive[pair].receiveDirect(frame, offset, length);
    }

    /**
     * As {@link #receiveDirect}, for a burst: writes frames {@code from .. from + count} of
     * {@code frames} (each a one-buffer transmit chain of another device: {@code frameHeader}
     * bytes of net header, then the frame, its length already checked) into receive buffers of
     * {@code pair}, in order, until one does not fit in the next buffer, no buffer is left, or the
     * receiveq cannot take frames directly now. Published by {@link #publishDirect} (and every
     * few frames on the way, so that the guest can start).
     *
     * @return frames written (0 .. count); the rest must come as packet buffers
     */
    public int receiveBurst(int pair, SimpleChains frames, int from, int count, int frameHeader) {
        return receive[pair].receiveBurst(frames, from, count, frameHeader, false);
    }

    /**
     * As {@link #receiveBurst}, each frame of 12 bytes or more written with its destination and
     * source addresses swapped: testpmd's macswap, from the transmitq of {@code pair} straight back
     * to its receiveq, for a {@link LocalStream}.
     */
    public int receiveBurstSwapped(int pair, SimpleChains frames, int from, int count, int frameHeader) {
        return receive[pair].receiveBurst(frames, from, count, frameHeader, true);
    }

    /**
     * Reads ahead the receiveq of {@code pair} for up to {@code frames} frames that {@link #receiveDirect}
     * will most likely be given next (on the lcore that polls it; changes nothing the guest sees).
     */
    public void prefetchReceive(int pair, int frames) {
        receive[pair].prefetch(frames);
    }

    /**
     * Ends a burst of {@link #receiveDirect} calls on {@code pair} (call it after every such burst,
     * on the same lcore, before anything else can queue packets for the guest): publishes what was
     * written and signals the guest if it asked.
     */
    public void publishDirect(int pair) {
        receive[pair].publishDirect();
    }

    /** Tracks, on the lcore, whether each receiveq is polled there: {@link #receiveDirect} writes only into those. */
    @Override
    public void vringPolling(int vring, boolean polling) {
        if (vring < 2 * maxPairs && (vring & 1) == 0) {
            receive[vring / 2].polled = polling;
        }
    }

    /** @return room in the lcore-local queue of {@code pair} towards the guest (lcore only) */
    public int localRoom(int pair) {
        return receive[pair].localRoom();
    }

    /** @return how many packets the local queue depth of {@code pair} holds (lcore only) */
    public int localQueued(int pair) {
        return receive[pair].localQueued();
    }

    /**
     * Queues packets for the guest on the lcore-local queue of {@code pair}; for a
     * {@link LocalStream}, on the lcore, inside its calls. The device frees them once written.
     *
     * @return how many it took (from the start)
     */
    public int deliverLocal(int pair, long[] packets, int off, int n) {
        return receive[pair].enqueueLocal(packets, off, n);
    }

    /**
     * Writes up to {@code max} copies of {@code frame} straight into the guest's receive buffers of
     * {@code pair}, without packet buffers; for a {@link LocalStream}, inside its
     * {@link LocalStream#beforeReceive} call.
     *
     * @return frames written (counted as received by the guest), or -1 when the next packet must
     *     come through {@link #deliverLocal} as a packet buffer
     */
    public int generateLocal(int pair, MemorySegment frame, int length, int max) {
        return receive[pair].generate(frame, length, max);
    }

    /** @return the packet pool */
    public Mempool pool() {
        return pool;
    }

    /** @return the device's name */
    public String name() {
        return name;
    }

    /** @return max_virtqueue_pairs */
    public int maxQueuePairs() {
        return maxPairs;
    }

    /** @return the queue pairs the driver enabled with VQ_PAIRS_SET (1 until then) */
    public int activeQueuePairs() {
        return activeQueuePairs;
    }

    /** @return true between activation and reset (the link is up) */
    public boolean isActive() {
        return active;
    }

    /** @return the features of the current activation */
    public long negotiatedFeatures() {
        return negotiated;
    }

    /** @return the MTU in config space */
    public int mtu() {
        return mtu;
    }

    /** @return the MAC the driver set with MAC_ADDR_SET, else the configured one */
    public byte[] mac() {
        byte[] m = driverMac;
        return (m != null ? m : mac).clone();
    }

    /** @return whether the driver asked for promiscuous mode */
    public boolean promiscuous() {
        return promiscuous;
    }

    /** @return whether the driver asked for all-multicast mode */
    public boolean allMulticast() {
        return allMulticast;
    }

    /** @return unicast entries of the driver's last MAC table */
    public int unicastFilterEntries() {
        return unicastFilterEntries;
    }

    /** @return multicast entries of the driver's last MAC table */
    public int multicastFilterEntries() {
        return multicastFilterEntries;
    }

    void setMacFromDriver(byte[] mac) {
        this.driverMac = mac;
    }

    /** @return the device's counters */
    public VirtioNetMetrics metrics() {
        return metrics;
    }

    /**
     * Frees what the device holds: packets in its rings, its cache, its counters. Call after the
     * back-end serving it was closed.
     */
    @Override
    public void close() {
        reset();
        long[] drain = new long[BURST];
        for (SpscRing r : fromGuest) {
            int n;
            while ((n = r.dequeueBurst(drain, 0, BURST)) > 0) {
                pool.freeBulk(null, drain, 0, n);
            }
            r.close();
        }
        for (SpscRing r : toGuest) {
            r.close();
        }
        if (ownsCaches) {
            for (Mempool.Cache c : caches) {
                c.close();
            }
        }
        metrics.close();
    }
}

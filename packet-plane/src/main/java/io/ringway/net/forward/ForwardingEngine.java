package io.ringway.net.forward;

import io.ringway.net.capture.CaptureJournal;
import io.ringway.net.capture.CapturePort;
import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.Port;
import io.ringway.net.port.TapPort;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.poll.Poller;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.backend.VhostUserBackend;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A running {@code ringway net}: one packet pool, one {@link VirtioNetDevice} + {@link VhostUserPort}
 * + {@link VhostUserBackend} per socket, and one {@link ForwardingStream} per port and queue, spread
 * over lcores. Placement:
 * <ul>
 *   <li>one queue pair per port (or one lcore): the back-ends' queues run on the first lcore; with
 *       more lcores the streams run on the others (round-robin), else on the first too;</li>
 *   <li>several queue pairs and several lcores: queue pair {@code k} of every port runs on lcore
 *       {@code k % n}, and so do the streams of queue {@code k} (inside the device's processing where
 *       the mode allows, see {@link ForwardingStream#canRunLocal}): no packet crosses lcores.</li>
 * </ul>
 *
 * <p>Stream wiring, as testpmd does it: rxonly, txonly and macswap use each port on its own; io
 * forwards port {@code 2i} to {@code 2i+1} and back, or a single port to itself. Switch mode runs one
 * {@link L2Switch} over every port (all their queues) on the first stream lcore; with a single lcore
 * it also takes the vhost-user ports' frames straight from the guests' buffers ({@link L2Switch#fuse}).
 *
 * <p>{@link Attachments} add tap ports after the vhost-user ports (port ids follow theirs; io pairs
 * the combined list, so one vhost-user port and one tap forward to each other) and a packet capture
 * of the vhost-user ports (rx and tx). A captured port runs its streams through the ring path, not
 * inside its device's processing.
 */
public final class ForwardingEngine implements AutoCloseable {

    /**
     * What to run.
     *
     * @param sockets        vhost-user socket paths, one port each
     * @param client         connect to the sockets (the front-end listens) instead of listening
     * @param queuePairs     queue pairs per port
     * @param mode           forwarding mode
     * @param cpus           one lcore per entry, pinned to that CPU (-1: unpinned); at least one
     * @param idle           idle policy of every lcore
     * @param txPacketLength txonly frame length
     * @param mbufs          packet buffers in the pool
     * @param mergeable      offer MRG_RXBUF
     * @param packed         offer RING_PACKED
     * @param stats          registry for the counters
     * @param macTableCapacity switch mode: MAC table entries, a power of 2
     * @param macAge         switch mode: how long a learned address lives unseen
     */
    public record Config(List<Path> sockets, boolean client, int queuePairs, ForwardingMode mode, int[] cpus,
            IdlePolicy idle, int txPacketLength, int mbufs, boolean mergeable, boolean packed, StatsRegistry stats,
            int macTableCapacity, Duration macAge) {
        public Config {
            if (sockets.isEmpty()) {
                throw new IllegalArgumentException("at least one socket is needed");
            }
            if (cpus.length == 0) {
                throw new IllegalArgumentException("at least one lcore is needed");
            }
            Objects.requireNonNull(mode, "mode");
            Objects.requireNonNull(idle, "idle");
            Objects.requireNonNull(macAge, "macAge");
        }

        /** As the canonical constructor, with the switch's default MAC table capacity and age. */
        public Config(List<Path> sockets, boolean client, int queuePairs, ForwardingMode mode, int[] cpus,
                IdlePolicy idle, int txPacketLength, int mbufs, boolean mergeable, boolean packed, StatsRegistry stats) {
            this(sockets, client, queuePairs, mode, cpus, idle, txPacketLength, mbufs, mergeable, packed, stats,
                    L2Switch.DEFAULT_MAC_TABLE_CAPACITY, L2Switch.DEFAULT_AGE);
        }

        /** Defaults: one queue pair, one unpinned backoff lcore, 64-byte frames, 16384 buffers, every feature offered. */
        public static Config of(List<Path> sockets, ForwardingMode mode, StatsRegistry stats) {
            return new Config(sockets, false, 1, mode, new int[] {-1}, IdlePolicy.backoff(), 64, 16384, true, true, stats);
        }
    }

    /**
     * What joins the vhost-user ports.
     *
     * @param taps       names of tap devices to create, one port each, after the vhost-user ports
     * @param captureDir journal directory of a capture of the vhost-user ports' rx and tx, or null
     * @param snapLength most bytes the capture keeps per packet
     */
    public record Attachments(List<String> taps, Path captureDir, int snapLength) {
        /** Nothing attached. */
        public static final Attachments NONE = new Attachments(List.of(), null);

        public Attachments {
            taps = List.copyOf(taps);
        }

        /** Taps and a capture of whole packets ({@link CaptureJournal#DEFAULT_SNAP_LENGTH}). */
        public Attachments(List<String> taps, Path captureDir) {
            this(taps, captureDir, CaptureJournal.DEFAULT_SNAP_LENGTH);
        }
    }

    private static final int CACHE_SIZE = 256;
    private static final byte[] SRC_MAC = {0x02, 0x52, 0x57, 0x00, 0x00, 0x01};
    private static final byte[] DST_MAC = {0x02, 0x52, 0x57, 0x00, 0x00, 0x02};

    private final Config config;
    private final Attachments attachments;
    private final Mempool pool;
    private final List<Lcore> lcores = new ArrayList<>();
    private final List<VirtioNetDevice> devices = new ArrayList<>();
    private final List<VhostUserPort> ports = new ArrayList<>();
    private final List<VhostUserBackend> backends = new ArrayList<>();
    private final List<TapPort> taps = new ArrayList<>();
    /** What the forwarding sees: the vhost-user ports (behind a capture if any), then the taps. */
    private final List<Port> forwardingPorts = new ArrayList<>();
    private CaptureJournal capture;
    private final List<ForwardingStream> streams = new ArrayList<>();
    private L2Switch l2switch;
    /** What runs on the stream lcores: the streams, or the switch. */
    private final List<Poller> pollers = new ArrayList<>();
    private final List<Lcore> streamLcores = new ArrayList<>();
    private final List<Mempool.Cache> caches = new ArrayList<>();
    /** For each poller, the index of the lcore it runs on. */
    private final List<Integer> pollerLcores = new ArrayList<>();
    /** Queue pairs spread over the lcores (several of each), else every device queue on lcore 0. */
    private final boolean spread;
    /**
     * Switch mode with the zero-copy path ({@link L2Switch#fuse}): the switch and every device
     * queue share the one lcore. {@code -D}{@value #ZERO_COPY_PROPERTY}{@code =false} turns it off
     * (packet buffers only), for comparisons.
     */
    private boolean fused;
    /** System property that turns the switch's zero-copy path off when {@code false}. */
    public static final String ZERO_COPY_PROPERTY = "ringway.net.switch.zeroCopy";

    private ForwardingEngine(Config config, Attachments attachments) {
        this.config = config;
        this.attachments = Objects.requireNonNull(attachments, "attachments");
        this.pool = Mbuf.createPool(config.mbufs());
        this.spread = config.queuePairs() > 1 && config.cpus().length > 1;
    }

    /**
     * Builds and starts everything; the back-ends listen (or connect) when this returns.
     *
     * @param config what to run
     * @return the running engine
     */
    public static ForwardingEngine start(Config config) {
        return start(config, Attachments.NONE);
    }

    /**
     * As {@link #start(Config)}, with tap ports and a capture.
     *
     * @throws io.ringway.net.port.TapException if a tap cannot be created
     * @throws UncheckedIOException             if the capture journal cannot be created
     */
    public static ForwardingEngine start(Config config, Attachments attachments) {
        ForwardingEngine e = new ForwardingEngine(config, attachments);
        try {
            e.startAll();
        } catch (RuntimeException ex) {
            e.close();
            throw ex;
        }
        return e;
    }

    private void startAll() {
        int[] cpus = config.cpus();
        for (int i = 0; i < cpus.length; i++) {
            lcores.add(Lcore.builder("net-" + i).cpu(cpus[i]).idlePolicy(config.idle()).stats(config.stats()).start());
            // One mempool cache per lcore, shared by everything that runs there: a buffer freed
            // after a burst is the next one allocated, still in the CPU cache (rte_mempool's way).
            caches.add(pool.createCache(CACHE_SIZE));
        }
        List<Path> sockets = config.sockets();
        for (int i = 0; i < sockets.size(); i++) {
            String name = "vhost" + i;
            VirtioNetDevice device = VirtioNetDevice.builder(pool).name(name).queuePairs(config.queuePairs()).portId(i)
                    .mergeableRxBuffers(config.mergeable()).packedRing(config.packed()).stats(config.stats())
                    .cacheOfPair(k -> caches.get(lcoreOfPair(k))).build();
            devices.add(device);
            ports.add(new VhostUserPort(name, device, config.stats()));
        }
        attach();
        UdpPacketTemplate template = config.mode() == ForwardingMode.TXONLY
                ? new UdpPacketTemplate(config.txPacketLength(), SRC_MAC, DST_MAC) : null;
        if (config.mode() == ForwardingMode.SWITCH) {
            l2switch = L2Switch.builder(config.stats()).ports(forwardingPorts).macTableCapacity(config.macTableCapacity())
                    .age(config.macAge()).cache(caches.get(lcoreIndexOfStream(0))).build();
            pollers.add(l2switch);
            pollerLcores.add(lcoreIndexOfStream(0));
            fused = lcores.size() == 1 && l2switch.hasVhostUserPorts()
                    && !"false".equals(System.getProperty(ZERO_COPY_PROPERTY));
        }
        int j = 0;
        for (int i = 0; config.mode() != ForwardingMode.SWITCH && i < forwardingPorts.size(); i++) {
            Port port = forwardingPorts.get(i);
            for (int q = 0; q < port.queueCount(); q++) {
                int lcore = spread ? lcoreOfPair(q) : lcoreIndexOfStream(j++);
                Mempool.Cache cache = caches.get(lcore);
                ForwardingStream s = switch (config.mode()) {
                    case RXONLY -> new ForwardingStream(ForwardingMode.RXONLY, port, q, null, 0, null, cache);
                    case TXONLY -> new ForwardingStream(ForwardingMode.TXONLY, null, 0, port, q, template, cache);
                    case MACSWAP -> new ForwardingStream(ForwardingMode.MACSWAP, port, q, port, q, null, cache);
                    case IO -> new ForwardingStream(ForwardingMode.IO, port, q, ioPeer(i), q, null, cache);
                    case SWITCH -> throw new IllegalStateException("unreachable");
                };
                streams.add(s);
                pollers.add(s);
                pollerLcores.add(lcore);
            }
        }
        startStreams();
        for (int i = 0; i < sockets.size(); i++) {
            // Without spreading every vring goes to lcore 0; with it, the device groups each queue pair on lcore k % n.
            VhostUserBackend.Builder b = VhostUserBackend.builder(devices.get(i), spread ? lcores : List.of(lcores.get(0)))
                    .name(ports.get(i).name());
            backends.add(config.client() ? b.connect(sockets.get(i)) : b.listen(sockets.get(i)));
        }
    }

    private void attach() {
        if (attachments.captureDir() != null) {
            try {
                capture = CaptureJournal.builder(attachments.captureDir()).name("net").snapLength(attachments.snapLength())
                        .stats(config.stats()).start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create the capture journal in " + attachments.captureDir(), e);
            }
        }
        for (int i = 0; i < ports.size(); i++) {
            forwardingPorts.add(capture == null ? ports.get(i) : new CapturePort(ports.get(i), i, capture, true, true));
        }
        if (!attachments.taps().isEmpty() && config.mode() == ForwardingMode.IO && config.queuePairs() > 1) {
            throw new IllegalArgumentException("a tap port has one queue: io mode with taps needs --queues 1, got "
                    + config.queuePairs());
        }
        for (String name : attachments.taps()) {
            TapPort tap = TapPort.open(name, pool, config.stats(), ports.size() + taps.size());
            taps.add(tap);
            forwardingPorts.add(tap);
        }
    }

    private int lcoreIndexOfStream(int j) {
        return lcores.size() == 1 ? 0 : 1 + j % (lcores.size() - 1);
    }

    /** The lcore serving queue pair {@code k} of every device (as {@link VirtioNetDevice#lcoreGroupOf} places it). */
    private int lcoreOfPair(int k) {
        return spread ? k % config.cpus().length : 0;
    }

    /** Whether poller {@code j} runs inside its device's queue processing (same lcore as its queue pair). */
    private boolean runsLocal(int j) {
        return pollers.get(j) instanceof ForwardingStream s && s.canRunLocal()
                && pollerLcores.get(j) == lcoreOfPair(s.localQueue());
    }

    private Port ioPeer(int i) {
        if (forwardingPorts.size() == 1) {
            return forwardingPorts.get(0);
        }
        int peer = i ^ 1;
        return peer < forwardingPorts.size() ? forwardingPorts.get(peer) : forwardingPorts.get(i);
    }

    private static void await(java.util.concurrent.CompletableFuture<Void> f) {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("lcore did not take the command: " + e, e);
        }
    }

    /** @return the ports, in socket order */
    public List<VhostUserPort> ports() {
        return List.copyOf(ports);
    }

    /** @return the tap ports, in the order given */
    public List<TapPort> taps() {
        return List.copyOf(taps);
    }

    /** @return the capture of the vhost-user ports, or null */
    public CaptureJournal capture() {
        return capture;
    }

    /** @return the devices, in socket order */
    public List<VirtioNetDevice> devices() {
        return List.copyOf(devices);
    }

    /** @return the back-ends, in socket order */
    public List<VhostUserBackend> backends() {
        return List.copyOf(backends);
    }

    /** @return the lcores */
    public List<Lcore> lcores() {
        return List.copyOf(lcores);
    }

    /** @return the switch in switch mode, else null */
    public L2Switch l2switch() {
        return l2switch;
    }

    /** @return the packet pool */
    public Mempool pool() {
        return pool;
    }

    /** Starts the forwarding streams again after {@link #stopStreams()} (they start with the engine). */
    public synchronized void startStreams() {
        if (!streamLcores.isEmpty()) {
            return;
        }
        for (int j = 0; j < pollers.size(); j++) {
            Lcore l = lcores.get(pollerLcores.get(j));
            Poller p = pollers.get(j);
            if (runsLocal(j)) {
                // Same lcore as the device's queue pair: run inside the device's processing, no ring hop.
                ForwardingStream s = (ForwardingStream) p;
                await(l.execute(() -> s.runLocal(true)));
            } else {
                await(l.addPoller(p));
                if (p == l2switch && fused) {
                    // Same lcore as every device queue: frames go from guest to guest in one copy.
                    await(l.execute(() -> l2switch.fuse(true)));
                }
            }
            streamLcores.add(l);
        }
    }

    /**
     * Stops every forwarding stream (the back-ends keep serving their queues, so packets already
     * queued still reach the guests); for bounded runs whose counts are compared afterwards.
     */
    public synchronized void stopStreams() {
        for (int j = 0; j < streamLcores.size(); j++) {
            try {
                Lcore l = streamLcores.get(j);
                Poller p = pollers.get(j);
                if (runsLocal(j)) {
                    ForwardingStream s = (ForwardingStream) p;
                    l.execute(() -> s.runLocal(false)).get(10, TimeUnit.SECONDS);
                } else {
                    if (p == l2switch && fused) {
                        l.execute(() -> l2switch.fuse(false)).get(10, TimeUnit.SECONDS);
                    }
                    l.removePoller(p).get(10, TimeUnit.SECONDS);
                }
            } catch (Exception e) {
                // the lcore is gone; the stream no longer runs either way
            }
        }
        streamLcores.clear();
    }

    /** Stops the streams, closes the back-ends (devices reset), frees every buffer and counter. */
    @Override
    public void close() {
        stopStreams();
        backends.forEach(VhostUserBackend::close);
        streams.forEach(ForwardingStream::close);
        if (l2switch != null) {
            l2switch.close();
        }
        devices.forEach(VirtioNetDevice::close);
        ports.forEach(VhostUserPort::close);
        taps.forEach(TapPort::close);
        if (capture != null) {
            capture.close();
        }
        lcores.forEach(Lcore::close);
        caches.forEach(Mempool.Cache::close);
        pool.close();
    }
}

package io.ringway.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import io.ringway.net.capture.CaptureJournal;
import io.ringway.net.capture.CapturePort;
import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.net.l2switch.SwitchPortCounters;
import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.Port;
import io.ringway.net.port.PortCounters;
import io.ringway.net.port.RingPort;
import io.ringway.net.port.TapException;
import io.ringway.net.port.TapPort;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.bdev.DelayBlockDevice;
import io.ringway.storage.bdev.FileBlockDevice;
import io.ringway.storage.bdev.LatencyDistribution;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.storage.bdev.NullBlockDevice;
import io.ringway.storage.blk.BlkMetrics;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vhost.backend.VhostUserBackend;

/**
 * What {@code ringway serve} runs: a fixed set of lcores and, created and deleted at run time, block
 * devices (bdevs), vhost-user-blk controllers over them, net ports (vhost-user, tap, ring), one L2
 * switch over the ports attached to it, and packet captures of ports.
 *
 * <p>Every method is control plane and runs under this object's monitor; the data plane never takes
 * it. A device reaches the lcores through their command queues (the back-end adds its queue pollers
 * when a front-end starts a ring; the switch is swapped with a remove + add pair of commands), so
 * creating or deleting one never stops the lcores serving the others.
 *
 * <p>Paths given by a client (sockets, backing files, capture directories) must lie under one of the
 * allowed directories once symbolic links are resolved.
 *
 * <p>A capture mirrors a port into a {@link CaptureJournal} by putting a {@link CapturePort} in the
 * port's place in the switch (a switch swap, as for an attach); it is runtime state, like a
 * {@code dpdk-pdump} session: {@link #config()} does not list it, and deleting the port stops it.
 */
public final class DataPlane implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(DataPlane.class.getName());
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}");
    private static final int MEMPOOL_CACHE = 256;
    private static final int RING_PORT_CAPACITY = 1024;
    private static final long DRAIN_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(5);

    /** A bdev as created: the canonical parameters (what get_config prints) and the device. */
    record Bdev(BdevSpec spec, BlockDevice device) {
    }

    record Controller(ControllerSpec spec, VirtioBlkDevice device, VhostUserBackend backend) {
    }

    /** A net port; {@code id} is the input port id of its packets and the port id of its capture records. */
    record NetPort(PortSpec spec, int id, Port port, VirtioNetDevice device, VhostUserBackend backend, RingPort far) {
    }

    /** A capture of {@code port}: the journal and the wrapper that stands for the port in the switch. */
    record Capture(String port, int portId, Path dir, String direction, CaptureJournal journal, CapturePort mirror) {
    }

    private final List<Lcore> lcores;
    private final String lcoreList;
    private final List<Path> allowedDirs;
    private final StatsRegistry stats;
    private final int mbufs;
    private final Map<String, Bdev> bdevs = new LinkedHashMap<>();
    private final Map<String, Controller> controllers = new LinkedHashMap<>();
    private final Map<String, NetPort> ports = new LinkedHashMap<>();
    private final List<String> switchPorts = new ArrayList<>();
    private final Map<String, Capture> captures = new LinkedHashMap<>();
    private Mempool pool;
    private final List<Mempool.Cache> caches = new ArrayList<>();
    private L2Switch l2switch;
    private int placements;
    private int nextPortId;
    private boolean closed;

    /**
     * Starts the lcores.
     *
     * @param cpus        one lcore per entry, pinned to that CPU (-1: unpinned)
     * @param lcoreList   how the CPUs were written (for get_config), or null
     * @param idle        idle policy of every lcore
     * @param allowedDirs directories under which sockets and backing files may be
     * @param mbufs       packet buffers in the net pool (made at the first net port)
     */
    public DataPlane(int[] cpus, String lcoreList, IdlePolicy idle, List<Path> allowedDirs, int mbufs, StatsRegistry stats) {
        if (cpus.length == 0) {
            throw new IllegalArgumentException("at least one lcore is needed");
        }
        this.lcoreList = lcoreList;
        this.stats = Objects.requireNonNull(stats, "stats");
        this.mbufs = mbufs;
        List<Path> dirs = new ArrayList<>();
        for (Path d : allowedDirs) {
            try {
                dirs.add(d.toRealPath());
            } catch (IOException e) {
                throw new IllegalArgumentException("allowed directory " + d + " does not exist");
            }
        }
        this.allowedDirs = List.copyOf(dirs);
        List<Lcore> started = new ArrayList<>();
        try {
            for (int i = 0; i < cpus.length; i++) {
                started.add(Lcore.builder("serve-" + i).cpu(cpus[i]).idlePolicy(idle).stats(stats).start());
            }
        } catch (RuntimeException e) {
            started.forEach(Lcore::close);
            throw e;
        }
        this.lcores = List.copyOf(started);
    }

    /** @return the lcores, fixed for the daemon's life */
    public List<Lcore> lcores() {
        return lcores;
    }

    /** @return the directories paths must lie under */
    public List<Path> allowedDirs() {
        return allowedDirs;
    }

    // ---------------------------------------------------------------- bdevs

    /** Canonical bdev parameters; {@code type} is malloc, null, file or delay. */
    record BdevSpec(String name, String type, long size, int blockSize, String path, boolean direct, boolean readOnly,
            String base, String latency) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("type", type);
            switch (type) {
                case "malloc", "null" -> {
                    m.put("size", size);
                    m.put("block_size", blockSize);
                }
                case "file" -> {
                    m.put("path", path);
                    m.put("block_size", blockSize);
                    m.put("direct", direct);
                }
                case "delay" -> {
                    m.put("base", base);
                    m.put("latency", latency);
                }
                default -> throw new IllegalStateException(type);
            }
            if (!type.equals("delay")) {
                m.put("readonly", readOnly);
            }
            return m;
        }
    }

    /** Parses bdev parameters of {@code type} without creating anything. */
    BdevSpec bdevSpec(String where, String type, Params p) {
        return switch (type) {
            case "malloc", "null" -> {
                p.only("name", "type", "size", "block_size", "readonly");
                int bs = blockSize(p);
                long size = p.size("size");
                if (size % bs != 0) {
                    throw RpcException.params(where + ": size " + size + " is not a multiple of the block size " + bs);
                }
                yield new BdevSpec(name(p, "name"), type, size, bs, null, false, p.bool("readonly", false), null, null);
            }
            case "file" -> {
                p.only("name", "type", "path", "block_size", "direct", "readonly");
                yield new BdevSpec(name(p, "name"), type, 0, blockSize(p), p.string("path"), p.bool("direct", false),
                        p.bool("readonly", false), null, null);
            }
            case "delay" -> {
                p.only("name", "type", "base", "latency");
                String latency = p.string("latency");
                try {
                    LatencyDistribution.parse(latency);
                } catch (IllegalArgumentException e) {
                    throw RpcException.params(where + ": latency: " + e.getMessage());
                }
                yield new BdevSpec(name(p, "name"), type, 0, 0, null, false, false, p.string("base"), latency);
            }
            default -> throw RpcException.params(where + ": unknown bdev type '" + type + "' (known: malloc, null, file, delay)");
        };
    }

    private static int blockSize(Params p) {
        int bs = p.integer("block_size", 512, 0, Integer.MAX_VALUE);
        if (bs != 512 && bs != 4096) {
            throw RpcException.params("block_size must be 512 or 4096, got " + bs);
        }
        return bs;
    }

    /** Creates a bdev. */
    synchronized Map<String, Object> createBdev(BdevSpec s) {
        checkOpen();
        if (bdevs.containsKey(s.name())) {
            throw new RpcException(RpcException.ALREADY_EXISTS, "bdev " + s.name() + " already exists");
        }
        BlockDevice d;
        try {
            d = switch (s.type()) {
                case "malloc" -> {
                    // RAM bdevs take their memory at creation (MAP_POPULATE): what is free now is the limit,
                    // and the bdevs made earlier are already out of it.
                    io.ringway.runtime.sys.MemoryInfo.Available available = io.ringway.runtime.sys.MemoryInfo.available();
                    if (s.size() > available.bytes()) {
                        throw RpcException.params("bdev " + s.name() + ": size " + s.size()
                                + " bytes is beyond the memory available (" + available.bytes() + " bytes, "
                                + available.source() + ")");
                    }
                    yield new MallocBlockDevice(s.name(), s.size(), s.blockSize(), s.readOnly());
                }
                case "null" -> new NullBlockDevice(s.name(), s.size(), s.blockSize(), s.readOnly());
                case "file" -> {
                    Path file = allowedExisting("bdev " + s.name() + ": path", Path.of(s.path()));
                    if (!Files.isRegularFile(file)) {
                        throw RpcException.params("bdev " + s.name() + ": " + s.path() + " is not a regular file");
                    }
                    yield FileBlockDevice.open(s.name(), file, s.direct(), s.readOnly(), s.blockSize(),
                            FileBlockDevice.Engine.AUTO);
                }
                case "delay" -> {
                    Bdev base = bdevs.get(s.base());
                    if (base == null) {
                        throw new RpcException(RpcException.NOT_FOUND, "bdev " + s.name() + ": base bdev " + s.base()
                                + " does not exist");
                    }
                    List<String> users = usersOf(s.base());
                    if (!users.isEmpty()) {
                        throw new RpcException(RpcException.IN_USE, "bdev " + s.name() + ": base bdev " + s.base()
                                + " is already claimed by " + String.join(", ", users));
                    }
                    yield new DelayBlockDevice(base.device(), LatencyDistribution.parse(s.latency()));
                }
                default -> throw new IllegalStateException(s.type());
            };
        } catch (RpcException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw RpcException.params("bdev " + s.name() + ": " + e.getMessage());
        } catch (RuntimeException e) {
            throw new RpcException(RpcException.INTERNAL_ERROR, "bdev " + s.name() + ": " + e.getMessage());
        }
        bdevs.put(s.name(), new Bdev(s, d));
        return bdevInfo(bdevs.get(s.name()));
    }

    /** Deletes a bdev no controller or delay bdev uses. */
    synchronized void deleteBdev(String name) {
        checkOpen();
        Bdev b = bdevs.get(name);
        if (b == null) {
            throw new RpcException(RpcException.NOT_FOUND, "bdev " + name + " does not exist");
        }
        List<String> users = usersOf(name);
        if (!users.isEmpty()) {
            throw new RpcException(RpcException.IN_USE, "bdev " + name + " is in use by " + String.join(", ", users)
                    + "; delete that first");
        }
        bdevs.remove(name);
        // A delay bdev's close would close its base, which lives on as a bdev of its own.
        if (!b.spec().type().equals("delay")) {
            b.device().close();
        }
    }

    private List<String> usersOf(String bdev) {
        List<String> users = new ArrayList<>();
        for (Controller c : controllers.values()) {
            if (c.spec().bdev().equals(bdev)) {
                users.add("controller " + c.spec().name());
            }
        }
        for (Bdev b : bdevs.values()) {
            if (bdev.equals(b.spec().base())) {
                users.add("delay bdev " + b.spec().name());
            }
        }
        return users;
    }

    synchronized List<Object> getBdevs(String name) {
        List<Object> out = new ArrayList<>();
        for (Bdev b : bdevs.values()) {
            if (name == null || name.equals(b.spec().name())) {
                out.add(bdevInfo(b));
            }
        }
        if (name != null && out.isEmpty()) {
            throw new RpcException(RpcException.NOT_FOUND, "bdev " + name + " does not exist");
        }
        return out;
    }

    private Map<String, Object> bdevInfo(Bdev b) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", b.spec().name());
        m.put("type", b.spec().type());
        m.put("block_size", b.device().blockSize());
        m.put("num_blocks", b.device().blockCount());
        m.put("readonly", b.device().readOnly());
        m.put("describe", b.device().describe());
        m.put("claimed_by", usersOf(b.spec().name()));
        return m;
    }

    // ---------------------------------------------------------------- vhost-user-blk controllers

    record ControllerSpec(String name, String socket, String bdev, int queues, int queueSize, boolean readOnly,
            String serial, boolean client) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ctrlr", name);
            m.put("socket", socket);
            m.put("bdev", bdev);
            m.put("queues", queues);
            m.put("queue_size", queueSize);
            m.put("readonly", readOnly);
            m.put("serial", serial);
            m.put("client", client);
            return m;
        }
    }

    ControllerSpec controllerSpec(Params p) {
        p.only("ctrlr", "socket", "bdev", "queues", "queue_size", "readonly", "serial", "client");
        String name = name(p, "ctrlr");
        int qs = p.integer("queue_size", 256, 1, 32768);
        if (Integer.bitCount(qs) != 1) {
            throw RpcException.params("queue_size must be a power of 2, got " + qs);
        }
        String serial = p.string("serial", name);
        if (serial.length() > 20) {
            throw RpcException.params("serial is at most 20 bytes (virtio-blk GET_ID), got " + serial.length());
        }
        return new ControllerSpec(name, p.string("socket"), p.string("bdev"), p.integer("queues", 1, 1, 64), qs,
                p.bool("readonly", false), serial, p.bool("client", false));
    }

    synchronized Map<String, Object> createController(ControllerSpec s) {
        checkOpen();
        if (controllers.containsKey(s.name())) {
            throw new RpcException(RpcException.ALREADY_EXISTS, "controller " + s.name() + " already exists");
        }
        Bdev b = bdevs.get(s.bdev());
        if (b == null) {
            throw new RpcException(RpcException.NOT_FOUND, "controller " + s.name() + ": bdev " + s.bdev() + " does not exist");
        }
        List<String> users = usersOf(s.bdev());
        if (!users.isEmpty()) {
            throw new RpcException(RpcException.IN_USE, "controller " + s.name() + ": bdev " + s.bdev()
                    + " is already used by " + String.join(", ", users));
        }
        Path socket = socketPath("controller " + s.name(), s.socket(), s.client());
        VirtioBlkDevice device;
        try {
            device = VirtioBlkDevice.builder(b.device()).name(s.name()).queues(s.queues()).queueSize(s.queueSize())
                    .readOnly(s.readOnly()).serial(s.serial()).stats(stats).build();
        } catch (IllegalArgumentException e) {
            throw RpcException.params("controller " + s.name() + ": " + e.getMessage());
        }
        VhostUserBackend backend;
        try {
            VhostUserBackend.Builder bb = VhostUserBackend.builder(device, rotatedLcores()).name(s.name());
            backend = s.client() ? bb.connect(socket) : bb.listen(socket);
        } catch (RuntimeException e) {
            device.close();
            throw new RpcException(RpcException.INTERNAL_ERROR, "controller " + s.name() + ": cannot serve " + socket + ": "
                    + e.getMessage());
        }
        controllers.put(s.name(), new Controller(s, device, backend));
        return controllerInfo(controllers.get(s.name()));
    }

    /** Deletes a controller: its front-end (if any) is disconnected and the device reset first. */
    synchronized void deleteController(String name) {
        checkOpen();
        Controller c = controllers.remove(name);
        if (c == null) {
            throw new RpcException(RpcException.NOT_FOUND, "controller " + name + " does not exist");
        }
        closeController(c);
    }

    /**
     * Drains and closes a controller: the lcores stop taking requests, the ones taken complete and
     * are answered (up to {@link #DRAIN_TIMEOUT_NANOS}), then the front-end is disconnected and the
     * device reset.
     */
    private static void closeController(Controller c) {
        c.device().drain(true);
        long deadline = System.nanoTime() + DRAIN_TIMEOUT_NANOS;
        while (c.device().inFlight() > 0 && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
        if (c.device().inFlight() > 0) {
            LOG.log(System.Logger.Level.WARNING, "controller " + c.spec().name() + ": " + c.device().inFlight()
                    + " request(s) still in flight after " + DRAIN_TIMEOUT_NANOS / 1_000_000 + " ms; disconnecting anyway");
        }
        c.backend().close();
        c.device().close();
        if (!c.spec().client()) {
            try {
                Files.deleteIfExists(Path.of(c.spec().socket()));
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "controller " + c.spec().name() + ": cannot remove its socket: " + e);
            }
        }
    }

    synchronized List<Object> getControllers(String name) {
        List<Object> out = new ArrayList<>();
        for (Controller c : controllers.values()) {
            if (name == null || name.equals(c.spec().name())) {
                out.add(controllerInfo(c));
            }
        }
        if (name != null && out.isEmpty()) {
            throw new RpcException(RpcException.NOT_FOUND, "controller " + name + " does not exist");
        }
        return out;
    }

    private static Map<String, Object> controllerInfo(Controller c) {
        Map<String, Object> m = new LinkedHashMap<>(c.spec().toMap());
        m.put("connected", c.backend().connected());
        m.put("sessions", c.backend().sessions());
        m.put("lcores", c.backend().lcores().stream().map(Lcore::name).toList());
        return m;
    }

    /** Spreads devices over the lcores: each new one starts its queue placement one lcore further on. */
    private List<Lcore> rotatedLcores() {
        int k = placements++ % lcores.size();
        List<Lcore> r = new ArrayList<>(lcores.subList(k, lcores.size()));
        r.addAll(lcores.subList(0, k));
        return r;
    }

    // ---------------------------------------------------------------- net ports and switch

    record PortSpec(String name, String type, String socket, int queues, boolean client) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("type", type);
            if (type.equals("vhost-user")) {
                m.put("socket", socket);
                m.put("client", client);
            }
            if (!type.equals("tap")) {
                m.put("queues", queues);
            }
            return m;
        }
    }

    PortSpec portSpec(Params p) {
        String type = p.string("type");
        switch (type) {
            case "vhost-user" -> {
                p.only("name", "type", "socket", "queues", "client");
                return new PortSpec(name(p, "name"), type, p.string("socket"), p.integer("queues", 1, 1, 16),
                        p.bool("client", false));
            }
            case "ring" -> {
                p.only("name", "type", "queues");
                return new PortSpec(name(p, "name"), type, null, p.integer("queues", 1, 1, 16), false);
            }
            case "tap" -> {
                // The port's name is the tap device's name: one queue, no socket.
                p.only("name", "type");
                String name = name(p, "name");
                try {
                    TapPort.checkName(name);
                } catch (IllegalArgumentException e) {
                    throw RpcException.params("net port " + name + ": " + e.getMessage());
                }
                return new PortSpec(name, type, null, 1, false);
            }
            default -> throw RpcException.params("unknown net port type '" + type + "' (known: vhost-user, tap, ring)");
        }
    }

    synchronized Map<String, Object> createPort(PortSpec s) {
        checkOpen();
        if (ports.containsKey(s.name())) {
            throw new RpcException(RpcException.ALREADY_EXISTS, "net port " + s.name() + " already exists");
        }
        ensurePool();
        int index = placements++ % lcores.size();
        if (s.type().equals("ring")) {
            RingPort[] pair = RingPort.pair(s.name(), s.name() + ".far", s.queues(), RING_PORT_CAPACITY, pool, stats);
            ports.put(s.name(), new NetPort(s, nextPortId++ & 0xffff, pair[0], null, null, pair[1]));
            return portInfo(ports.get(s.name()));
        }
        if (s.type().equals("tap")) {
            int id = nextPortId & 0xffff;
            TapPort tap;
            try {
                tap = TapPort.open(s.name(), pool, stats, id);
            } catch (TapException e) {
                int code = switch (e.reason()) {
                    case BUSY -> RpcException.IN_USE;
                    case NOT_A_TAP -> RpcException.ALREADY_EXISTS;
                    default -> RpcException.INTERNAL_ERROR;
                };
                throw new RpcException(code, "net port " + s.name() + ": " + e.getMessage());
            } catch (IllegalArgumentException e) {
                throw RpcException.params("net port " + s.name() + ": " + e.getMessage());
            }
            nextPortId++;
            ports.put(s.name(), new NetPort(s, id, tap, null, null, null));
            return portInfo(ports.get(s.name()));
        }
        Path socket = socketPath("net port " + s.name(), s.socket(), s.client());
        int id = nextPortId++ & 0xffff;
        VirtioNetDevice device = VirtioNetDevice.builder(pool).name(s.name()).queuePairs(s.queues()).portId(id)
                .stats(stats).cache(caches.get(index)).build();
        VhostUserPort port = new VhostUserPort(s.name(), device, stats);
        VhostUserBackend backend;
        try {
            VhostUserBackend.Builder bb = VhostUserBackend.builder(device, lcores.get(index)).name(s.name());
            backend = s.client() ? bb.connect(socket) : bb.listen(socket);
        } catch (RuntimeException e) {
            device.close();
            port.close();
            throw new RpcException(RpcException.INTERNAL_ERROR, "net port " + s.name() + ": cannot serve " + socket + ": "
                    + e.getMessage());
        }
        ports.put(s.name(), new NetPort(s, id, port, device, backend, null));
        return portInfo(ports.get(s.name()));
    }

    synchronized void deletePort(String name) {
        checkOpen();
        NetPort p = ports.get(name);
        if (p == null) {
            throw new RpcException(RpcException.NOT_FOUND, "net port " + name + " does not exist");
        }
        if (switchPorts.remove(name)) {
            rebuildSwitch();
        }
        Capture c = captures.remove(name);
        if (c != null) {
            finishCapture(c);
        }
        ports.remove(name);
        closePort(p);
    }

    private static void closePort(NetPort p) {
        if (p.backend() != null) {
            p.backend().close();
            p.device().close();
            ((VhostUserPort) p.port()).close();
            if (!p.spec().client()) {
                try {
                    Files.deleteIfExists(Path.of(p.spec().socket()));
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "net port " + p.spec().name() + ": cannot remove its socket: " + e);
                }
            }
        } else if (p.port() instanceof TapPort tap) {
            tap.close(); // the device is not persistent: closing its fd removes it
        } else {
            p.far().close();
            ((RingPort) p.port()).close();
        }
    }

    /** Attaches a port to the switch (the switch is made at the first attach). */
    synchronized void attach(String name) {
        checkOpen();
        if (!ports.containsKey(name)) {
            throw new RpcException(RpcException.NOT_FOUND, "net port " + name + " does not exist");
        }
        if (switchPorts.contains(name)) {
            throw new RpcException(RpcException.ALREADY_EXISTS, "net port " + name + " is already attached to the switch");
        }
        switchPorts.add(name);
        rebuildSwitch();
    }

    synchronized void detach(String name) {
        checkOpen();
        if (!switchPorts.remove(name)) {
            throw new RpcException(RpcException.NOT_FOUND, "net port " + name + " is not attached to the switch");
        }
        rebuildSwitch();
    }

    /**
     * Replaces the running switch by one over {@link #switchPorts}: the lcore gets the removal of the
     * old poller and the addition of the new one back to back, so the other ports see at most one
     * loop iteration without switching. The MAC table starts empty again (relearned from traffic).
     */
    private void rebuildSwitch() {
        Lcore l = lcores.getLast();
        L2Switch old = l2switch;
        L2Switch next = null;
        if (!switchPorts.isEmpty()) {
            L2Switch.Builder b = L2Switch.builder(stats).name("switch").cache(caches.get(lcores.size() - 1));
            switchPorts.forEach(n -> b.port(switchSide(n)));
            next = b.build();
        }
        CompletableFuture<Void> removed = old == null ? CompletableFuture.completedFuture(null) : l.removePoller(old);
        CompletableFuture<Void> added = next == null ? CompletableFuture.completedFuture(null) : l.addPoller(next);
        await(removed, "switch removal");
        await(added, "switch start");
        l2switch = next;
        if (old != null) {
            old.close();
        }
    }

    /** What the switch polls for port {@code name}: the port, or its capture mirror. */
    private Port switchSide(String name) {
        Capture c = captures.get(name);
        return c != null ? c.mirror() : ports.get(name).port();
    }

    synchronized List<Object> getPorts(String name) {
        List<Object> out = new ArrayList<>();
        for (NetPort p : ports.values()) {
            if (name == null || name.equals(p.spec().name())) {
                out.add(portInfo(p));
            }
        }
        if (name != null && out.isEmpty()) {
            throw new RpcException(RpcException.NOT_FOUND, "net port " + name + " does not exist");
        }
        return out;
    }

    private Map<String, Object> portInfo(NetPort p) {
        Map<String, Object> m = new LinkedHashMap<>(p.spec().toMap());
        m.put("port_id", p.id());
        m.put("attached", switchPorts.contains(p.spec().name()));
        if (p.backend() != null) {
            m.put("connected", p.backend().connected());
            m.put("active", p.device().isActive());
        }
        if (p.port() instanceof TapPort tap) {
            m.put("device", tap.name());
            m.put("io_errors", tap.ioErrors());
        }
        Capture c = captures.get(p.spec().name());
        m.put("capture", c == null ? null : c.dir().toString());
        m.putAll(counters(p.port().counters()));
        return m;
    }

    private static Map<String, Object> counters(PortCounters c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rx_packets", c.rxPackets.get());
        m.put("rx_bytes", c.rxBytes.get());
        m.put("tx_packets", c.txPackets.get());
        m.put("tx_bytes", c.txBytes.get());
        m.put("tx_drops", c.txDrops.get());
        m.put("rx_drops", c.rxDrops.get());
        return m;
    }

    // ---------------------------------------------------------------- captures

    /** What capture_start asks for. */
    record CaptureSpec(String port, String dir, int snap, String direction) {
    }

    static CaptureSpec captureSpec(Params p) {
        p.only("port", "dir", "snap", "direction");
        String direction = p.string("direction", "both");
        if (!direction.equals("rx") && !direction.equals("tx") && !direction.equals("both")) {
            throw RpcException.params("direction must be rx, tx or both, got '"
                    + (direction.length() > 16 ? direction.substring(0, 16) + "..." : direction) + "'");
        }
        return new CaptureSpec(p.string("port"), p.string("dir"), p.integer("snap", CaptureJournal.DEFAULT_SNAP_LENGTH, 1, 65535),
                direction);
    }

    /**
     * Starts mirroring a port into a capture journal in {@code dir} (created if needed, appended to if
     * it holds one). If the port is attached, the switch is swapped for one that polls the mirror in
     * its place (through the lcore's command queue, as an attach is: the MAC table is relearned, so
     * the next few frames are flooded); a port not attached is captured once attached.
     */
    synchronized Map<String, Object> startCapture(CaptureSpec s) {
        checkOpen();
        NetPort p = ports.get(s.port());
        if (p == null) {
            throw new RpcException(RpcException.NOT_FOUND, "capture: net port " + s.port() + " does not exist");
        }
        Capture running = captures.get(s.port());
        if (running != null) {
            throw new RpcException(RpcException.ALREADY_EXISTS, "capture: net port " + s.port() + " is already captured into "
                    + running.dir() + " (capture_stop it first)");
        }
        Path dir = captureDir("capture of " + s.port() + ": dir", s.dir());
        for (Capture c : captures.values()) {
            if (c.dir().equals(dir)) {
                throw new RpcException(RpcException.IN_USE, "capture of " + s.port() + ": dir " + s.dir()
                        + " is already the journal of the capture of " + c.port());
            }
        }
        CaptureJournal journal;
        try {
            journal = CaptureJournal.builder(dir).name(s.port()).snapLength(s.snap()).stats(stats).start();
        } catch (IOException | RuntimeException e) {
            throw new RpcException(RpcException.INTERNAL_ERROR, "capture of " + s.port() + ": cannot start a journal in " + dir
                    + ": " + e.getMessage());
        }
        boolean rx = !s.direction().equals("tx");
        boolean tx = !s.direction().equals("rx");
        Capture c = new Capture(s.port(), p.id(), dir, s.direction(), journal, new CapturePort(p.port(), p.id(), journal, rx, tx));
        captures.put(s.port(), c);
        if (switchPorts.contains(s.port())) {
            try {
                rebuildSwitch();
            } catch (RuntimeException e) {
                captures.remove(s.port());
                journal.close();
                throw e;
            }
        }
        return captureInfo(c);
    }

    /**
     * Stops the capture of a port: the switch goes back to polling the port itself, then the writer
     * journals what the ring still holds and the journal is closed.
     *
     * @return the capture's final counts
     */
    synchronized Map<String, Object> stopCapture(String port) {
        checkOpen();
        Capture c = captures.get(port);
        if (c == null) {
            throw new RpcException(RpcException.NOT_FOUND, ports.containsKey(port)
                    ? "capture: net port " + port + " is not being captured"
                    : "capture: net port " + port + " does not exist");
        }
        captures.remove(port);
        if (switchPorts.contains(port)) {
            try {
                rebuildSwitch(); // once the lcore took it, nothing captures into the journal any more
            } catch (RuntimeException e) {
                captures.put(port, c); // still polled by the switch: still running
                throw e;
            }
        }
        return finishCapture(c);
    }

    /** Waits for the writer to journal what was captured, then closes the journal; call once no lcore captures. */
    private static Map<String, Object> finishCapture(Capture c) {
        boolean complete = c.journal().awaitWritten(DRAIN_TIMEOUT_NANOS, TimeUnit.NANOSECONDS);
        Map<String, Object> m = captureInfo(c);
        m.put("complete", complete);
        Throwable failure = c.journal().writerFailure();
        if (failure != null) {
            m.put("writer_error", String.valueOf(failure));
        }
        c.journal().close(); // frees the counters: read above
        return m;
    }

    private static Map<String, Object> captureInfo(Capture c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("port", c.port());
        m.put("port_id", c.portId());
        m.put("dir", c.dir().toString());
        m.put("direction", c.direction());
        m.put("snap", c.journal().snapLength());
        m.put("captured", c.journal().captured());
        m.put("written", c.journal().written());
        m.put("dropped", c.journal().dropped());
        return m;
    }

    synchronized List<Object> getCaptures() {
        return captures.values().stream().map(c -> (Object) captureInfo(c)).toList();
    }

    /** A capture directory: if it exists it must be an allowed directory; if not, its parent must be allowed. */
    private Path captureDir(String what, String text) {
        Path p = Path.of(text).toAbsolutePath().normalize();
        if (Files.exists(p)) {
            Path real = allowedExisting(what, p);
            if (!Files.isDirectory(real)) {
                throw RpcException.params(what + " " + text + " exists and is not a directory");
            }
            return real;
        }
        Path parent = p.getParent();
        if (parent == null) {
            throw RpcException.params(what + " " + text + " has no parent directory");
        }
        return allowedExisting(what + " " + text + ": its parent", parent).resolve(p.getFileName());
    }

    /**
     * The far end of a ring port, for whoever embeds the daemon (tests, an in-process generator):
     * what is sent into it arrives at the port, what the port sends comes out of it.
     */
    public synchronized Port ringPeer(String name) {
        NetPort p = ports.get(name);
        if (p == null || p.far() == null) {
            throw new IllegalArgumentException("no ring port " + name);
        }
        return p.far();
    }

    private void ensurePool() {
        if (pool == null) {
            pool = Mbuf.createPool(mbufs);
            for (int i = 0; i < lcores.size(); i++) {
                caches.add(pool.createCache(MEMPOOL_CACHE));
            }
        }
    }

    // ---------------------------------------------------------------- stats and config

    synchronized Map<String, Object> stats() {
        Map<String, Object> m = new LinkedHashMap<>();
        List<Object> ls = new ArrayList<>();
        for (Lcore l : lcores) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("name", l.name());
            x.put("running", l.isRunning());
            x.put("busy_iterations", l.busyIterations());
            x.put("idle_iterations", l.idleIterations());
            x.put("sleeps", l.sleeps());
            ls.add(x);
        }
        m.put("lcores", ls);
        List<Object> cs = new ArrayList<>();
        for (Controller c : controllers.values()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("ctrlr", c.spec().name());
            x.put("connected", c.backend().connected());
            List<BlkMetrics> q = c.device().metrics();
            x.put("requests", q.stream().mapToLong(BlkMetrics::requests).sum());
            x.put("reads", q.stream().mapToLong(BlkMetrics::reads).sum());
            x.put("writes", q.stream().mapToLong(BlkMetrics::writes).sum());
            x.put("bytes_read", q.stream().mapToLong(BlkMetrics::bytesRead).sum());
            x.put("bytes_written", q.stream().mapToLong(BlkMetrics::bytesWritten).sum());
            x.put("errors", q.stream().mapToLong(BlkMetrics::errors).sum());
            cs.add(x);
        }
        m.put("controllers", cs);
        List<Object> ps = new ArrayList<>();
        for (NetPort p : ports.values()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("name", p.spec().name());
            x.putAll(counters(p.port().counters()));
            if (p.port() instanceof TapPort tap) {
                x.put("io_errors", tap.ioErrors());
            }
            ps.add(x);
        }
        m.put("net_ports", ps);
        m.put("captures", getCaptures());
        if (l2switch != null) {
            List<Object> sw = new ArrayList<>();
            for (int i = 0; i < switchPorts.size(); i++) {
                SwitchPortCounters c = l2switch.counters(i);
                Map<String, Object> x = new LinkedHashMap<>();
                x.put("port", switchPorts.get(i));
                x.put("rx", c.rx.get());
                x.put("tx", c.tx.get());
                x.put("flooded", c.flooded.get());
                x.put("learned", c.learned.get());
                x.put("dropped", c.dropped.get());
                sw.add(x);
            }
            m.put("switch", sw);
        }
        return m;
    }

    /** A config that recreates the current state (see {@link ServeConfig}). */
    synchronized Map<String, Object> config() {
        Map<String, Object> m = new LinkedHashMap<>();
        if (lcoreList != null) {
            m.put("lcores", lcoreList);
        }
        m.put("bdevs", bdevs.values().stream().map(b -> (Object) b.spec().toMap()).toList());
        m.put("vhost_controllers", controllers.values().stream().map(c -> (Object) c.spec().toMap()).toList());
        m.put("net_ports", ports.values().stream().map(p -> (Object) p.spec().toMap()).toList());
        m.put("switch_ports", List.copyOf(switchPorts));
        return m;
    }

    synchronized Map<String, Bdev> bdevMap() {
        return new LinkedHashMap<>(bdevs);
    }

    synchronized Map<String, Controller> controllerMap() {
        return new LinkedHashMap<>(controllers);
    }

    synchronized Map<String, NetPort> portMap() {
        return new LinkedHashMap<>(ports);
    }

    synchronized List<String> switchPortList() {
        return List.copyOf(switchPorts);
    }

    // ---------------------------------------------------------------- checks

    private static String name(Params p, String key) {
        String n = p.string(key);
        if (!NAME.matcher(n).matches()) {
            throw RpcException.params(key + " '" + (n.length() > 70 ? n.substring(0, 70) + "..." : n)
                    + "' is not a name: 1 to 64 of A-Z a-z 0-9 _ . : - (not starting with a punctuation mark)");
        }
        return n;
    }

    /** A socket path: its directory must be allowed; a listening socket must not be in use by another device. */
    private Path socketPath(String what, String text, boolean client) {
        Path p = Path.of(text).toAbsolutePath().normalize();
        Path parent = p.getParent();
        if (parent == null) {
            throw RpcException.params(what + ": socket " + text + " has no directory");
        }
        Path real = allowedExisting(what + ": socket directory", parent).resolve(p.getFileName());
        for (Controller c : controllers.values()) {
            if (Path.of(c.spec().socket()).toAbsolutePath().normalize().equals(p)) {
                throw new RpcException(RpcException.ALREADY_EXISTS, what + ": socket " + text + " is already used by controller "
                        + c.spec().name());
            }
        }
        for (NetPort n : ports.values()) {
            if (n.spec().socket() != null && Path.of(n.spec().socket()).toAbsolutePath().normalize().equals(p)) {
                throw new RpcException(RpcException.ALREADY_EXISTS, what + ": socket " + text + " is already used by net port "
                        + n.spec().name());
            }
        }
        if (!client && Files.exists(real, java.nio.file.LinkOption.NOFOLLOW_LINKS) && !isSocket(real)) {
            throw RpcException.params(what + ": " + text + " exists and is not a socket");
        }
        return real;
    }

    private static boolean isSocket(Path p) {
        try {
            return Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS).isOther();
        } catch (IOException e) {
            return false;
        }
    }

    /** Resolves {@code p} (which must exist) and checks it lies under an allowed directory. */
    Path allowedExisting(String what, Path p) {
        Path real;
        try {
            real = p.toAbsolutePath().normalize().toRealPath();
        } catch (IOException e) {
            throw RpcException.params(what + " " + p + " does not exist");
        }
        for (Path d : allowedDirs) {
            if (real.startsWith(d)) {
                return real;
            }
        }
        throw RpcException.params(what + " " + p + " is outside the allowed directories " + allowedDirs
                + " (ringway serve --allow-dir)");
    }

    private void checkOpen() {
        if (closed) {
            throw new RpcException(RpcException.INTERNAL_ERROR, "the daemon is shutting down");
        }
    }

    private static void await(CompletableFuture<Void> f, String what) {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new RpcException(RpcException.INTERNAL_ERROR, what + ": the lcore did not take the command: " + e);
        }
    }

    /**
     * Shuts down: every front-end is disconnected (controllers first, so block I/O the bdevs
     * completed is published before the device resets), then the switch, ports, bdevs and lcores.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Controller c : controllers.values()) {
            closeController(c);
        }
        controllers.clear();
        if (l2switch != null) {
            try {
                lcores.getLast().removePoller(l2switch).get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "switch removal: " + e);
            }
            l2switch.close();
            l2switch = null;
        }
        for (Capture c : captures.values()) {
            finishCapture(c);
        }
        captures.clear();
        for (NetPort p : ports.values()) {
            closePort(p);
        }
        ports.clear();
        List<Bdev> reverse = new ArrayList<>(bdevs.values());
        java.util.Collections.reverse(reverse);
        for (Bdev b : reverse) {
            if (!b.spec().type().equals("delay")) {
                b.device().close();
            }
        }
        bdevs.clear();
        lcores.forEach(Lcore::close);
        caches.forEach(Mempool.Cache::close);
        if (pool != null) {
            pool.close();
        }
    }
}

package io.ringway.vhost.backend;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;
import io.ringway.vhost.inflight.InflightAreaException;
import io.ringway.vhost.inflight.PackedInflightQueue;
import io.ringway.vhost.inflight.SplitInflightQueue;
import io.ringway.vhost.protocol.MemoryRegion;
import io.ringway.vhost.protocol.VhostUserMessage;
import io.ringway.vhost.protocol.VhostUserPayload;
import io.ringway.vhost.protocol.VhostUserProtocolFeature;
import io.ringway.vhost.protocol.VhostUserRequest;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryException;
import io.ringway.vhost.virtio.GuestMemoryRegion;
import io.ringway.vhost.virtio.PackedQueue;
import io.ringway.vhost.virtio.PackedRing;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.SplitQueue;
import io.ringway.vhost.virtio.SplitRing;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.VirtqueueException;
import io.ringway.vhost.virtio.Virtqueue;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The back-end state of one front-end connection: negotiated features, the memory table, the
 * vrings and the in-flight area; turns each decoded request into state changes and a reply.
 *
 * <p>Runs on the connection's control thread. Each vring has its lcore (fixed placement; several
 * lcores may serve one device). Everything an lcore touches (a started vring's queue, its call fd,
 * the memory its queues use) changes either before the vring's poller is added or on the vring's
 * lcore through {@link Lcore#execute}, and the control thread waits for the acknowledgement of
 * every lcore concerned before it frees anything one of them might still use.
 *
 * <p>Fd ownership: {@link #handle} takes every fd of the message; the ones a handler keeps are
 * taken out of the array, and the rest are closed when the handler returns or fails.
 */
final class VhostUserSession implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VhostUserSession.class.getName());
    private static final long PROTOCOL_FEATURES_BIT = 1L << VhostUserProtocolFeature.VIRTIO_F_PROTOCOL_FEATURES_BIT;
    private static final int O_NONBLOCK = LibC.O_NONBLOCK;

    /** Settings shared by every session of a back-end. */
    record Settings(String name, long protocolFeatures, int maxMemSlots, Duration lcoreTimeout,
                    MemoryTableObserver observer) {
    }

    private final Settings settings;
    private final VirtioDevice device;
    private final VhostUserDeviceHooks hooks;
    /** The lcore of each vring. */
    private final Lcore[] lcoreOf;
    /** Each distinct lcore of the device (placement order) and the vrings placed on it. */
    private final Map<Lcore, int[]> vringsOfLcore;
    private final long offeredFeatures;
    private final Vring[] vrings;
    private final List<Virtqueue> deviceQueues;

    private long features;
    private long protocolFeatures;
    private int status;
    private boolean deviceActive;
    private GuestMemory memory;
    private List<Mapped> regions = List.of();
    private AutoCloseable inflightOwner;
    private MemorySegment inflightArea;
    private int inflightQueues;
    private int inflightQueueSize;

    /** One memory table entry and its mapping. */
    private record Mapped(MemoryRegion region, FdMapping mapping) {
        GuestMemoryRegion guestRegion() {
            return new GuestMemoryRegion(region.guestPhysAddr(), region.memorySize(), region.userspaceAddr(),
                    region.mmapOffset(), mapping.segment(), null);
        }
    }

    /** The back-end state of one vring. */
    private static final class Vring {
        final int index;
        final NotifyingQueue queue = new NotifyingQueue();
        SplitQueue split;
        PackedQueue packed;
        int num;
        VhostUserPayload.VringAddress addr;
        int base;
        boolean baseSet;
        boolean kickSet;
        int kickFd = -1;
        int callFd = -1;
        int errFd = -1;
        boolean enabled;
        boolean activated;
        QueueConfig config;
        VringPoller poller;

        Vring(int index) {
            this.index = index;
        }
    }

    VhostUserSession(Settings settings, VirtioDevice device, Lcore[] lcoreOf) {
        this.settings = settings;
        this.device = device;
        this.hooks = device instanceof VhostUserDeviceHooks h ? h : new VhostUserDeviceHooks() {
        };
        if (lcoreOf.length != device.queueCount()) {
            throw new IllegalArgumentException(lcoreOf.length + " placements for " + device.queueCount() + " queues");
        }
        this.lcoreOf = lcoreOf.clone();
        Map<Lcore, List<Integer>> byLcore = new IdentityHashMap<>();
        List<Lcore> order = new ArrayList<>();
        for (int i = 0; i < lcoreOf.length; i++) {
            if (!byLcore.containsKey(lcoreOf[i])) {
                order.add(lcoreOf[i]);
            }
            byLcore.computeIfAbsent(lcoreOf[i], k -> new ArrayList<>()).add(i);
        }
        Map<Lcore, int[]> m = new LinkedHashMap<>();
        for (Lcore l : order) {
            m.put(l, byLcore.get(l).stream().mapToInt(Integer::intValue).toArray());
        }
        this.vringsOfLcore = Collections.unmodifiableMap(m);
        this.offeredFeatures = device.deviceFeatures() | PROTOCOL_FEATURES_BIT;
        this.vrings = new Vring[device.queueCount()];
        List<Virtqueue> queues = new ArrayList<>();
        for (int i = 0; i < vrings.length; i++) {
            vrings[i] = new Vring(i);
            queues.add(vrings[i].queue);
        }
        this.deviceQueues = List.copyOf(queues);
    }

    /** The memory currently mapped, or null before the first memory table. */
    GuestMemory memory() {
        return memory;
    }

    /**
     * Handles one request.
     *
     * @param message a decoded request; the session takes its fds
     * @return the reply body for a request that always gets one, else null (the caller sends the
     *     REPLY_ACK status when NEED_REPLY was set)
     * @throws SessionException when a rule is broken
     */
    VhostUserMessage handle(VhostUserMessage message) {
        int[] fds = message.fds();
        try {
            VhostUserRequest request = message.request();
            var required = request.requiredFeature();
            if (required.isPresent() && !required.get().isSetIn(protocolFeatures)) {
                throw new SessionException(request.alwaysReplies()
                        ? SessionRule.PROTOCOL_FEATURE_NOT_NEGOTIATED_FOR_REPLY
                        : SessionRule.PROTOCOL_FEATURE_NOT_NEGOTIATED,
                        request + " needs VHOST_USER_PROTOCOL_F_" + required.get()
                                + ", negotiated protocol features 0x" + Long.toHexString(protocolFeatures));
            }
            return dispatch(request, message.payload(), fds);
        } finally {
            for (int fd : fds) {
                LibC.closeQuietly(fd);
            }
        }
    }

    private VhostUserMessage dispatch(VhostUserRequest request, VhostUserPayload payload, int[] fds) {
        switch (request) {
            case GET_FEATURES -> {
                return reply(request, new VhostUserPayload.U64(offeredFeatures));
            }
            case SET_FEATURES -> setFeatures(u64(payload));
            case SET_OWNER -> {
                // vhost-user.rst: "Issued when a new connection is established"; nothing to set up.
            }
            case RESET_OWNER, RESET_DEVICE -> resetDevice(request.name());
            case GET_PROTOCOL_FEATURES -> {
                return reply(request, new VhostUserPayload.U64(settings.protocolFeatures()));
            }
            case SET_PROTOCOL_FEATURES -> setProtocolFeatures(u64(payload));
            case SET_MEM_TABLE -> setMemTable((VhostUserPayload.MemoryTable) payload, fds);
            case GET_MAX_MEM_SLOTS -> {
                return reply(request, new VhostUserPayload.U64(settings.maxMemSlots()));
            }
            case ADD_MEM_REG -> addMemReg(((VhostUserPayload.SingleMemoryRegion) payload).region(), fds);
            case REM_MEM_REG -> remMemReg(((VhostUserPayload.SingleMemoryRegion) payload).region());
            case SET_VRING_NUM -> setVringNum((VhostUserPayload.VringState) payload);
            case SET_VRING_ADDR -> setVringAddr((VhostUserPayload.VringAddress) payload);
            case SET_VRING_BASE -> setVringBase((VhostUserPayload.VringState) payload);
            case GET_VRING_BASE -> {
                int index = ((VhostUserPayload.VringState) payload).index();
                return reply(request, new VhostUserPayload.VringState(index, getVringBase(index)));
            }
            case SET_VRING_KICK -> setVringKick((VhostUserPayload.VringFile) payload, fds);
            case SET_VRING_CALL -> setVringCall((VhostUserPayload.VringFile) payload, fds);
            case SET_VRING_ERR -> setVringErr((VhostUserPayload.VringFile) payload, fds);
            case SET_VRING_ENABLE -> setVringEnable((VhostUserPayload.VringState) payload);
            case GET_QUEUE_NUM -> {
                return reply(request, new VhostUserPayload.U64(hooks.vhostUserQueueNum(device.queueCount())));
            }
            case GET_CONFIG -> {
                VhostUserPayload.Config c = (VhostUserPayload.Config) payload;
                byte[] data = device.readConfig(c.offset(), c.size());
                if (data == null || data.length != c.size()) {
                    data = Arrays.copyOf(data == null ? new byte[0] : data, c.size());
                }
                return reply(request, new VhostUserPayload.Config(c.offset(), c.flags(), data));
            }
            case SET_CONFIG -> {
                VhostUserPayload.Config c = (VhostUserPayload.Config) payload;
                try {
                    device.writeConfig(c.offset(), c.data());
                } catch (RuntimeException e) {
                    throw new SessionException(SessionRule.CONFIG_ACCESS_INVALID, "offset " + c.offset() + " size "
                            + c.size() + ": " + e.getMessage(), e);
                }
            }
            case GET_INFLIGHT_FD -> {
                return getInflightFd((VhostUserPayload.Inflight) payload);
            }
            case SET_INFLIGHT_FD -> setInflightFd((VhostUserPayload.Inflight) payload, fds);
            case SET_LOG_BASE -> {
                // Dirty logging is not implemented: VHOST_F_LOG_ALL is never offered, so a front-end
                // cannot start a migration that needs the log. The fd is closed unused.
                return reply(request, VhostUserPayload.Empty.INSTANCE);
            }
            case SET_LOG_FD -> {
                // As SET_LOG_BASE: no dirty log, the eventfd is closed unused.
            }
            case SET_STATUS -> status = (int) (u64(payload) & 0xff);
            case GET_STATUS -> {
                return reply(request, new VhostUserPayload.U64(status));
            }
            case SEND_RARP -> {
                long v = u64(payload);
                byte[] mac = new byte[6];
                for (int i = 0; i < 6; i++) {
                    mac[i] = (byte) (v >>> (8 * i));
                }
                if (!hooks.sendRarp(mac)) {
                    throw new SessionException(SessionRule.UNSUPPORTED_REQUEST, "the device does not send RARP");
                }
            }
            case NET_SET_MTU -> {
                long mtu = u64(payload);
                if (mtu <= 0 || mtu > Integer.MAX_VALUE || !hooks.setMtu((int) mtu)) {
                    throw new SessionException(SessionRule.UNSUPPORTED_REQUEST, "the device did not accept MTU " + mtu);
                }
            }
            default -> throw new SessionException(SessionRule.UNSUPPORTED_REQUEST, request.name());
        }
        return null;
    }

    private static VhostUserMessage reply(VhostUserRequest request, VhostUserPayload payload, int... fds) {
        return VhostUserMessage.reply(request, payload, fds);
    }

    private static long u64(VhostUserPayload payload) {
        return ((VhostUserPayload.U64) payload).value();
    }

    private static int take(int[] fds, int i) {
        int fd = fds[i];
        fds[i] = -1;
        return fd;
    }

    // ------------------------------------------------------------------ features

    private void setFeatures(long wanted) {
        if ((wanted & ~offeredFeatures) != 0) {
            throw new SessionException(SessionRule.FEATURES_NOT_OFFERED, "acknowledged 0x" + Long.toHexString(wanted)
                    + ", offered 0x" + Long.toHexString(offeredFeatures) + ", extra 0x"
                    + Long.toHexString(wanted & ~offeredFeatures));
        }
        features = wanted;
    }

    private void setProtocolFeatures(long wanted) {
        if ((wanted & ~settings.protocolFeatures()) != 0) {
            throw new SessionException(SessionRule.PROTOCOL_FEATURES_NOT_OFFERED, "acknowledged 0x"
                    + Long.toHexString(wanted) + ", offered 0x" + Long.toHexString(settings.protocolFeatures()));
        }
        protocolFeatures = wanted;
    }

    /** The negotiated protocol features. */
    long protocolFeatures() {
        return protocolFeatures;
    }

    private boolean packed() {
        return VirtioFeatures.has(features, VirtioFeatures.RING_PACKED);
    }

    // ------------------------------------------------------------------ memory

    private void setMemTable(VhostUserPayload.MemoryTable table, int[] fds) {
        List<Mapped> mapped = new ArrayList<>();
        try {
            for (int i = 0; i < table.regions().size(); i++) {
                MemoryRegion r = table.regions().get(i);
                mapped.add(new Mapped(r, FdMapping.map("memory region " + i + " " + r, take(fds, i),
                        r.mmapOffset(), r.memorySize())));
            }
        } catch (RuntimeException e) {
            mapped.forEach(m -> m.mapping().close());
            throw e;
        }
        install(mapped, regions);
        startWaitingRings();
    }

    private void startWaitingRings() {
        for (Vring v : vrings) {
            tryStart(v);
        }
    }

    private void addMemReg(MemoryRegion region, int[] fds) {
        int fd = take(fds, 0);
        if (regions.size() >= settings.maxMemSlots()) {
            LibC.closeQuietly(fd);
            throw new SessionException(SessionRule.TOO_MANY_MEMORY_SLOTS, regions.size() + " regions mapped, "
                    + settings.maxMemSlots() + " slots");
        }
        Mapped added = new Mapped(region, FdMapping.map("added memory region " + region, fd,
                region.mmapOffset(), region.memorySize()));
        List<Mapped> next = new ArrayList<>(regions);
        next.add(added);
        install(next, List.of());
        startWaitingRings();
    }

    private void remMemReg(MemoryRegion region) {
        List<Mapped> next = new ArrayList<>();
        List<Mapped> removed = new ArrayList<>();
        for (Mapped m : regions) {
            MemoryRegion r = m.region();
            // DPDK and libvhost-user identify the region by guest address, user address and size.
            if (removed.isEmpty() && r.guestPhysAddr() == region.guestPhysAddr()
                    && r.userspaceAddr() == region.userspaceAddr() && r.memorySize() == region.memorySize()) {
                removed.add(m);
            } else {
                next.add(m);
            }
        }
        if (removed.isEmpty()) {
            throw new SessionException(SessionRule.MEMORY_REGION_NOT_FOUND, region.toString());
        }
        install(next, removed);
    }

    /**
     * Puts {@code next} in force: builds the new GuestMemory, moves every started queue to it on its
     * lcore, waits for the acknowledgement of every lcore the device's vrings are placed on (all of
     * them, in parallel), then unmaps {@code retired}. On failure the new mappings that are not in
     * the current table are unmapped and the current table stays.
     */
    private void install(List<Mapped> next, List<Mapped> retired) {
        GuestMemory nextMemory;
        try {
            List<GuestMemoryRegion> guestRegions = new ArrayList<>();
            for (Mapped m : next) {
                guestRegions.add(m.guestRegion());
            }
            nextMemory = GuestMemory.of(guestRegions);
        } catch (GuestMemoryException e) {
            next.stream().filter(m -> !regions.contains(m)).forEach(m -> m.mapping().close());
            throw new SessionException(SessionRule.MEMORY_REGIONS_OVERLAP, e.getMessage(), e);
        }
        // Filled by several lcores at once.
        List<Vring> failed = Collections.synchronizedList(new ArrayList<>());
        List<String> reasons = Collections.synchronizedList(new ArrayList<>());
        // Activated but not polled: no lcore uses these queues, move them here.
        for (Vring v : vrings) {
            if (v.activated && v.poller == null) {
                moveQueue(v, nextMemory, failed, reasons);
            }
        }
        GuestMemory installed = nextMemory;
        boolean active = deviceActive;
        List<Map.Entry<Lcore, CompletableFuture<Void>>> acks = new ArrayList<>();
        for (Map.Entry<Lcore, int[]> e : vringsOfLcore.entrySet()) {
            int[] placed = e.getValue();
            // Decided here, on the control thread: the vrings this lcore polls now.
            List<Vring> polled = new ArrayList<>();
            for (int i : placed) {
                if (vrings[i].poller != null) {
                    polled.add(vrings[i]);
                }
            }
            acks.add(Map.entry(e.getKey(), e.getKey().execute(() -> {
                for (Vring v : polled) {
                    moveQueue(v, installed, failed, reasons);
                }
                if (active) {
                    hooks.memoryTableChanged(installed, placed.clone());
                }
                settings.observer().lcoreAcknowledged(installed);
            })));
        }
        awaitAll("memory table swap", acks);
        memory = installed;
        regions = List.copyOf(next);
        for (Mapped m : retired) {
            m.mapping().close();
        }
        settings.observer().oldRegionsUnmapped(retired.size());
        if (!failed.isEmpty()) {
            throw new SessionException(SessionRule.RING_OUTSIDE_MEMORY, "after the memory table change: "
                    + String.join("; ", reasons));
        }
    }

    private static void moveQueue(Vring v, GuestMemory mem, List<Vring> failed, List<String> reasons) {
        try {
            v.queue.activate(mem, v.config);
        } catch (VirtqueueException e) {
            failed.add(v);
            reasons.add("vring " + v.index + ": " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ vrings

    private Vring vring(int index) {
        if (index < 0 || index >= vrings.length) {
            throw new SessionException(SessionRule.VRING_INDEX_OUT_OF_RANGE, "vring " + Integer.toUnsignedString(index)
                    + ", the device has " + vrings.length + " queues");
        }
        return vrings[index];
    }

    private void requireStopped(Vring v, String what) {
        if (v.activated) {
            throw new SessionException(SessionRule.RING_CHANGED_WHILE_STARTED, what + " for started vring " + v.index);
        }
    }

    private void setVringNum(VhostUserPayload.VringState state) {
        Vring v = vring(state.index());
        requireStopped(v, "SET_VRING_NUM");
        int n = state.num();
        if (n == 0) {
            throw new SessionException(SessionRule.QUEUE_SIZE_ZERO, "vring " + v.index);
        }
        int max = Math.min(device.maxQueueSize(), 32768);
        if (Integer.compareUnsigned(n, max) > 0) {
            throw new SessionException(SessionRule.QUEUE_SIZE_TOO_LARGE, "vring " + v.index + ": size "
                    + Integer.toUnsignedString(n) + ", maximum " + max);
        }
        // virtio 1.2, 2.7: "Queue Size value is always a power of 2" (split); 2.8: any size (packed).
        if (!packed() && (n & (n - 1)) != 0) {
            throw new SessionException(SessionRule.QUEUE_SIZE_NOT_POWER_OF_TWO, "vring " + v.index + ": size " + n);
        }
        v.num = n;
        if (v.addr != null) {
            checkRingAddress(v, v.addr);
        }
        tryStart(v);
    }

    private void setVringAddr(VhostUserPayload.VringAddress addr) {
        Vring v = vring(addr.index());
        requireStopped(v, "SET_VRING_ADDR");
        checkRingAddress(v, addr);
        v.addr = addr;
        tryStart(v);
    }

    /** Checks alignment, and the ring parts against memory when both the size and memory are known. */
    private void checkRingAddress(Vring v, VhostUserPayload.VringAddress a) {
        boolean packed = packed();
        long[] addrs = {a.descUserAddr(), a.availUserAddr(), a.usedUserAddr()};
        String[] parts = packed ? new String[] {"descriptor ring", "driver event area", "device event area"}
                : new String[] {"descriptor table", "available ring", "used ring"};
        // virtio 1.2, 2.7.2 (split: 16, 2, 4) and 2.8.11 (packed: 16, 4, 4).
        int[] align = packed ? new int[] {PackedRing.DESC_ALIGN, PackedRing.EVENT_ALIGN, PackedRing.EVENT_ALIGN}
                : new int[] {SplitRing.DESC_ALIGN, SplitRing.AVAIL_ALIGN, SplitRing.USED_ALIGN};
        for (int i = 0; i < 3; i++) {
            if ((addrs[i] & (align[i] - 1)) != 0) {
                throw new SessionException(SessionRule.RING_MISALIGNED, "vring " + v.index + " " + parts[i] + " at 0x"
                        + Long.toHexString(addrs[i]) + " must be " + align[i] + "-byte aligned");
            }
        }
        if (v.num == 0 || memory == null) {
            return;
        }
        long[] lengths = packed
                ? new long[] {PackedRing.descRingSize(v.num), PackedRing.EVENT_SIZE, PackedRing.EVENT_SIZE}
                : new long[] {SplitRing.descTableSize(v.num), SplitRing.availRingSize(v.num), SplitRing.usedRingSize(v.num)};
        for (int i = 0; i < 3; i++) {
            if (memory.findUserAddr(addrs[i], lengths[i]) < 0) {
                throw new SessionException(SessionRule.RING_OUTSIDE_MEMORY, "vring " + v.index + " " + parts[i]
                        + " at user address 0x" + Long.toHexString(addrs[i]) + " length " + lengths[i]
                        + " is not inside one memory region");
            }
        }
    }

    private void setVringBase(VhostUserPayload.VringState state) {
        Vring v = vring(state.index());
        requireStopped(v, "SET_VRING_BASE");
        int base = state.num();
        // vhost-user.rst, SET_VRING_BASE: a packed ring gets both indices: bits 0-14 the next
        // available position, bit 15 the avail wrap counter, bits 16-30 the next used position,
        // bit 31 the used wrap counter (QEMU sends them so). A split ring gets 16 bits.
        if (!packed() && Integer.compareUnsigned(base, 0xffff) > 0) {
            throw new SessionException(SessionRule.VRING_BASE_OUT_OF_RANGE, "vring " + v.index + ": base "
                    + Integer.toUnsignedString(base) + " does not fit in 16 bits");
        }
        if (packed() && v.num != 0 && ((base & 0x7fff) >= v.num || ((base >>> 16) & 0x7fff) >= v.num)) {
            throw new SessionException(SessionRule.VRING_BASE_OUT_OF_RANGE, "vring " + v.index + ": avail position "
                    + (base & 0x7fff) + " or used position " + ((base >>> 16) & 0x7fff) + " is not below the queue size "
                    + v.num);
        }
        v.base = base;
        v.baseSet = true;
    }

    private int getVringBase(int index) {
        Vring v = vring(index);
        stopPolling(v);
        if (v.activated) {
            // Packed: the used position and wrap counter go in the upper 16 bits (GET_VRING_BASE).
            v.base = packed() ? v.queue.lastAvailIdx() | (v.queue.usedIdx() << 16) : v.queue.lastAvailIdx();
            v.baseSet = true;
            v.queue.reset();
            v.activated = false;
        }
        // vhost-user.rst, "Ring states": GET_VRING_BASE stops the ring; it starts again on a new kick fd.
        LibC.closeQuietly(v.kickFd);
        v.kickFd = -1;
        v.kickSet = false;
        if (deviceActive && Arrays.stream(vrings).noneMatch(r -> r.activated)) {
            deviceActive = false;
            device.reset();
        }
        return v.base;
    }

    private int eventFd(int[] fds, VhostUserPayload.VringFile file) {
        if (file.noFd()) {
            return -1;
        }
        int fd = take(fds, 0);
        try {
            // A blocking fd (say a full pipe) must never stall the lcore.
            int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
            LibC.fcntl(fd, LibC.F_SETFL, flags | O_NONBLOCK);
        } catch (LinuxException e) {
            LOG.log(System.Logger.Level.WARNING, settings.name() + ": cannot make fd " + fd + " non-blocking: "
                    + e.getMessage());
        }
        return fd;
    }

    private void setVringKick(VhostUserPayload.VringFile file, int[] fds) {
        Vring v = vring(file.index());
        int fd = eventFd(fds, file);
        boolean wasPolling = v.poller != null;
        // The lcore registers the kick fd in its epoll set: a new fd needs a new poller.
        stopPolling(v);
        LibC.closeQuietly(v.kickFd);
        v.kickFd = fd;
        v.kickSet = true;
        if (wasPolling) {
            startPolling(v);
        } else {
            tryStart(v);
        }
    }

    private void setVringCall(VhostUserPayload.VringFile file, int[] fds) {
        Vring v = vring(file.index());
        int fd = eventFd(fds, file);
        int old = v.callFd;
        v.callFd = fd;
        if (v.poller != null) {
            runOnLcore("vring " + v.index + " call fd change", lcoreOf[v.index], () -> v.queue.callFd(fd));
        } else {
            v.queue.callFd(fd);
        }
        LibC.closeQuietly(old);
    }

    private void setVringErr(VhostUserPayload.VringFile file, int[] fds) {
        Vring v = vring(file.index());
        int fd = eventFd(fds, file);
        int old = v.errFd;
        v.errFd = fd;
        VringPoller poller = v.poller;
        if (poller != null) {
            runOnLcore("vring " + v.index + " error fd change", lcoreOf[v.index], () -> poller.errFd(fd));
        }
        LibC.closeQuietly(old);
    }

    private void setVringEnable(VhostUserPayload.VringState state) {
        Vring v = vring(state.index());
        v.enabled = state.num() != 0;
        if (!v.enabled) {
            stopPolling(v);
        } else if (v.activated) {
            startPolling(v);
        } else {
            tryStart(v);
        }
    }

    /**
     * Starts a ring once it has a size, addresses, a kick (fd or NOFD), memory, and is enabled
     * (vhost-user.rst, "Ring states": without VHOST_USER_F_PROTOCOL_FEATURES a ring is enabled at
     * start; with it, only after SET_VRING_ENABLE 1).
     */
    private void tryStart(Vring v) {
        if (v.activated || v.num == 0 || v.addr == null || !v.kickSet || memory == null) {
            return;
        }
        boolean enabled = v.enabled || (features & PROTOCOL_FEATURES_BIT) == 0;
        if (!enabled) {
            return;
        }
        Virtqueue q;
        if (packed()) {
            if (v.packed == null) {
                v.packed = new PackedQueue(Math.min(device.maxQueueSize(), 32768));
            }
            q = v.packed;
        } else {
            if (v.split == null) {
                v.split = new SplitQueue(Math.min(device.maxQueueSize(), 32768));
            }
            q = v.split;
        }
        v.queue.delegate(q);
        v.queue.reset();
        // A packed ring that never got SET_VRING_BASE starts with both wrap counters at 1 (virtio 1.2, 2.8.1).
        v.queue.setLastAvailIdx(v.baseSet || !packed() ? v.base & 0xFFFF : 1 << 15);
        if (packed() && v.baseSet && (v.base >>> 16) != 0) {
            // Upper half 0 (position 0, wrap 0) is taken as "not given" (a front-end that sends 16
            // bits, as Ringway's own did): the used position is then the avail one.
            v.queue.setUsedIdx(v.base >>> 16);
        }
        VhostUserPayload.VringAddress a = v.addr;
        v.config = new QueueConfig(v.num, a.descUserAddr(), a.availUserAddr(), a.usedUserAddr(),
                QueueConfig.AddressSpace.FRONTEND_USER, features);
        try {
            q.activate(memory, v.config);
        } catch (VirtqueueException e) {
            q.reset();
            SessionRule rule = switch (e.error().rule()) {
                case RING_MISALIGNED -> SessionRule.RING_MISALIGNED;
                case QUEUE_SIZE_ZERO -> SessionRule.QUEUE_SIZE_ZERO;
                case QUEUE_SIZE_TOO_LARGE -> SessionRule.QUEUE_SIZE_TOO_LARGE;
                case QUEUE_SIZE_NOT_POWER_OF_TWO -> SessionRule.QUEUE_SIZE_NOT_POWER_OF_TWO;
                case DESCRIPTOR_INDEX_OUT_OF_RANGE -> SessionRule.VRING_BASE_OUT_OF_RANGE;
                default -> SessionRule.RING_OUTSIDE_MEMORY;
            };
            throw new SessionException(rule, "vring " + v.index + ": " + e.getMessage(), e);
        }
        if (hooks.tracksInflight() && inflightArea != null && v.index < inflightQueues) {
            if (packed()) {
                startPackedTracking(v);
            } else {
                startTracking(v);
            }
        } else if (!packed()) {
            // vhost-user.rst, SET_VRING_BASE: for a split ring "the device is supposed to read the
            // next index in the Used Ring from the respective vring structure in guest memory". A
            // ring restarted with requests still in the device completes them after that index.
            v.split.setUsedIdx(v.split.usedRingIdx());
        }
        v.activated = true;
        v.queue.callFd(v.callFd);
        if (!deviceActive) {
            // The first started ring activates the device (DPDK's new_device); queues not yet
            // started are in the list too and pop nothing until they start.
            device.activate(features & ~PROTOCOL_FEATURES_BIT, memory, deviceQueues);
            deviceActive = true;
        }
        startPolling(v);
    }

    /**
     * Attaches the ring to its region of the in-flight area and runs the recovery procedure
     * (vhost-user.rst, "When reconnecting"). The ring resumes at used idx + the number of heads in
     * flight, whatever SET_VRING_BASE said: the front-end cannot know what a crashed back-end took
     * (QEMU sends its used idx; DPDK adds the in-flight count to it; libvhost-user, like us,
     * ignores it), while the used ring and the area together say exactly that.
     */
    private void startTracking(Vring v) {
        SplitQueue q = v.split;
        try {
            SplitInflightQueue tracker = SplitInflightQueue.attach(inflightArea, v.index, inflightQueueSize, v.num);
            int usedRing = q.usedRingIdx();
            int[] heads = tracker.recover(usedRing);
            int lastAvail = (usedRing + heads.length) & 0xFFFF;
            if (heads.length > 0 || (v.baseSet && lastAvail != v.base)) {
                LOG.log(System.Logger.Level.INFO, settings.name() + ": vring " + v.index + " resumes at avail "
                        + lastAvail + " (SET_VRING_BASE said " + v.base + "), used " + usedRing + ", resubmitting "
                        + heads.length + " in-flight requests");
            }
            q.setLastAvailIdx(lastAvail);
            q.setUsedIdx(usedRing);
            v.queue.track(tracker, heads);
        } catch (InflightAreaException e) {
            q.reset();
            throw new SessionException(SessionRule.INFLIGHT_AREA_CORRUPT, "vring " + v.index + ": " + e.getMessage(), e);
        }
    }

    /**
     * The packed form of {@link #startTracking}: the region says where the device was (used
     * position and wrap counter, after rolling back or committing an unfinished used batch) and
     * which requests it held; the ring resumes reading after them, whatever SET_VRING_BASE said.
     */
    private void startPackedTracking(Vring v) {
        PackedQueue q = v.packed;
        try {
            PackedInflightQueue tracker = PackedInflightQueue.attach(inflightArea, v.index, inflightQueueSize, v.num);
            int[] entries = tracker.recover(q.usedIdx(), q::ringDescriptorFlags);
            int avail = tracker.resumeAvailIdx();
            int used = tracker.resumeUsedIdx();
            if (entries.length > 0 || (v.baseSet && avail != (v.base & 0xFFFF))) {
                LOG.log(System.Logger.Level.INFO, settings.name() + ": vring " + v.index + " resumes at avail "
                        + (avail & 0x7FFF) + " wrap " + (avail >>> 15) + " (SET_VRING_BASE said " + (v.base & 0x7FFF)
                        + " wrap " + ((v.base >>> 15) & 1) + "), used " + (used & 0x7FFF) + " wrap " + (used >>> 15)
                        + ", resubmitting " + entries.length + " in-flight requests");
            }
            q.resume(avail, used);
            v.queue.track(tracker, entries);
        } catch (InflightAreaException e) {
            q.reset();
            throw new SessionException(SessionRule.INFLIGHT_AREA_CORRUPT, "vring " + v.index + ": " + e.getMessage(), e);
        } catch (VirtqueueException e) {
            q.reset();
            throw new SessionException(SessionRule.VRING_BASE_OUT_OF_RANGE, "vring " + v.index + ": " + e.getMessage(), e);
        }
    }

    private void startPolling(Vring v) {
        if (v.poller != null) {
            return;
        }
        // Polling: no kicks wanted. An adaptive lcore turns them on (arm) before it sleeps.
        v.queue.disableNotifications();
        VringPoller poller = new VringPoller(settings.name(), device, v.index, v.queue, v.kickFd, v.errFd);
        Lcore lcore = lcoreOf[v.index];
        int index = v.index;
        runOnLcore("vring " + index + " polling", lcore, () -> hooks.vringPolling(index, true));
        await("add vring " + v.index + " poller", lcore, lcore.addPoller(poller));
        v.poller = poller;
    }

    private void stopPolling(Vring v) {
        VringPoller poller = v.poller;
        if (poller == null) {
            return;
        }
        v.poller = null;
        Lcore lcore = lcoreOf[v.index];
        await("remove vring " + v.index + " poller", lcore, lcore.removePoller(poller));
        int index = v.index;
        runOnLcore("vring " + index + " stopped", lcore, () -> hooks.vringPolling(index, false));
    }

    // ------------------------------------------------------------------ inflight

    private void checkInflight(VhostUserPayload.Inflight inflight) {
        if (inflight.numQueues() == 0 || inflight.numQueues() > device.queueCount()
                || inflight.queueSize() == 0 || inflight.queueSize() > device.maxQueueSize()) {
            throw new SessionException(SessionRule.INFLIGHT_AREA_INVALID, inflight.numQueues() + " queues of size "
                    + inflight.queueSize() + "; the device has " + device.queueCount() + " queues of at most "
                    + device.maxQueueSize());
        }
    }

    private VhostUserMessage getInflightFd(VhostUserPayload.Inflight request) {
        checkInflight(request);
        // QEMU asks before SET_FEATURES: then size the area for the larger (packed) layout if the
        // device offers packed rings, so that it fits whichever layout the rings start with.
        boolean packedFits = packed() || (features == 0
                && (device.deviceFeatures() & VirtioFeatures.mask(VirtioFeatures.RING_PACKED)) != 0);
        long size = InflightDescriptor.areaSize(packedFits, request.numQueues(), request.queueSize());
        SharedRegion area = SharedRegion.create("ringway-inflight", size);
        // A repeated GET_INFLIGHT_FD replaces the area: the old one is unmapped and its fd closed
        // (CVE-2020-10726 was a back-end that leaked them).
        releaseInflight();
        inflightOwner = area;
        inflightArea = area.segment();
        inflightQueues = request.numQueues();
        inflightQueueSize = request.queueSize();
        return reply(VhostUserRequest.GET_INFLIGHT_FD,
                new VhostUserPayload.Inflight(size, 0, request.numQueues(), request.queueSize()), area.fd());
    }

    private void setInflightFd(VhostUserPayload.Inflight inflight, int[] fds) {
        int fd = take(fds, 0);
        try {
            checkInflight(inflight);
            long needed = InflightDescriptor.areaSize(packed(), inflight.numQueues(), inflight.queueSize());
            if (Long.compareUnsigned(inflight.mmapSize(), needed) < 0) {
                throw new SessionException(SessionRule.INFLIGHT_AREA_INVALID, "mmap_size " + inflight.mmapSize()
                        + " is smaller than the " + needed + " bytes " + inflight.numQueues() + " queues of size "
                        + inflight.queueSize() + " need");
            }
        } catch (SessionException e) {
            LibC.closeQuietly(fd);
            throw e;
        }
        FdMapping mapping = FdMapping.map("inflight area", fd, inflight.mmapOffset(), inflight.mmapSize());
        releaseInflight();
        inflightOwner = mapping;
        inflightArea = mapping.segment();
        inflightQueues = inflight.numQueues();
        inflightQueueSize = inflight.queueSize();
    }

    /** The in-flight tracking area shared with the front-end, or null. */
    MemorySegment inflightArea() {
        return inflightArea;
    }

    private void releaseInflight() {
        AutoCloseable owner = inflightOwner;
        inflightOwner = null;
        inflightArea = null;
        inflightQueues = 0;
        if (owner != null) {
            try {
                owner.close();
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, settings.name() + ": closing the inflight area failed", e);
            }
        }
    }

    // ------------------------------------------------------------------ reset

    /** Stops every ring, resets the device, closes the rings' fds and unmaps memory. */
    private void resetDevice(String why) {
        RuntimeException first = null;
        for (Vring v : vrings) {
            try {
                stopPolling(v);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (deviceActive) {
            deviceActive = false;
            try {
                device.reset();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, settings.name() + ": device reset failed (" + why + ")", e);
            }
        }
        for (Vring v : vrings) {
            v.queue.reset();
            v.queue.callFd(-1);
            LibC.closeQuietly(v.kickFd);
            LibC.closeQuietly(v.callFd);
            LibC.closeQuietly(v.errFd);
            v.kickFd = -1;
            v.callFd = -1;
            v.errFd = -1;
            v.kickSet = false;
            v.num = 0;
            v.addr = null;
            v.base = 0;
            v.baseSet = false;
            v.enabled = false;
            v.activated = false;
            v.config = null;
        }
        features = 0;
        status = 0;
        memory = null;
        for (Mapped m : regions) {
            m.mapping().close();
        }
        regions = List.of();
        if (first != null) {
            throw first;
        }
    }

    /** Ends the session: resets the device and frees everything it holds. */
    @Override
    public void close() {
        try {
            resetDevice("session end");
        } finally {
            releaseInflight();
        }
    }

    // ------------------------------------------------------------------ lcore

    private void runOnLcore(String what, Lcore lcore, Runnable action) {
        await(what, lcore, lcore.execute(action));
    }

    /**
     * Waits for every lcore's future (one shared deadline), even after one failed, so that no lcore
     * is left running a command the caller no longer waits for; then throws the first failure.
     */
    private void awaitAll(String what, List<Map.Entry<Lcore, CompletableFuture<Void>>> futures) {
        long deadline = System.nanoTime() + settings.lcoreTimeout().toNanos();
        SessionException first = null;
        for (Map.Entry<Lcore, CompletableFuture<Void>> f : futures) {
            try {
                await(what, f.getKey(), f.getValue(), Math.max(0, deadline - System.nanoTime()));
            } catch (SessionException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private void await(String what, Lcore lcore, CompletableFuture<Void> future) {
        await(what, lcore, future, settings.lcoreTimeout().toNanos());
    }

    private void await(String what, Lcore lcore, CompletableFuture<Void> future, long timeoutNanos) {
        try {
            future.get(timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SessionException(SessionRule.LCORE_UNAVAILABLE, what + ": interrupted", e);
        } catch (ExecutionException e) {
            throw new SessionException(SessionRule.LCORE_UNAVAILABLE, what + " on lcore " + lcore.name() + ": "
                    + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new SessionException(SessionRule.LCORE_UNAVAILABLE, what + ": lcore " + lcore.name()
                    + " did not answer within " + settings.lcoreTimeout().toMillis() + " ms", e);
        }
    }

    /** Call eventfd signals of a vring, for tests (stable once the vring's poller is removed). */
    long callsSignalled(int index) {
        return vrings[index].queue.calls();
    }
}

package io.ringway.vhost.frontend;

import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;
import io.ringway.runtime.sys.UnixSocket;
import io.ringway.vhost.protocol.MemoryRegion;
import io.ringway.vhost.protocol.VhostUserCodec;
import io.ringway.vhost.protocol.VhostUserHeader;
import io.ringway.vhost.protocol.VhostUserMessage;
import io.ringway.vhost.protocol.VhostUserMessageDescriptor;
import io.ringway.vhost.protocol.VhostUserPayload;
import io.ringway.vhost.protocol.VhostUserProtocolException;
import io.ringway.vhost.protocol.VhostUserProtocolFeature;
import io.ringway.vhost.protocol.VhostUserRequest;
import io.ringway.vhost.virtio.PackedRing;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.SplitRing;
import io.ringway.vhost.virtio.VirtioFeatures;

import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The front-end (client) side of vhost-user: drives any vhost-user back-end — Ringway's, DPDK's
 * vhost PMD, QEMU's storage daemon — the way QEMU does. One request at a time, on the caller's
 * thread; methods block until the back-end has answered when the request has an answer.
 *
 * <p>When REPLY_ACK was negotiated, every request that has no reply of its own is sent with
 * NEED_REPLY and a non-zero status throws {@link VhostUserFrontendException}; turn that off with
 * {@link #ackEveryRequest(boolean)}.
 *
 * <p>Typical use: {@link #negotiate}, {@link #setMemTable(FrontendMemory)}, then per queue
 * {@link #startVring} with a driver queue's {@link QueueConfig}, and {@link #stopVring} at the end.
 */
public final class VhostUserFrontend implements AutoCloseable {
    private static final int HEADER = VhostUserMessageDescriptor.HEADER_LENGTH;
    private static final int MAX_MESSAGE = HEADER + VhostUserMessageDescriptor.MAX_PAYLOAD_SIZE;
    private static final long PROTOCOL_FEATURES_BIT = 1L << VhostUserProtocolFeature.VIRTIO_F_PROTOCOL_FEATURES_BIT;

    /**
     * SET_VRING_BASE of a fresh packed ring: position 0 with the avail wrap counter (bit 15) at 1
     * (virtio 1.2, 2.8.1: the wrap counters start at 1).
     */
    public static final int FRESH_PACKED_BASE = 1 << 15;

    private final UnixSocket socket;
    private final VhostUserCodec codec = new VhostUserCodec();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment out = arena.allocate(MAX_MESSAGE, 8);
    private final MemorySegment in = arena.allocate(MAX_MESSAGE, 8);
    private long features;
    private long protocolFeatures;
    private boolean ackEveryRequest = true;

    private VhostUserFrontend(UnixSocket socket) {
        this.socket = socket;
    }

    /** Connects to a back-end listening on {@code path}. */
    public static VhostUserFrontend connect(Path path) {
        return new VhostUserFrontend(UnixSocket.connect(path));
    }

    /** Connects to {@code path}, retrying until it accepts or {@code timeout} has passed. */
    public static VhostUserFrontend connect(Path path, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                return connect(path);
            } catch (LinuxException | UncheckedIOException e) {
                if (System.nanoTime() > deadline) {
                    throw new VhostUserFrontendException("no vhost-user back-end at " + path + " within " + timeout, e);
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new VhostUserFrontendException("interrupted while connecting to " + path, ie);
                }
            }
        }
    }

    /** Runs over a connected socket (e.g. one accepted from a back-end in client mode); takes it. */
    public static VhostUserFrontend over(UnixSocket socket) {
        return new VhostUserFrontend(Objects.requireNonNull(socket, "socket"));
    }

    /** The socket, for tests that send raw bytes. */
    public UnixSocket socket() {
        return socket;
    }

    /** Whether requests without a reply are sent with NEED_REPLY when REPLY_ACK is negotiated (default true). */
    public VhostUserFrontend ackEveryRequest(boolean on) {
        this.ackEveryRequest = on;
        return this;
    }

    /** The virtio features sent with SET_FEATURES (0 before). */
    public long features() {
        return features;
    }

    /** The protocol features sent with SET_PROTOCOL_FEATURES (0 before). */
    public long protocolFeatures() {
        return protocolFeatures;
    }

    // ------------------------------------------------------------------ transport

    /**
     * Sends a request and returns the back-end's reply: the reply body for requests that always get
     * one, the REPLY_ACK status (a U64) for a request sent with NEED_REPLY, else null.
     *
     * @throws VhostUserFrontendException if the back-end closed the connection or the reply is wrong
     */
    public synchronized VhostUserMessage call(VhostUserMessage request) {
        int length = codec.encode(request, out);
        try {
            socket.send(out.asSlice(0, length), request.fds());
        } catch (LinuxException e) {
            throw new VhostUserFrontendException(request.request() + ": send failed: " + e.getMessage(), e);
        }
        if (!request.request().alwaysReplies() && !request.needsReply()) {
            return null;
        }
        return readReply(request.request());
    }

    private VhostUserMessage readReply(VhostUserRequest expected) {
        int[] fds = new int[VhostUserMessageDescriptor.MAX_FDS];
        int[] count = new int[1];
        int[] fdsSeen = new int[1];
        try {
            readFully(in, HEADER, fds, count, fdsSeen, expected);
            VhostUserHeader header = codec.decodeHeader(in, HEADER, fds, fdsSeen[0]);
            readFully(in.asSlice(HEADER), header.size(), fds, count, fdsSeen, expected);
            VhostUserMessage reply = codec.decodePayload(header, in.asSlice(HEADER), header.size(), fds, fdsSeen[0]);
            fdsSeen[0] = 0;
            if (!reply.isReply() || reply.request() != expected) {
                for (int fd : reply.fds()) {
                    LibC.closeQuietly(fd);
                }
                throw new VhostUserFrontendException("expected a reply to " + expected + ", got " + reply);
            }
            return reply;
        } catch (VhostUserProtocolException e) {
            fdsSeen[0] = 0;
            for (int fd : e.fdsToClose()) {
                LibC.closeQuietly(fd);
            }
            throw new VhostUserFrontendException("bad reply to " + expected + ": " + e.getMessage(), e);
        } catch (LinuxException e) {
            throw new VhostUserFrontendException("reply to " + expected + ": " + e.getMessage(), e);
        } finally {
            for (int i = 0; i < fdsSeen[0]; i++) {
                LibC.closeQuietly(fds[i]);
            }
        }
    }

    private void readFully(MemorySegment buffer, int length, int[] fds, int[] count, int[] seen,
            VhostUserRequest expected) {
        int done = 0;
        int[] chunk = new int[fds.length];
        while (done < length) {
            int got = socket.receive(buffer.asSlice(done, length - done), chunk, count);
            for (int i = 0; i < count[0]; i++) {
                if (seen[0] < fds.length) {
                    fds[seen[0]++] = chunk[i];
                } else {
                    LibC.closeQuietly(chunk[i]);
                }
            }
            if (got == 0) {
                throw new VhostUserFrontendException("the back-end closed the connection while we waited for the reply to "
                        + expected);
            }
            done += got;
        }
    }

    private VhostUserMessage send(VhostUserRequest request, VhostUserPayload payload, int... fds) {
        VhostUserMessage message = VhostUserMessage.request(request, payload, fds);
        boolean ack = ackEveryRequest && !request.alwaysReplies()
                && VhostUserProtocolFeature.REPLY_ACK.isSetIn(protocolFeatures);
        if (ack) {
            message = message.withNeedReply();
        }
        VhostUserMessage reply = call(message);
        if (ack) {
            long status = ((VhostUserPayload.U64) reply.payload()).value();
            if (status != 0) {
                throw new VhostUserFrontendException(request + " failed: the back-end answered status " + status);
            }
        }
        return reply;
    }

    private long u64(VhostUserRequest request) {
        return ((VhostUserPayload.U64) send(request, VhostUserPayload.Empty.INSTANCE).payload()).value();
    }

    // ------------------------------------------------------------------ requests

    /** GET_FEATURES. */
    public long getFeatures() {
        return u64(VhostUserRequest.GET_FEATURES);
    }

    /** SET_FEATURES. */
    public void setFeatures(long value) {
        send(VhostUserRequest.SET_FEATURES, new VhostUserPayload.U64(value));
        features = value;
    }

    /** GET_PROTOCOL_FEATURES. */
    public long getProtocolFeatures() {
        return u64(VhostUserRequest.GET_PROTOCOL_FEATURES);
    }

    /** SET_PROTOCOL_FEATURES; REPLY_ACK applies from the next request. */
    public void setProtocolFeatures(long value) {
        send(VhostUserRequest.SET_PROTOCOL_FEATURES, new VhostUserPayload.U64(value));
        protocolFeatures = value;
    }

    /** SET_OWNER. */
    public void setOwner() {
        send(VhostUserRequest.SET_OWNER, VhostUserPayload.Empty.INSTANCE);
    }

    /** RESET_OWNER. */
    public void resetOwner() {
        send(VhostUserRequest.RESET_OWNER, VhostUserPayload.Empty.INSTANCE);
    }

    /** RESET_DEVICE. */
    public void resetDevice() {
        send(VhostUserRequest.RESET_DEVICE, VhostUserPayload.Empty.INSTANCE);
    }

    /**
     * The QEMU sequence: SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES (when offered),
     * SET_FEATURES.
     *
     * @param wantedFeatures         virtio features the driver wants (bit 30 is added when offered)
     * @param wantedProtocolFeatures protocol features wanted
     * @return the virtio features set
     */
    public long negotiate(long wantedFeatures, long wantedProtocolFeatures) {
        setOwner();
        long offered = getFeatures();
        if ((offered & PROTOCOL_FEATURES_BIT) != 0) {
            long offeredProtocol = getProtocolFeatures();
            setProtocolFeatures(offeredProtocol & wantedProtocolFeatures);
        }
        long value = (offered & wantedFeatures) | (offered & PROTOCOL_FEATURES_BIT);
        setFeatures(value);
        return value;
    }

    /** GET_QUEUE_NUM (needs MQ). */
    public long getQueueNum() {
        return u64(VhostUserRequest.GET_QUEUE_NUM);
    }

    /** GET_MAX_MEM_SLOTS (needs CONFIGURE_MEM_SLOTS). */
    public long getMaxMemSlots() {
        return u64(VhostUserRequest.GET_MAX_MEM_SLOTS);
    }

    /** SET_MEM_TABLE with every region of {@code memory} (at most 8). */
    public void setMemTable(FrontendMemory memory) {
        send(VhostUserRequest.SET_MEM_TABLE, new VhostUserPayload.MemoryTable(memory.table()), memory.fds());
    }

    /** ADD_MEM_REG of one region (needs CONFIGURE_MEM_SLOTS). */
    public void addMemReg(FrontendMemory.Region region) {
        send(VhostUserRequest.ADD_MEM_REG, new VhostUserPayload.SingleMemoryRegion(region.tableEntry()),
                region.region().fd());
    }

    /** REM_MEM_REG of one region (needs CONFIGURE_MEM_SLOTS). */
    public void remMemReg(MemoryRegion region) {
        send(VhostUserRequest.REM_MEM_REG, new VhostUserPayload.SingleMemoryRegion(region));
    }

    /** SET_VRING_NUM. */
    public void setVringNum(int index, int num) {
        send(VhostUserRequest.SET_VRING_NUM, new VhostUserPayload.VringState(index, num));
    }

    /** SET_VRING_BASE. */
    public void setVringBase(int index, int base) {
        send(VhostUserRequest.SET_VRING_BASE, new VhostUserPayload.VringState(index, base));
    }

    /** SET_VRING_ADDR with user addresses. */
    public void setVringAddr(int index, long descUserAddr, long usedUserAddr, long availUserAddr) {
        send(VhostUserRequest.SET_VRING_ADDR,
                new VhostUserPayload.VringAddress(index, 0, descUserAddr, usedUserAddr, availUserAddr, 0));
    }

    /** GET_VRING_BASE: stops the ring and returns the back-end's next available index. */
    public int getVringBase(int index) {
        VhostUserMessage reply = send(VhostUserRequest.GET_VRING_BASE, new VhostUserPayload.VringState(index, 0));
        return ((VhostUserPayload.VringState) reply.payload()).num();
    }

    /** SET_VRING_KICK; {@code fd} -1 sends the NOFD flag (the back-end polls). */
    public void setVringKick(int index, int fd) {
        vringFile(VhostUserRequest.SET_VRING_KICK, index, fd);
    }

    /** SET_VRING_CALL; {@code fd} -1 sends the NOFD flag (no used buffer notifications). */
    public void setVringCall(int index, int fd) {
        vringFile(VhostUserRequest.SET_VRING_CALL, index, fd);
    }

    /** SET_VRING_ERR; {@code fd} -1 sends the NOFD flag. */
    public void setVringErr(int index, int fd) {
        vringFile(VhostUserRequest.SET_VRING_ERR, index, fd);
    }

    private void vringFile(VhostUserRequest request, int index, int fd) {
        if (fd < 0) {
            send(request, new VhostUserPayload.VringFile(index, true));
        } else {
            send(request, new VhostUserPayload.VringFile(index, false), fd);
        }
    }

    /** SET_VRING_ENABLE. */
    public void setVringEnable(int index, boolean enable) {
        send(VhostUserRequest.SET_VRING_ENABLE, new VhostUserPayload.VringState(index, enable ? 1 : 0));
    }

    /** GET_CONFIG (needs CONFIG): {@code size} bytes of config space from {@code offset}. */
    public byte[] getConfig(int offset, int size) {
        VhostUserMessage reply = send(VhostUserRequest.GET_CONFIG, new VhostUserPayload.Config(offset, 0, new byte[size]));
        return ((VhostUserPayload.Config) reply.payload()).data();
    }

    /** SET_CONFIG (needs CONFIG). */
    public void setConfig(int offset, byte[] data) {
        send(VhostUserRequest.SET_CONFIG, new VhostUserPayload.Config(offset, 0, data));
    }

    /**
     * The in-flight area the back-end allocated (GET_INFLIGHT_FD reply).
     *
     * @param description mmap size and offset, queue count and size
     * @param fd          the area's fd; the caller owns it
     */
    public record Inflight(VhostUserPayload.Inflight description, int fd) {
    }

    /** GET_INFLIGHT_FD (needs INFLIGHT_SHMFD); the caller closes the returned fd. */
    public Inflight getInflightFd(int numQueues, int queueSize) {
        VhostUserMessage reply = send(VhostUserRequest.GET_INFLIGHT_FD,
                new VhostUserPayload.Inflight(0, 0, numQueues, queueSize));
        return new Inflight((VhostUserPayload.Inflight) reply.payload(), reply.fds()[0]);
    }

    /** SET_INFLIGHT_FD (needs INFLIGHT_SHMFD). */
    public void setInflightFd(VhostUserPayload.Inflight description, int fd) {
        send(VhostUserRequest.SET_INFLIGHT_FD, description, fd);
    }

    /** SET_LOG_BASE (needs LOG_SHMFD). */
    public void setLogBase(long size, long offset, int fd) {
        send(VhostUserRequest.SET_LOG_BASE, new VhostUserPayload.Log(size, offset), fd);
    }

    /** SET_LOG_FD. */
    public void setLogFd(int fd) {
        send(VhostUserRequest.SET_LOG_FD, VhostUserPayload.Empty.INSTANCE, fd);
    }

    /** SET_STATUS (needs STATUS). */
    public void setStatus(int status) {
        send(VhostUserRequest.SET_STATUS, new VhostUserPayload.U64(status & 0xff));
    }

    /** GET_STATUS (needs STATUS). */
    public int getStatus() {
        return (int) u64(VhostUserRequest.GET_STATUS);
    }

    /** SEND_RARP (needs RARP) for a 6-byte MAC. */
    public void sendRarp(byte[] mac) {
        long v = 0;
        for (int i = 0; i < 6; i++) {
            v |= (mac[i] & 0xffL) << (8 * i);
        }
        send(VhostUserRequest.SEND_RARP, new VhostUserPayload.U64(v));
    }

    /** NET_SET_MTU (needs MTU). */
    public void netSetMtu(int mtu) {
        send(VhostUserRequest.NET_SET_MTU, new VhostUserPayload.U64(mtu));
    }

    // ------------------------------------------------------------------ vrings

    /**
     * Sets up and starts a vring the way QEMU does: SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR
     * (guest-physical ring addresses translated to user addresses), SET_VRING_KICK, SET_VRING_CALL,
     * and SET_VRING_ENABLE 1 when protocol features were negotiated.
     *
     * @param index   vring index
     * @param memory  the memory the rings live in (as sent with SET_MEM_TABLE)
     * @param config  the driver queue's configuration, guest-physical addresses
     * @param base    next available index: 0 for a fresh split ring, {@link #FRESH_PACKED_BASE} for
     *                a fresh packed ring
     * @param kickFd  kick eventfd, or -1 for a polling back-end (NOFD)
     * @param callFd  call eventfd, or -1 for no notifications (NOFD)
     */
    public void startVring(int index, FrontendMemory memory, QueueConfig config, int base, int kickFd, int callFd) {
        int n = config.size();
        boolean packed = VirtioFeatures.has(features, VirtioFeatures.RING_PACKED);
        long descLen = packed ? PackedRing.descRingSize(n) : SplitRing.descTableSize(n);
        long driverLen = packed ? PackedRing.EVENT_SIZE : SplitRing.availRingSize(n);
        long deviceLen = packed ? PackedRing.EVENT_SIZE : SplitRing.usedRingSize(n);
        long desc = memory.userAddr(config.descAddr(), descLen);
        long avail = memory.userAddr(config.driverAddr(), driverLen);
        long used = memory.userAddr(config.deviceAddr(), deviceLen);
        setVringNum(index, n);
        setVringBase(index, base);
        setVringAddr(index, desc, used, avail);
        setVringKick(index, kickFd);
        setVringCall(index, callFd);
        if ((features & PROTOCOL_FEATURES_BIT) != 0) {
            setVringEnable(index, true);
        }
    }

    /** Stops a vring: SET_VRING_ENABLE 0 (with protocol features), then GET_VRING_BASE. */
    public int stopVring(int index) {
        if ((features & PROTOCOL_FEATURES_BIT) != 0) {
            setVringEnable(index, false);
        }
        return getVringBase(index);
    }

    /** Closes the connection; the back-end resets its device. */
    @Override
    public void close() {
        socket.close();
        arena.close();
    }
}

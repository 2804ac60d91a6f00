package io.ringway.vhost.backend;

import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;
import io.ringway.runtime.sys.UnixSocket;
import io.ringway.vhost.protocol.PayloadKind;
import io.ringway.vhost.protocol.VhostUserCodec;
import io.ringway.vhost.protocol.VhostUserHeader;
import io.ringway.vhost.protocol.VhostUserMessage;
import io.ringway.vhost.protocol.VhostUserMessageDescriptor;
import io.ringway.vhost.protocol.VhostUserPayload;
import io.ringway.vhost.protocol.VhostUserProtocolError;
import io.ringway.vhost.protocol.VhostUserProtocolException;
import io.ringway.vhost.protocol.VhostUserProtocolFeature;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.VirtioDevice;

import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntUnaryOperator;

/**
 * A vhost-user back-end: serves one {@link VirtioDevice} to one front-end at a time over a unix
 * socket, either listening on a path ({@link Builder#listen}) or connecting to a front-end that
 * listens ({@link Builder#connect}, for QEMU's {@code server=on} chardevs).
 *
 * <p>One control thread per back-end reads the front-end's messages (blocking reads) and applies
 * them; the device's queues run on one or more {@link Lcore}s, one poller per started vring, each
 * vring on the lcore its placement names ({@link Builder#placement}; by default vring {@code i} on
 * lcore {@code hooks.lcoreGroupOf(i) % n}, see {@link VhostUserDeviceHooks#lcoreGroupOf}). When the
 * front-end disconnects, or breaks a fatal rule ({@link SessionRule}), the connection is closed
 * with a log line naming the rule, every fd it sent is closed, the device is reset, the memory is
 * unmapped, and the back-end waits for the next front-end (server) or reconnects (client). Nothing
 * a front-end sends ends the process or the back-end.
 *
 * <p>Requests handled: see {@link VhostUserSession}; offered protocol features:
 * {@link #DEFAULT_PROTOCOL_FEATURES}. Dirty logging is not implemented (VHOST_F_LOG_ALL is not
 * offered; SET_LOG_BASE and SET_LOG_FD are accepted and their fds closed).
 */
public final class VhostUserBackend implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VhostUserBackend.class.getName());
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int HEADER = VhostUserMessageDescriptor.HEADER_LENGTH;
    private static final int MAX_MESSAGE = HEADER + VhostUserMessageDescriptor.MAX_PAYLOAD_SIZE;
    /** More than any request carries, so that a surplus fd reaches the codec and is reported. */
    private static final int FD_CAPACITY = 32;
    /** Unknown request codes already logged (each is logged once per process). */
    private static final Set<Integer> UNKNOWN_LOGGED = ConcurrentHashMap.newKeySet();

    /** Protocol features offered unless the builder says otherwise. */
    public static final long DEFAULT_PROTOCOL_FEATURES = VhostUserProtocolFeature.maskOf(EnumSet.of(
            VhostUserProtocolFeature.MQ,
            VhostUserProtocolFeature.LOG_SHMFD,
            VhostUserProtocolFeature.RARP,
            VhostUserProtocolFeature.REPLY_ACK,
            VhostUserProtocolFeature.MTU,
            VhostUserProtocolFeature.CONFIG,
            VhostUserProtocolFeature.INFLIGHT_SHMFD,
            VhostUserProtocolFeature.RESET_DEVICE,
            VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS,
            VhostUserProtocolFeature.STATUS));

    private final VhostUserSession.Settings settings;
    private final VirtioDevice device;
    private final List<Lcore> lcores;
    private final Lcore[] lcoreOfVring;
    private final Path path;
    private final boolean server;
    private final Duration reconnectDelay;
    private final VhostUserCodec codec;
    private final Thread thread;
    private final AtomicLong sessions = new AtomicLong();
    private final AtomicLong violations = new AtomicLong();
    private final AtomicLong endedSessions = new AtomicLong();
    private volatile boolean closed;
    private volatile UnixSocket listener;
    private volatile UnixSocket connection;
    private volatile VhostUserSession session;
    private volatile String lastCloseReason;

    private VhostUserBackend(Builder b, Path path, boolean server) {
        this.settings = new VhostUserSession.Settings(b.name, b.protocolFeatures, b.maxMemSlots, b.lcoreTimeout,
                b.observer);
        this.device = b.device;
        this.lcores = b.lcores;
        this.lcoreOfVring = place(device, b.lcores, b.placement);
        this.path = path;
        this.server = server;
        this.reconnectDelay = b.reconnectDelay;
        this.codec = new VhostUserCodec(Math.min(device.queueCount(), VhostUserCodec.MAX_VRINGS));
        if (server) {
            // Listen before returning, so a front-end can connect as soon as the builder returns.
            this.listener = UnixSocket.listen(path, 4);
        }
        this.thread = Thread.ofPlatform().name("vhost-user-" + b.name).daemon(true).unstarted(this::run);
    }

    /**
     * Starts building a back-end for {@code device}, whose queues will all run on {@code lcore}.
     *
     * @param device the device to serve
     * @param lcore  the data-plane thread for its queues (may be shared with other back-ends)
     * @return a builder
     */
    public static Builder builder(VirtioDevice device, Lcore lcore) {
        return new Builder(device, List.of(Objects.requireNonNull(lcore, "lcore")));
    }

    /**
     * Starts building a back-end for {@code device}, whose queues are spread over {@code lcores}:
     * vring {@code i} runs on {@code lcores.get(placement(i))}, by default
     * {@code hooks.lcoreGroupOf(i) % lcores.size()} (queue {@code i} on lcore {@code i % n} for a
     * device that does not group its vrings; a net device groups a queue pair on one lcore).
     * One lcore may serve several queues, and the lcores may be shared with other back-ends.
     *
     * @param device the device to serve
     * @param lcores the data-plane threads for its queues, at least one
     * @return a builder
     */
    public static Builder builder(VirtioDevice device, List<Lcore> lcores) {
        return new Builder(device, lcores);
    }

    /** Vring index to lcore, fixed for the back-end's life. */
    private static Lcore[] place(VirtioDevice device, List<Lcore> lcores, IntUnaryOperator placement) {
        VhostUserDeviceHooks hooks = device instanceof VhostUserDeviceHooks h ? h : null;
        int n = lcores.size();
        Lcore[] out = new Lcore[device.queueCount()];
        for (int i = 0; i < out.length; i++) {
            int k;
            if (placement != null) {
                k = placement.applyAsInt(i);
            } else {
                int group = hooks == null ? i : hooks.lcoreGroupOf(i);
                k = Math.floorMod(group, n);
            }
            if (k < 0 || k >= n) {
                throw new IllegalArgumentException("placement of vring " + i + " is lcore " + k + ", there are " + n
                        + " lcores");
            }
            out[i] = lcores.get(k);
        }
        return out;
    }

    /** Builder for {@link VhostUserBackend}. */
    public static final class Builder {
        private final VirtioDevice device;
        private List<Lcore> lcores;
        private IntUnaryOperator placement;
        private String name = "vhost-user";
        private long protocolFeatures = DEFAULT_PROTOCOL_FEATURES;
        private int maxMemSlots = 32;
        private Duration lcoreTimeout = Duration.ofSeconds(10);
        private Duration reconnectDelay = Duration.ofMillis(100);
        private MemoryTableObserver observer = MemoryTableObserver.NONE;

        private Builder(VirtioDevice device, List<Lcore> lcores) {
            this.device = Objects.requireNonNull(device, "device");
            lcores(lcores);
            if (device.queueCount() < 1) {
                throw new IllegalArgumentException("the device must have at least one queue, got " + device.queueCount());
            }
        }

        /**
         * The data-plane threads the device's vrings are spread over (replaces the ones given to
         * {@link VhostUserBackend#builder}). The same lcore may appear more than once.
         */
        public Builder lcores(List<Lcore> lcores) {
            Objects.requireNonNull(lcores, "lcores");
            if (lcores.isEmpty()) {
                throw new IllegalArgumentException("at least one lcore is needed");
            }
            lcores.forEach(l -> Objects.requireNonNull(l, "lcores holds null"));
            this.lcores = List.copyOf(lcores);
            return this;
        }

        /**
         * Which lcore runs each vring: {@code placement.applyAsInt(vring)} is an index into the
         * lcore list (0 to n-1; checked when the back-end is built). Default: the device's
         * {@link VhostUserDeviceHooks#lcoreGroupOf lcore group} modulo the number of lcores.
         */
        public Builder placement(IntUnaryOperator placement) {
            this.placement = Objects.requireNonNull(placement, "placement");
            return this;
        }

        /** A name for logs and the control thread. */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** The protocol features to offer (a subset of {@link #DEFAULT_PROTOCOL_FEATURES}). */
        public Builder protocolFeatures(long mask) {
            if ((mask & ~DEFAULT_PROTOCOL_FEATURES) != 0) {
                throw new IllegalArgumentException("protocol features 0x" + Long.toHexString(mask & ~DEFAULT_PROTOCOL_FEATURES)
                        + " are not implemented; offer a subset of 0x" + Long.toHexString(DEFAULT_PROTOCOL_FEATURES));
            }
            this.protocolFeatures = mask;
            return this;
        }

        /** GET_MAX_MEM_SLOTS: how many regions ADD_MEM_REG may add (default 32). */
        public Builder maxMemSlots(int slots) {
            if (slots < VhostUserMessageDescriptor.MAX_MEMORY_TABLE_REGIONS || slots > 509) {
                throw new IllegalArgumentException("memory slots must be 8..509, got " + slots);
            }
            this.maxMemSlots = slots;
            return this;
        }

        /** How long the control thread waits for an lcore to acknowledge a change (default 10 s). */
        public Builder lcoreTimeout(Duration timeout) {
            this.lcoreTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** Client mode: the pause between connection attempts (default 100 ms). */
        public Builder reconnectDelay(Duration delay) {
            this.reconnectDelay = Objects.requireNonNull(delay, "delay");
            return this;
        }

        /** Watches memory table swaps (tests, tracing). */
        public Builder memoryObserver(MemoryTableObserver observer) {
            this.observer = Objects.requireNonNull(observer, "observer");
            return this;
        }

        /**
         * Server mode: listens on {@code socket} (a stale socket file is replaced) and serves one
         * front-end after another.
         */
        public VhostUserBackend listen(Path socket) {
            VhostUserBackend backend = new VhostUserBackend(this, socket, true);
            backend.thread.start();
            return backend;
        }

        /**
         * Client mode: connects to a front-end listening on {@code socket}, retrying until it is
         * there, and connects again after each disconnect.
         */
        public VhostUserBackend connect(Path socket) {
            VhostUserBackend backend = new VhostUserBackend(this, socket, false);
            backend.thread.start();
            return backend;
        }
    }

    /** The lcores the device's vrings are spread over, as given to the builder. */
    public List<Lcore> lcores() {
        return lcores;
    }

    /**
     * The lcore that runs vring {@code vring}.
     *
     * @param vring a vring index below the device's queue count
     * @return its lcore
     */
    public Lcore lcoreOf(int vring) {
        Objects.checkIndex(vring, lcoreOfVring.length);
        return lcoreOfVring[vring];
    }

    /** The socket path. */
    public Path path() {
        return path;
    }

    /** Front-end connections served so far (including the current one). */
    public long sessions() {
        return sessions.get();
    }

    /** Front-end connections that have ended (device reset, fds closed, memory unmapped). */
    public long endedSessions() {
        return endedSessions.get();
    }

    /** Connections closed because a rule was broken. */
    public long violations() {
        return violations.get();
    }

    /** Why the last connection ended, e.g. {@code "RING_OUTSIDE_MEMORY: ..."} or {@code "front-end disconnected"}. */
    public String lastCloseReason() {
        return lastCloseReason;
    }

    /** Whether a front-end is connected now. */
    public boolean connected() {
        return connection != null;
    }

    /** The guest memory of the current session, or null. For tests and diagnostics. */
    public GuestMemory currentMemory() {
        VhostUserSession s = session;
        return s == null ? null : s.memory();
    }

    /** Call eventfd signals of a vring in the current session (diagnostics; racy while the ring runs). */
    public long callsSignalled(int vring) {
        VhostUserSession s = session;
        return s == null ? 0 : s.callsSignalled(vring);
    }

    /** The in-flight area shared with the current front-end, or null. */
    public MemorySegment inflightArea() {
        VhostUserSession s = session;
        return s == null ? null : s.inflightArea();
    }

    private void run() {
        while (!closed) {
            UnixSocket socket;
            try {
                socket = server ? listener.accept() : connectOnce();
            } catch (RuntimeException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.ERROR, settings.name() + ": accept on " + path + " failed", e);
                    sleep(reconnectDelay);
                }
                continue;
            }
            if (socket == null) {
                continue;
            }
            connection = socket;
            if (closed) {
                socket.close();
                break;
            }
            sessions.incrementAndGet();
            serve(socket);
            connection = null;
        }
    }

    private UnixSocket connectOnce() {
        try {
            return UnixSocket.connect(path);
        } catch (LinuxException | UncheckedIOException e) {
            sleep(reconnectDelay);
            return null;
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Serves one front-end until it disconnects or breaks a fatal rule; always resets afterwards. */
    private void serve(UnixSocket socket) {
        VhostUserSession s = new VhostUserSession(settings, device, lcoreOfVring);
        session = s;
        String reason = "front-end disconnected";
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(MAX_MESSAGE, 8);
            MemorySegment out = arena.allocate(MAX_MESSAGE, 8);
            Received received = new Received();
            while (!closed) {
                if (!serveOne(socket, s, in, out, received)) {
                    break;
                }
            }
        } catch (SessionException e) {
            reason = e.getMessage();
            violations.incrementAndGet();
            LOG.log(System.Logger.Level.ERROR, settings.name() + ": closing the connection on " + path + ": " + reason);
        } catch (RuntimeException e) {
            reason = "I/O failure: " + e;
            if (!closed) {
                LOG.log(System.Logger.Level.ERROR, settings.name() + ": closing the connection on " + path
                        + " after an unexpected failure", e);
            }
        } finally {
            session = null;
            try {
                s.close();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, settings.name() + ": resetting the device failed", e);
            }
            // Published before the socket closes: a front-end that sees EOF sees the device reset.
            lastCloseReason = reason;
            endedSessions.incrementAndGet();
            socket.close();
        }
    }

    /** Fds received with the message being read. */
    private static final class Received {
        final int[] fds = new int[FD_CAPACITY];
        final int[] chunk = new int[FD_CAPACITY];
        final int[] count = new int[1];
        int n;

        void closeAll() {
            for (int i = 0; i < n; i++) {
                LibC.closeQuietly(fds[i]);
            }
            n = 0;
        }
    }

    /**
     * Reads exactly {@code length} bytes into {@code buffer}, collecting the fds that come with them.
     *
     * @return the bytes read: {@code length}, or fewer when the peer closed first
     */
    private static int readFully(UnixSocket socket, MemorySegment buffer, int length, Received r) {
        int done = 0;
        while (done < length) {
            int got = socket.receive(buffer.asSlice(done, length - done), r.chunk, r.count);
            for (int i = 0; i < r.count[0]; i++) {
                if (r.n < r.fds.length) {
                    r.fds[r.n++] = r.chunk[i];
                } else {
                    LibC.closeQuietly(r.chunk[i]);
                }
            }
            if (got == 0) {
                return done;
            }
            done += got;
        }
        return done;
    }

    /** Reads, handles and answers one message; false when the front-end closed the connection. */
    private boolean serveOne(UnixSocket socket, VhostUserSession s, MemorySegment in, MemorySegment out, Received r) {
        r.n = 0;
        try {
            int got = readFully(socket, in, HEADER, r);
            if (got == 0) {
                r.closeAll();
                return false;
            }
            if (got < HEADER) {
                throw new SessionException(SessionRule.CLOSED_MID_MESSAGE, got + " of " + HEADER + " header bytes");
            }
            VhostUserHeader header;
            try {
                header = codec.decodeHeader(in, HEADER, r.fds, r.n);
            } catch (VhostUserProtocolException e) {
                if (e.error() instanceof VhostUserProtocolError.UnknownRequest unknown) {
                    return skipUnknown(socket, unknown.code(), in, out, r);
                }
                throw new SessionException(SessionRule.MALFORMED_MESSAGE, e.getMessage());
            }
            MemorySegment payload = in.asSlice(HEADER);
            got = readFully(socket, payload, header.size(), r);
            if (got < header.size()) {
                throw new SessionException(SessionRule.CLOSED_MID_MESSAGE, header.request() + ": " + got + " of "
                        + header.size() + " payload bytes");
            }
            VhostUserMessage message;
            try {
                message = codec.decodePayload(header, payload, header.size(), r.fds, r.n);
            } catch (VhostUserProtocolException e) {
                throw new SessionException(SessionRule.MALFORMED_MESSAGE, e.getMessage());
            }
            // From here the message (its fds and discardedFds) owns every received fd.
            r.n = 0;
            for (int fd : message.discardedFds()) {
                LibC.closeQuietly(fd);
            }
            if (message.isReply()) {
                for (int fd : message.fds()) {
                    LibC.closeQuietly(fd);
                }
                throw new SessionException(SessionRule.MALFORMED_MESSAGE, message.request()
                        + " arrived with the REPLY flag: a back-end takes requests only");
            }
            handle(socket, s, message, out);
            return true;
        } finally {
            r.closeAll();
        }
    }

    private void handle(UnixSocket socket, VhostUserSession s, VhostUserMessage message, MemorySegment out) {
        VhostUserMessage reply;
        try {
            reply = s.handle(message);
        } catch (SessionException e) {
            boolean fatal = e.rule().fatal()
                    || (message.request().alwaysReplies() && message.request().replyPayload() != PayloadKind.U64);
            if (message.request().alwaysReplies() && !fatal) {
                // A u64 reply can say "failed" (IOTLB_MSG answers 0 on success).
                send(socket, VhostUserMessage.reply(message.request(), new VhostUserPayload.U64(1)), out);
            } else if (message.needsReply() && !message.request().alwaysReplies()) {
                send(socket, VhostUserMessage.ack(message.request(), 1), out);
            }
            if (fatal) {
                throw e;
            }
            LOG.log(System.Logger.Level.WARNING, settings.name() + ": " + message.request() + " failed: " + e.getMessage());
            return;
        }
        if (reply != null) {
            send(socket, reply, out);
        } else if (message.needsReply()) {
            // vhost-user.rst, "REPLY_ACK": zero on success.
            send(socket, VhostUserMessage.ack(message.request(), 0), out);
        }
    }

    private void send(UnixSocket socket, VhostUserMessage reply, MemorySegment out) {
        int length = codec.encode(reply, out);
        socket.send(out.asSlice(0, length), reply.fds());
    }

    /**
     * A request code this back-end does not know: the header is well formed, so the payload is
     * skipped, the fds closed, a failure ack sent when asked for, and the session goes on.
     */
    private boolean skipUnknown(UnixSocket socket, int code, MemorySegment in, MemorySegment out, Received r) {
        int flags = in.get(U32, VhostUserMessageDescriptor.FLAGS_OFFSET);
        long size = Integer.toUnsignedLong(in.get(U32, VhostUserMessageDescriptor.SIZE_OFFSET));
        if ((flags & VhostUserMessageDescriptor.VERSION_MASK) != VhostUserMessageDescriptor.VERSION
                || size > VhostUserMessageDescriptor.MAX_PAYLOAD_SIZE) {
            throw new SessionException(SessionRule.MALFORMED_MESSAGE, "unknown request code "
                    + Integer.toUnsignedString(code) + " with flags 0x" + Integer.toHexString(flags) + " and size " + size);
        }
        int got = readFully(socket, in.asSlice(HEADER), (int) size, r);
        r.closeAll();
        if (got < size) {
            throw new SessionException(SessionRule.CLOSED_MID_MESSAGE, "unknown request " + Integer.toUnsignedString(code)
                    + ": " + got + " of " + size + " payload bytes");
        }
        if (UNKNOWN_LOGGED.add(code)) {
            LOG.log(System.Logger.Level.WARNING, settings.name() + ": " + SessionRule.UNSUPPORTED_REQUEST.name()
                    + ": unknown vhost-user request code " + Integer.toUnsignedString(code)
                    + " ignored (logged once per code)");
        }
        if ((flags & VhostUserMessageDescriptor.FLAG_NEED_REPLY) != 0) {
            out.set(U32, VhostUserMessageDescriptor.REQUEST_OFFSET, code);
            out.set(U32, VhostUserMessageDescriptor.FLAGS_OFFSET,
                    VhostUserMessageDescriptor.VERSION | VhostUserMessageDescriptor.FLAG_REPLY);
            out.set(U32, VhostUserMessageDescriptor.SIZE_OFFSET, Long.BYTES);
            out.set(U64, HEADER, 1L);
            socket.send(out.asSlice(0, HEADER + Long.BYTES));
        }
        return true;
    }

    /**
     * Stops serving: closes the listening socket (or stops reconnecting), ends the current session
     * (the device is reset) and waits for the control thread.
     */
    @Override
    public void close() {
        closed = true;
        UnixSocket l = listener;
        if (l != null) {
            l.close();
        }
        UnixSocket c = connection;
        if (c != null) {
            c.close();
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "VhostUserBackend[" + settings.name() + ", " + (server ? "listening on " : "connecting to ") + path + "]";
    }
}

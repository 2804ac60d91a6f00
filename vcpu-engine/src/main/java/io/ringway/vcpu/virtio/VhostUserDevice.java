package io.ringway.vcpu.virtio;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import io.ringway.runtime.sys.Epoll;
import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.EventFd;
import io.ringway.runtime.sys.LinuxException;

import io.ringway.vcpu.kvm.Vm;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.frontend.VhostUserFrontendException;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioFeatures;

/**
 * A virtio device served by a vhost-user back-end (Ringway's {@code ringway blk}, qemu-storage-daemon,
 * DPDK's vhost PMD), put behind the {@link VirtioMmioTransport} through {@link ExternalRings}: this
 * process only relays the control plane (features, configuration space, memory table, ring
 * addresses, the two eventfds); the guest's kicks and the back-end's interrupts go straight
 * through KVM.
 *
 * <p>vhost-user does not say which kind of device it serves, so the caller names the device type
 * and the queue count.
 *
 * <p>A back-end that dies or misbehaves (the connection closes, a send fails with EPIPE, a reply
 * answers another request or has the wrong size, no reply within {@link #REPLY_TIMEOUT}, bytes
 * nobody asked for) makes the device <em>failed</em>: the socket is closed at once, the reason
 * (naming the socket and the message) goes to the {@link #onFailure} listener — the transport, which
 * sets DEVICE_NEEDS_RESET; a failure while the transport stops the rings is only logged, the device is
 * being reset anyway — and from then on {@link #stop()}, {@link #reset()} and {@link #close()}
 * do nothing that can throw, {@link #readConfig} reads zeros and {@link #start} refuses with the
 * reason. A watcher thread notices a close or stray bytes while the rings run and nobody talks to
 * the back-end. A reconnect is not attempted: the VMM needs a new device.
 */
public final class VhostUserDevice implements ExternalRings, AutoCloseable {
    private static final long PROTOCOL_FEATURES_BIT = 1L << 30;
    private static final long PROTOCOL_MQ = 1L << 0;
    private static final long PROTOCOL_REPLY_ACK = 1L << 3;
    private static final long PROTOCOL_CONFIG = 1L << 9;

    /** How long a back-end may take to answer one request before it counts as dead. */
    public static final Duration REPLY_TIMEOUT = Duration.ofSeconds(5);
    private static final System.Logger LOG = System.getLogger(VhostUserDevice.class.getName());
    private static final long STOP_TOKEN = 1;

    private final VhostUserFrontend frontend;
    private final Path socket;
    private final Epoll watch;
    private final EventFd stopWatch;
    private final Thread watcher;
    private volatile String failure;
    private volatile Consumer<String> failureListener;
    private boolean closed;
    private final int deviceType;
    private final int queueCount;
    private final int maxQueueSize;
    private final long offered;
    private final boolean config;
    private final List<Integer> started = new ArrayList<>();
    private FrontendMemory memory;

    /** {@code queueCount} 0: as many as the back-end says (GET_QUEUE_NUM with the MQ protocol feature, else 1). */
    private VhostUserDevice(VhostUserFrontend frontend, Path socket, int deviceType, int queueCount, int maxQueueSize) {
        this.frontend = frontend;
        this.socket = socket;
        frontend.socket().receiveTimeout(REPLY_TIMEOUT);
        this.deviceType = deviceType;
        this.maxQueueSize = maxQueueSize;
        frontend.setOwner();
        long features = frontend.getFeatures();
        boolean cfg = false;
        boolean mq = false;
        if ((features & PROTOCOL_FEATURES_BIT) != 0) {
            long protocol = frontend.getProtocolFeatures() & (PROTOCOL_MQ | PROTOCOL_REPLY_ACK | PROTOCOL_CONFIG);
            frontend.setProtocolFeatures(protocol);
            cfg = (protocol & PROTOCOL_CONFIG) != 0;
            mq = (protocol & PROTOCOL_MQ) != 0;
        }
        if (queueCount == 0) {
            long n = mq ? frontend.getQueueNum() : 1;
            if (n < 1 || n > MAX_QUEUES) {
                throw new IllegalArgumentException("the vhost-user back-end reports " + n + " queues (GET_QUEUE_NUM), expected 1.." + MAX_QUEUES);
            }
            queueCount = (int) n;
        }
        this.queueCount = queueCount;
        this.offered = features;
        this.config = cfg;
        Epoll epoll = Epoll.create(2);
        EventFd stop = null;
        try {
            stop = EventFd.create(true);
            epoll.add(stop.fd(), Epoll.EPOLLIN, STOP_TOKEN);
            epoll.add(frontend.socket().fd(), Epoll.EPOLLIN | Epoll.EPOLLRDHUP, 0);
        } catch (RuntimeException e) {
            if (stop != null) {
                stop.close();
            }
            epoll.close();
            throw e;
        }
        this.watch = epoll;
        this.stopWatch = stop;
        this.watcher = Thread.ofPlatform().daemon().name("vhost-user-watch " + socket.getFileName()).unstarted(this::watch);
        watcher.start();
    }

    /** The most queues {@link #connect(Path, int, int)} accepts from a back-end. */
    public static final int MAX_QUEUES = 64;

    /**
     * Connects to the back-end listening on {@code socket} (waits up to 10 s for it) and takes its
     * queue count from it: GET_QUEUE_NUM when it has the MQ protocol feature (qemu-storage-daemon
     * reports its export's num-queues), else 1.
     *
     * @param deviceType   the virtio device ID (1 net, 2 block)
     * @param maxQueueSize the largest queue size to offer the driver
     */
    public static VhostUserDevice connect(Path socket, int deviceType, int maxQueueSize) {
        return connect(socket, deviceType, 0, maxQueueSize);
    }

    /**
     * Connects to the back-end listening on {@code socket} (waits up to 10 s for it).
     *
     * @param deviceType   the virtio device ID (1 net, 2 block)
     * @param queueCount   how many queues the driver may use (0: ask the back-end, as {@link #connect(Path, int, int)})
     * @param maxQueueSize QueueNumMax to report
     */
    public static VhostUserDevice connect(Path socket, int deviceType, int queueCount, int maxQueueSize) {
        VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(10));
        try {
            return new VhostUserDevice(f, socket, deviceType, queueCount, maxQueueSize);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    @Override
    public int deviceType() {
        return deviceType;
    }

    /** What the back-end offers, without the vhost-user protocol bit (not a virtio feature). */
    @Override
    public long deviceFeatures() {
        return offered & ~PROTOCOL_FEATURES_BIT;
    }

    @Override
    public int queueCount() {
        return queueCount;
    }

    @Override
    public int maxQueueSize() {
        return maxQueueSize;
    }

    /**
     * GET_CONFIG when the back-end has VHOST_USER_PROTOCOL_F_CONFIG, else zeros. The request asks for
     * the first {@code offset + length} bytes and cuts the field out: back-ends answer from the start
     * of their configuration whatever the offset says (QEMU's own frontends always ask from 0, and
     * qemu-storage-daemon's vhost-user-blk export copies from 0: asked for num_queues at offset 34 it
     * returned the first two bytes of the capacity). A refused request (an empty reply) reads as zeros.
     */
    @Override
    public synchronized byte[] readConfig(int offset, int length) {
        byte[] out = new byte[length];
        if (config && failure == null) {
            try {
                byte[] prefix = frontend.getConfig(0, offset + length);
                if (prefix.length > offset) {
                    System.arraycopy(prefix, offset, out, 0, Math.min(length, prefix.length - offset));
                }
            } catch (RuntimeException e) {
                failed("GET_CONFIG", e);
            }
        }
        return out;
    }

    @Override
    public synchronized void writeConfig(int offset, byte[] data) {
        if (config && failure == null) {
            try {
                frontend.setConfig(offset, data);
            } catch (RuntimeException e) {
                failed("SET_CONFIG", e);
            }
        }
    }

    @Override
    public synchronized void start(long features, List<Vm.MemorySlot> slots, List<QueueConfig> queues, int[] kickFds, int[] callFds) {
        if (failure != null) {
            throw new IllegalArgumentException(failure);
        }
        try {
            startRings(features, slots, queues, kickFds, callFds);
        } catch (RuntimeException e) {
            if (!isBackendFailure(e)) {
                throw e; // our own refusal (a ring outside the memory table): the back-end is fine
            }
            String reason = reason("the ring start", e);
            markFailed(reason); // the transport hears of it through this exception
            throw new IllegalArgumentException(reason, e);
        }
    }

    private void startRings(long features, List<Vm.MemorySlot> slots, List<QueueConfig> queues, int[] kickFds, int[] callFds) {
        frontend.setFeatures(features | (offered & PROTOCOL_FEATURES_BIT));
        List<FrontendMemory.Region> regions = new ArrayList<>();
        for (Vm.MemorySlot s : slots) {
            regions.add(new FrontendMemory.Region(s.sharedRegion(), s.gpa()));
        }
        memory = FrontendMemory.of(regions);
        frontend.setMemTable(memory);
        boolean packed = VirtioFeatures.has(features, VirtioFeatures.RING_PACKED);
        for (int i = 0; i < queues.size(); i++) {
            QueueConfig q = queues.get(i);
            if (q != null) {
                frontend.startVring(i, memory, q, packed ? VhostUserFrontend.FRESH_PACKED_BASE : 0, kickFds[i], callFds[i]);
                started.add(i);
            }
        }
    }

    @Override
    public synchronized void stop() {
        try {
            for (int i : started) {
                if (failure == null) {
                    frontend.stopVring(i);
                }
            }
        } catch (RuntimeException e) {
            // The transport is stopping the rings already (a reset, a failure, the end): no
            // DEVICE_NEEDS_RESET for a device being reset, just the line; the next start refuses.
            String reason = reason("the ring stop", e);
            if (markFailed(reason)) {
                LOG.log(System.Logger.Level.ERROR, reason);
            }
        } finally {
            started.clear();
            memory = null; // not owning: the VM's regions stay with the VM
        }
    }


    /**
     * Who hears of a failure: the transport, which sets DEVICE_NEEDS_RESET. Called once, with the
     * reason, on the thread that noticed it (a vCPU's, or the watcher's with no lock held). Without
     * a listener the failure is logged.
     */
    @Override
    public void onFailure(Consumer<String> listener) {
        this.failureListener = listener;
    }

    /** Why the back-end was given up, or null while it works. */
    public String failure() {
        return failure;
    }

    /** Closes the connection (the back-end resets its device) and ends the watcher; never throws. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            if (failure == null) {
                frontend.close();
            }
            stopWatch.signal();
        }
        try {
            // It needs this lock to see the stop. Bounded: a watcher telling the listener may wait
            // for the transport's lock; it touches no fd after that, so closing them under it is safe.
            watcher.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        watch.close();
        stopWatch.close();
    }

    // ------------------------------------------------------------------ failure

    /** A failure of the peer (closed, EPIPE, a wrong or late reply), not a refusal of ours. */
    private static boolean isBackendFailure(RuntimeException e) {
        return e instanceof VhostUserFrontendException || e instanceof LinuxException || e instanceof java.io.UncheckedIOException;
    }

    /** Under the lock: gives the back-end up (closes the socket) and tells the listener. */
    private void failed(String during, RuntimeException e) {
        String reason = reason(during, e);
        if (markFailed(reason)) {
            tell(reason);
        }
    }

    private String reason(String during, Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && !(root instanceof LinuxException)) {
            root = root.getCause();
        }
        String why = root instanceof LinuxException l && l.errno() == Errno.EAGAIN
            ? e.getMessage() + " (no reply within " + REPLY_TIMEOUT.toSeconds() + " s)"
            : e.getMessage();
        return "vhost-user back-end at " + socket + " failed during " + during + ": " + why;
    }

    /** Under the lock; true for the first failure. */
    private boolean markFailed(String reason) {
        if (failure != null || closed) {
            return false;
        }
        failure = reason;
        frontend.close(); // frees the socket; the watcher sees the stop token
        stopWatch.signal();
        return true;
    }

    private void tell(String reason) {
        Consumer<String> l = failureListener;
        if (l != null) {
            l.accept(reason);
        } else {
            LOG.log(System.Logger.Level.ERROR, reason);
        }
    }

    /**
     * The watcher: between requests nothing may arrive on the socket (a back-end's own messages use
     * the back-end channel, which is not offered), so a readable socket while no request is in
     * flight is a close or stray bytes. Requests hold this device's lock: a reply that wakes the
     * watcher has been read by the time it gets the lock, and it looks again.
     */
    private void watch() {
        while (true) {
            int n;
            try {
                n = watch.await(-1);
            } catch (RuntimeException e) {
                return;
            }
            if (n <= 0) {
                continue;
            }
            String reason;
            synchronized (this) {
                if (closed || failure != null) {
                    return;
                }
                int ready = watch.await(0);
                int events = 0;
                for (int i = 0; i < ready; i++) {
                    if (watch.data(i) == 0) {
                        events |= watch.events(i);
                    }
                }
                if (events == 0) {
                    continue; // the reply a request was waiting for
                }
                reason = "vhost-user back-end at " + socket + " failed while the rings ran: "
                    + ((events & (Epoll.EPOLLRDHUP | Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0
                        ? "it closed the connection" : "it sent bytes no request asked for");
                if (!markFailed(reason)) {
                    return;
                }
            }
            tell(reason); // no lock held: the listener takes the transport's
            return;
        }
    }
}

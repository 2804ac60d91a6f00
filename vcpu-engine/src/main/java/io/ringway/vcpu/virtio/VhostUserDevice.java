package io.ringway.vcpu.virtio;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.ringway.vcpu.kvm.Vm;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;

/**
 * A virtio device served by a vhost-user back-end (Ringway's {@code ringway blk}, qemu-storage-daemon,
 * DPDK's vhost PMD), put behind the {@link VirtioMmioTransport} through {@link ExternalRings}: this
 * process only relays the control plane (features, configuration space, memory table, ring
 * addresses, the two eventfds); the guest's kicks and the back-end's interrupts go straight
 * through KVM.
 *
 * <p>vhost-user does not say which kind of device it serves, so the caller names the device type
 * and the queue count.
 */
public final class VhostUserDevice implements VirtioDevice, ExternalRings, AutoCloseable {
    private static final long PROTOCOL_FEATURES_BIT = 1L << 30;
    private static final long PROTOCOL_MQ = 1L << 0;
    private static final long PROTOCOL_REPLY_ACK = 1L << 3;
    private static final long PROTOCOL_CONFIG = 1L << 9;

    private final VhostUserFrontend frontend;
    private final int deviceType;
    private final int queueCount;
    private final int maxQueueSize;
    private final long offered;
    private final boolean config;
    private final List<Integer> started = new ArrayList<>();
    private FrontendMemory memory;

    /** {@code queueCount} 0: as many as the back-end says (GET_QUEUE_NUM with the MQ protocol feature, else 1). */
    private VhostUserDevice(VhostUserFrontend frontend, int deviceType, int queueCount, int maxQueueSize) {
        this.frontend = frontend;
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
            return new VhostUserDevice(f, deviceType, queueCount, maxQueueSize);
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
        if (config) {
            byte[] prefix = frontend.getConfig(0, offset + length);
            if (prefix.length > offset) {
                System.arraycopy(prefix, offset, out, 0, Math.min(length, prefix.length - offset));
            }
        }
        return out;
    }

    @Override
    public synchronized void writeConfig(int offset, byte[] data) {
        if (config) {
            frontend.setConfig(offset, data);
        }
    }

    @Override
    public synchronized void start(long features, List<Vm.MemorySlot> slots, List<QueueConfig> queues, int[] kickFds, int[] callFds) {
        frontend.setFeatures(features | (offered & PROTOCOL_FEATURES_BIT));
        List<FrontendMemory.Region> regions = new ArrayList<>();
        for (Vm.MemorySlot s : slots) {
            regions.add(new FrontendMemory.Region(s.region(), s.gpa()));
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
        for (int i : started) {
            frontend.stopVring(i);
        }
        started.clear();
        memory = null; // not owning: the VM's regions stay with the VM
    }

    /** Nothing to do: the back-end activates its device when its rings start. */
    @Override
    public void activate(long negotiatedFeatures, GuestMemory memory, List<Virtqueue> queues) {
    }

    @Override
    public void reset() {
        stop();
    }

    /** Never called for an {@link ExternalRings} device: the back-end polls. */
    @Override
    public int process(int queueIndex) {
        return 0;
    }

    /** Closes the connection (the back-end resets its device). */
    @Override
    public synchronized void close() {
        frontend.close();
    }
}

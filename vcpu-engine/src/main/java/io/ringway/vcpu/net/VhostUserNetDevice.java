package io.ringway.vcpu.net;

import java.nio.file.Path;
import java.util.List;

import io.ringway.net.device.VirtioNetConfigDescriptor;
import io.ringway.net.device.VirtioNetFeatures;
import io.ringway.vcpu.kvm.Vm;
import io.ringway.vcpu.virtio.ExternalRings;
import io.ringway.vcpu.virtio.VhostUserDevice;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioFeatures;

/**
 * A guest NIC whose queues a vhost-user-net back-end serves ({@code ringway net}, DPDK's vhost PMD),
 * with the device configuration kept here, as QEMU's vhost-user netdev does: the back-end serves the
 * receive and transmit queue of one pair and nothing else.
 *
 * <ul>
 *   <li>The MAC is this VM's ({@link NicSpec#mac}), offered with VIRTIO_NET_F_MAC: a vhost-user
 *       back-end has one configured address for every port, or none (Ringway's back-end offers no
 *       VHOST_USER_PROTOCOL_F_CONFIG), and two guests with one address cannot talk through a
 *       learning switch.</li>
 *   <li>Offered to the driver: what the back-end offers among VERSION_1, INDIRECT_DESC, EVENT_IDX,
 *       RING_PACKED and MRG_RXBUF, plus MAC. No control queue, multiqueue or STATUS (the link is up,
 *       virtio 1.2, 5.1.4.2 without STATUS): those are front-end features that would need a control
 *       queue served here.</li>
 *   <li>The back-end is told only the negotiated bits it offered itself (MAC is ours, not its).</li>
 * </ul>
 */
public final class VhostUserNetDevice implements ExternalRings, AutoCloseable {
    /** Queue pair 0: receiveq1 and transmitq1 (virtio 1.2, 5.1.2). */
    static final int QUEUES = 2;
    private static final long PASSED = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
        | VirtioFeatures.mask(VirtioFeatures.INDIRECT_DESC)
        | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX)
        | VirtioFeatures.mask(VirtioFeatures.RING_PACKED)
        | VirtioFeatures.mask(VirtioNetFeatures.MRG_RXBUF);
    private static final long MAC = VirtioFeatures.mask(VirtioNetFeatures.MAC);

    private final VhostUserDevice backend;
    private final byte[] mac;
    private final long backendFeatures;

    VhostUserNetDevice(VhostUserDevice backend, byte[] mac) {
        this.backend = backend;
        this.mac = mac.clone();
        this.backendFeatures = backend.deviceFeatures();
        if (!VirtioFeatures.has(backendFeatures, VirtioFeatures.VERSION_1)) {
            throw new IllegalArgumentException("the vhost-user back-end does not offer VIRTIO_F_VERSION_1 (features 0x"
                + Long.toHexString(backendFeatures) + "): a modern virtio-pci device needs it");
        }
    }

    /** Connects to the back-end listening on {@code socket} (waits up to 10 s for it). */
    public static VhostUserNetDevice connect(Path socket, byte[] mac, int maxQueueSize) {
        VhostUserDevice d = VhostUserDevice.connect(socket, VIRTIO_NET_ID, QUEUES, maxQueueSize);
        try {
            return new VhostUserNetDevice(d, mac);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    private static final int VIRTIO_NET_ID = 1;

    @Override
    public int deviceType() {
        return VIRTIO_NET_ID;
    }

    @Override
    public long deviceFeatures() {
        return (backendFeatures & PASSED) | MAC;
    }

    @Override
    public int queueCount() {
        return QUEUES;
    }

    @Override
    public int maxQueueSize() {
        return backend.maxQueueSize();
    }

    /** {@code mac} at 0; the rest of {@code struct virtio_net_config} reads as zeros (its features are not offered). */
    @Override
    public byte[] readConfig(int offset, int length) {
        byte[] out = new byte[Math.max(0, length)];
        for (int i = 0; i < out.length; i++) {
            long at = (long) offset + i;
            out[i] = at >= VirtioNetConfigDescriptor.MAC_OFFSET && at < VirtioNetConfigDescriptor.MAC_LENGTH ? mac[(int) at] : 0;
        }
        return out;
    }

    /** virtio 1.2, 5.1.4: with VERSION_1 the driver does not write the MAC; writes are ignored. */
    @Override
    public void writeConfig(int offset, byte[] data) {
    }

    @Override
    public void start(long features, List<Vm.MemorySlot> memory, List<QueueConfig> queues, int[] kickFds, int[] callFds) {
        backend.start(features & backendFeatures, memory, queues, kickFds, callFds);
    }

    /** Stops the back-end's rings; a back-end that is gone is not an error here ({@link VhostUserDevice#stop()}). */
    @Override
    public void stop() {
        backend.stop();
    }

    @Override
    public void onFailure(java.util.function.Consumer<String> listener) {
        backend.onFailure(listener);
    }


    /** @return the MAC the guest reads */
    public byte[] mac() {
        return mac.clone();
    }

    /** Closes the connection (the back-end resets its device). */
    @Override
    public void close() {
        backend.close();
    }
}

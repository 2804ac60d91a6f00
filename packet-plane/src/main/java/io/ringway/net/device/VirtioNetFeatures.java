package io.ringway.net.device;

/**
 * virtio-net feature bits (virtio 1.2, 5.1.3), as bit numbers. The reserved bits (VERSION_1,
 * EVENT_IDX, RING_PACKED ...) are in {@link io.ringway.vhost.virtio.VirtioFeatures}.
 */
public final class VirtioNetFeatures {
    private VirtioNetFeatures() {
    }

    /** VIRTIO_NET_F_CSUM: the device handles packets with partial checksum. Not offered. */
    public static final int CSUM = 0;
    /** VIRTIO_NET_F_GUEST_CSUM: the driver handles packets with partial checksum. Not offered. */
    public static final int GUEST_CSUM = 1;
    /** VIRTIO_NET_F_MTU: the device reports the maximum MTU in config space. */
    public static final int MTU = 3;
    /** VIRTIO_NET_F_MAC: the device has a MAC address in config space. */
    public static final int MAC = 5;
    /** VIRTIO_NET_F_GUEST_TSO4: the driver can receive TSOv4. Not offered. */
    public static final int GUEST_TSO4 = 7;
    /** VIRTIO_NET_F_HOST_TSO4: the device can receive TSOv4. Not offered. */
    public static final int HOST_TSO4 = 11;
    /** VIRTIO_NET_F_MRG_RXBUF: the driver can merge receive buffers (num_buffers). */
    public static final int MRG_RXBUF = 15;
    /** VIRTIO_NET_F_STATUS: the configuration status field is available. */
    public static final int STATUS = 16;
    /** VIRTIO_NET_F_CTRL_VQ: the control channel is available. */
    public static final int CTRL_VQ = 17;
    /** VIRTIO_NET_F_CTRL_RX: control channel RX mode support. */
    public static final int CTRL_RX = 18;
    /** VIRTIO_NET_F_CTRL_VLAN: control channel VLAN filtering. Not offered. */
    public static final int CTRL_VLAN = 19;
    /** VIRTIO_NET_F_GUEST_ANNOUNCE: the driver can send gratuitous packets. Not offered. */
    public static final int GUEST_ANNOUNCE = 21;
    /** VIRTIO_NET_F_MQ: multiqueue with automatic receive steering. */
    public static final int MQ = 22;
    /** VIRTIO_NET_F_CTRL_MAC_ADDR: set the MAC address through the control channel. */
    public static final int CTRL_MAC_ADDR = 23;
}

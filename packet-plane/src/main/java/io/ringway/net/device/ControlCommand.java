package io.ringway.net.device;

/**
 * Control virtqueue classes, commands and acks (virtio 1.2, 5.1.6.5). A command is
 * {@code u8 class, u8 command, command-specific-data[]} (device-readable) followed by
 * {@code u8 ack} (device-writable).
 */
public final class ControlCommand {
    private ControlCommand() {
    }

    /** VIRTIO_NET_OK. */
    public static final int OK = 0;
    /** VIRTIO_NET_ERR. */
    public static final int ERR = 1;

    /** VIRTIO_NET_CTRL_RX: receive filtering modes (5.1.6.5.1). */
    public static final int CLASS_RX = 0;
    public static final int RX_PROMISC = 0;
    public static final int RX_ALLMULTI = 1;
    public static final int RX_ALLUNI = 2;
    public static final int RX_NOMULTI = 3;
    public static final int RX_NOUNI = 4;
    public static final int RX_NOBCAST = 5;

    /** VIRTIO_NET_CTRL_MAC: MAC filtering and the MAC address (5.1.6.5.2). */
    public static final int CLASS_MAC = 1;
    public static final int MAC_TABLE_SET = 0;
    public static final int MAC_ADDR_SET = 1;

    /** VIRTIO_NET_CTRL_VLAN (5.1.6.5.3). */
    public static final int CLASS_VLAN = 2;

    /** VIRTIO_NET_CTRL_ANNOUNCE (5.1.6.5.4). */
    public static final int CLASS_ANNOUNCE = 3;
    public static final int ANNOUNCE_ACK = 0;

    /** VIRTIO_NET_CTRL_MQ (5.1.6.5.5). */
    public static final int CLASS_MQ = 4;
    public static final int MQ_VQ_PAIRS_SET = 0;
    /** VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN. */
    public static final int MQ_VQ_PAIRS_MIN = 1;
    /** VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX. */
    public static final int MQ_VQ_PAIRS_MAX = 0x8000;

    /** VIRTIO_NET_CTRL_GUEST_OFFLOADS (5.1.6.5.6). */
    public static final int CLASS_GUEST_OFFLOADS = 5;
}

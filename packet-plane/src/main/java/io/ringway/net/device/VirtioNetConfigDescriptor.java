package io.ringway.net.device;

/**
 * The virtio-net device configuration space (virtio 1.2, 5.1.4, {@code struct virtio_net_config}),
 * little-endian; the fields this device fills:
 *
 * <pre>
 *  0                         6            8                      10           12
 *  +-------------------------+------------+-----------------------+------------+
 *  |        mac[6]           |   status   |  max_virtqueue_pairs  |    mtu     |
 *  +-------------------------+------------+-----------------------+------------+
 * </pre>
 */
public final class VirtioNetConfigDescriptor {
    private VirtioNetConfigDescriptor() {
    }

    public static final int MAC_OFFSET = 0;
    public static final int MAC_LENGTH = 6;
    public static final int STATUS_OFFSET = 6;
    public static final int MAX_VIRTQUEUE_PAIRS_OFFSET = 8;
    public static final int MTU_OFFSET = 10;
    /** Bytes of configuration space this device has. */
    public static final int LENGTH = 12;

    /** VIRTIO_NET_S_LINK_UP. */
    public static final int S_LINK_UP = 1;
    /** VIRTIO_NET_S_ANNOUNCE. */
    public static final int S_ANNOUNCE = 2;
}

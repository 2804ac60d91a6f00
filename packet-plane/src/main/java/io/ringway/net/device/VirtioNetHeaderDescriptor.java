package io.ringway.net.device;

/**
 * The virtio-net header that precedes every packet on the queues (virtio 1.2, 5.1.6,
 * {@code struct virtio_net_hdr}), little-endian:
 *
 * <pre>
 *  0        1        2                 4                 6                 8                10                12
 *  +--------+--------+-----------------+-----------------+-----------------+-----------------+-----------------+
 *  | flags  |gso_type|     hdr_len     |    gso_size     |   csum_start    |   csum_offset   |   num_buffers   |
 *  +--------+--------+-----------------+-----------------+-----------------+-----------------+-----------------+
 * </pre>
 *
 * With VIRTIO_F_VERSION_1 (or MRG_RXBUF) the header is 12 bytes and has {@code num_buffers};
 * a legacy device without MRG_RXBUF uses the first 10.
 */
public final class VirtioNetHeaderDescriptor {
    private VirtioNetHeaderDescriptor() {
    }

    /** Header length with VERSION_1 or MRG_RXBUF. */
    public static final int LENGTH = 12;
    /** Header length of a legacy device without MRG_RXBUF. */
    public static final int LEGACY_LENGTH = 10;
    public static final int FLAGS_OFFSET = 0;
    public static final int GSO_TYPE_OFFSET = 1;
    public static final int HDR_LEN_OFFSET = 2;
    public static final int GSO_SIZE_OFFSET = 4;
    public static final int CSUM_START_OFFSET = 6;
    public static final int CSUM_OFFSET_OFFSET = 8;
    public static final int NUM_BUFFERS_OFFSET = 10;

    /** VIRTIO_NET_HDR_F_NEEDS_CSUM. */
    public static final int F_NEEDS_CSUM = 1;
    /** VIRTIO_NET_HDR_GSO_NONE. */
    public static final int GSO_NONE = 0;

    /**
     * @param features negotiated features
     * @return the header length those features imply
     */
    public static int length(long features) {
        boolean v1 = (features & (1L << io.ringway.vhost.virtio.VirtioFeatures.VERSION_1)) != 0;
        boolean mrg = (features & (1L << VirtioNetFeatures.MRG_RXBUF)) != 0;
        return v1 || mrg ? LENGTH : LEGACY_LENGTH;
    }
}

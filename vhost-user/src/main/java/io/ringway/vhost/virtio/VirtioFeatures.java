package io.ringway.vhost.virtio;

/**
 * Reserved (device-independent) virtio feature bits, as bit numbers and as masks.
 *
 * <p>virtio 1.2, 6 "Reserved Feature Bits". Device-specific bits (0 to 23, and 50 to 127) belong
 * to the device classes (net, blk).
 */
public final class VirtioFeatures {
    private VirtioFeatures() {
    }

    /** virtio 1.2, 6: VIRTIO_F_INDIRECT_DESC, the driver can use indirect descriptors (2.7.5.3, 2.8.8). */
    public static final int INDIRECT_DESC = 28;
    /** virtio 1.2, 6: VIRTIO_F_EVENT_IDX, used_event / avail_event fields (2.7.7, 2.7.10, 2.8.10). */
    public static final int EVENT_IDX = 29;
    /** virtio 1.2, 6: VIRTIO_F_VERSION_1, compliance with this specification (not legacy). */
    public static final int VERSION_1 = 32;
    /** virtio 1.2, 6: VIRTIO_F_ACCESS_PLATFORM, the device is behind an IOMMU / platform translation. */
    public static final int ACCESS_PLATFORM = 33;
    /** virtio 1.2, 6: VIRTIO_F_RING_PACKED, the packed virtqueue layout (2.8). */
    public static final int RING_PACKED = 34;
    /** virtio 1.2, 6: VIRTIO_F_IN_ORDER, buffers are used in the order they were made available (2.7.9, 2.8.9). */
    public static final int IN_ORDER = 35;
    /** virtio 1.2, 6: VIRTIO_F_ORDER_PLATFORM, memory accesses are ordered as the platform orders them. */
    public static final int ORDER_PLATFORM = 36;
    /** virtio 1.2, 6: VIRTIO_F_SR_IOV, the device supports single root I/O virtualisation. */
    public static final int SR_IOV = 37;
    /** virtio 1.2, 6: VIRTIO_F_NOTIFICATION_DATA, the driver passes extra data in notifications (2.9). */
    public static final int NOTIFICATION_DATA = 38;
    /** virtio 1.2, 6: VIRTIO_F_NOTIF_CONFIG_DATA, the driver uses a device-provided value in notifications. */
    public static final int NOTIF_CONFIG_DATA = 39;
    /** virtio 1.2, 6: VIRTIO_F_RING_RESET, the driver can reset a single queue (2.6.1). */
    public static final int RING_RESET = 40;

    /**
     * Returns the mask of a feature bit number.
     *
     * @param bit a feature bit number, 0 to 63
     * @return {@code 1L << bit}
     */
    public static long mask(int bit) {
        if (bit < 0 || bit > 63) {
            throw new IllegalArgumentException("feature bit must be in 0..63, got " + bit);
        }
        return 1L << bit;
    }

    /**
     * Tells whether a feature set has a bit.
     *
     * @param features a feature set
     * @param bit a feature bit number, 0 to 63
     * @return true if the bit is set
     */
    public static boolean has(long features, int bit) {
        return (features & mask(bit)) != 0;
    }
}

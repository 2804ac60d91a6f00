package io.ringway.vhost.virtio;

/**
 * Layout of a packed virtqueue (virtio 1.2, 2.8). All fields little-endian.
 *
 * <pre>
 * Descriptor Ring (align 16, 16 * size bytes), struct pvirtq_desc:
 *   0               8       12      14      16
 *   +---------------+-------+-------+-------+
 *   | addr (le64)   | len   | id    | flags |
 *   +---------------+-------+-------+-------+
 *
 * Driver Event Suppression (Driver Area, align 4, 4 bytes): written by the driver, read by the
 * device; Device Event Suppression (Device Area): written by the device, read by the driver.
 *   0                                2                        4
 *   +--------------------------------+------------------------+
 *   | desc: off (bits 0-14), wrap(15)| flags (bits 0-1)       |
 *   +--------------------------------+------------------------+
 * </pre>
 */
public final class PackedRing {
    private PackedRing() {
    }

    /** Size of one descriptor. */
    public static final int DESC_SIZE = 16;
    /** Offset of addr in a descriptor. */
    public static final int DESC_ADDR = 0;
    /** Offset of len in a descriptor. */
    public static final int DESC_LEN = 8;
    /** Offset of the buffer id in a descriptor. */
    public static final int DESC_ID = 12;
    /** Offset of flags in a descriptor. */
    public static final int DESC_FLAGS = 14;

    /** virtio 1.2, 2.8.6: VIRTQ_DESC_F_NEXT. */
    public static final int F_NEXT = 1;
    /** virtio 1.2, 2.8.4: VIRTQ_DESC_F_WRITE. */
    public static final int F_WRITE = 2;
    /** virtio 1.2, 2.8.7: VIRTQ_DESC_F_INDIRECT. */
    public static final int F_INDIRECT = 4;
    /** virtio 1.2, 2.8.1: VIRTQ_DESC_F_AVAIL (bit 7). */
    public static final int F_AVAIL = 1 << 7;
    /** virtio 1.2, 2.8.1: VIRTQ_DESC_F_USED (bit 15). */
    public static final int F_USED = 1 << 15;

    /** Offset of the desc (off_wrap) field in an event suppression structure. */
    public static final int EVENT_OFF_WRAP = 0;
    /** Offset of the flags field in an event suppression structure. */
    public static final int EVENT_FLAGS = 2;
    /** virtio 1.2, 2.8.10: RING_EVENT_FLAGS_ENABLE. */
    public static final int EVENT_FLAGS_ENABLE = 0;
    /** virtio 1.2, 2.8.10: RING_EVENT_FLAGS_DISABLE. */
    public static final int EVENT_FLAGS_DISABLE = 1;
    /** virtio 1.2, 2.8.10: RING_EVENT_FLAGS_DESC, only valid with VIRTIO_F_EVENT_IDX. */
    public static final int EVENT_FLAGS_DESC = 2;

    /** Alignment of the descriptor ring (virtio 1.2, 2.8.11). */
    public static final int DESC_ALIGN = 16;
    /** Alignment of an event suppression structure. */
    public static final int EVENT_ALIGN = 4;
    /** Size of an event suppression structure. */
    public static final int EVENT_SIZE = 4;

    /**
     * @param size queue size
     * @return bytes of the descriptor ring
     */
    public static long descRingSize(int size) {
        return (long) DESC_SIZE * size;
    }

    /**
     * virtio 1.2, 2.8.1: a descriptor is available when its AVAIL bit equals the wrap counter
     * and its USED bit does not.
     *
     * @param flags descriptor flags
     * @param wrap wrap counter, 0 or 1
     * @return true if available in that wrap
     */
    public static boolean isAvailable(int flags, int wrap) {
        return ((flags >>> 7) & 1) == wrap && ((flags >>> 15) & 1) != wrap;
    }

    /**
     * virtio 1.2, 2.8.1: a descriptor is used when both AVAIL and USED bits equal the wrap counter.
     *
     * @param flags descriptor flags
     * @param wrap wrap counter, 0 or 1
     * @return true if used in that wrap
     */
    public static boolean isUsed(int flags, int wrap) {
        return ((flags >>> 7) & 1) == wrap && ((flags >>> 15) & 1) == wrap;
    }

    /**
     * @param wrap driver wrap counter
     * @return AVAIL/USED bits that mark a descriptor available
     */
    public static int availBits(int wrap) {
        return wrap != 0 ? F_AVAIL : F_USED;
    }

    /**
     * @param wrap device wrap counter
     * @return AVAIL/USED bits that mark a descriptor used
     */
    public static int usedBits(int wrap) {
        return wrap != 0 ? F_AVAIL | F_USED : 0;
    }
}

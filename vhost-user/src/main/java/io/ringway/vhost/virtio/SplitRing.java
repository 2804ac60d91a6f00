package io.ringway.vhost.virtio;

/**
 * Layout of a split virtqueue (virtio 1.2, 2.7). All fields little-endian.
 *
 * <pre>
 * Descriptor Table (align 16, 16 * size bytes), struct virtq_desc:
 *   0               8       12      14      16
 *   +---------------+-------+-------+-------+
 *   | addr (le64)   | len   | flags | next  |
 *   +---------------+-------+-------+-------+
 *
 * Available Ring (align 2, 6 + 2 * size bytes), written by the driver:
 *   0       2       4                      4 + 2 * size
 *   +-------+-------+-- ring[size] (le16) --+------------+
 *   | flags | idx   | head indexes          | used_event |
 *   +-------+-------+-----------------------+------------+
 *
 * Used Ring (align 4, 6 + 8 * size bytes), written by the device:
 *   0       2       4                                  4 + 8 * size
 *   +-------+-------+-- ring[size] {le32 id, le32 len} -+-------------+
 *   | flags | idx   | used elements                     | avail_event |
 *   +-------+-------+-----------------------------------+-------------+
 * </pre>
 */
public final class SplitRing {
    private SplitRing() {
    }

    /** Size of one descriptor. */
    public static final int DESC_SIZE = 16;
    /** Offset of addr in a descriptor. */
    public static final int DESC_ADDR = 0;
    /** Offset of len in a descriptor. */
    public static final int DESC_LEN = 8;
    /** Offset of flags in a descriptor. */
    public static final int DESC_FLAGS = 12;
    /** Offset of next in a descriptor. */
    public static final int DESC_NEXT = 14;

    /** virtio 1.2, 2.7.5: VIRTQ_DESC_F_NEXT, the buffer continues via next. */
    public static final int F_NEXT = 1;
    /** virtio 1.2, 2.7.5: VIRTQ_DESC_F_WRITE, the buffer is device write-only. */
    public static final int F_WRITE = 2;
    /** virtio 1.2, 2.7.5: VIRTQ_DESC_F_INDIRECT, the buffer is a table of descriptors. */
    public static final int F_INDIRECT = 4;

    /** Offset of flags in the available and used rings. */
    public static final int RING_FLAGS = 0;
    /** Offset of idx in the available and used rings. */
    public static final int RING_IDX = 2;
    /** Offset of the first ring entry in the available and used rings. */
    public static final int RING_ENTRIES = 4;
    /** Size of an available ring entry. */
    public static final int AVAIL_ENTRY_SIZE = 2;
    /** Size of a used ring element. */
    public static final int USED_ENTRY_SIZE = 8;

    /** virtio 1.2, 2.7.6: VIRTQ_AVAIL_F_NO_INTERRUPT, the driver needs no used buffer notification. */
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    /** virtio 1.2, 2.7.8: VIRTQ_USED_F_NO_NOTIFY, the device needs no available buffer notification. */
    public static final int USED_F_NO_NOTIFY = 1;

    /** Alignment of the descriptor table (virtio 1.2, 2.7). */
    public static final int DESC_ALIGN = 16;
    /** Alignment of the available ring. */
    public static final int AVAIL_ALIGN = 2;
    /** Alignment of the used ring. */
    public static final int USED_ALIGN = 4;

    /**
     * @param size queue size
     * @return bytes of the descriptor table
     */
    public static long descTableSize(int size) {
        return (long) DESC_SIZE * size;
    }

    /**
     * @param size queue size
     * @return bytes of the available ring, used_event included
     */
    public static long availRingSize(int size) {
        return 6L + 2L * size;
    }

    /**
     * @param size queue size
     * @return bytes of the used ring, avail_event included
     */
    public static long usedRingSize(int size) {
        return 6L + 8L * size;
    }

    /**
     * @param size queue size
     * @return offset of used_event in the available ring
     */
    public static long usedEventOffset(int size) {
        return RING_ENTRIES + 2L * size;
    }

    /**
     * @param size queue size
     * @return offset of avail_event in the used ring
     */
    public static long availEventOffset(int size) {
        return RING_ENTRIES + 8L * size;
    }
}

package io.ringway.vhost.inflight;

/**
 * Offsets of one split queue's region in the in-flight area (vhost-user.rst, "Inflight I/O
 * tracking", QueueRegionSplit and DescStateSplit). All fields are little-endian.
 *
 * <pre>
 * header (16 bytes)                     DescStateSplit (16 bytes, desc_num of them from byte 16)
 *   0  features         u64               0  inflight   u8    1 while the device owns the head
 *   8  version          u16               1  padding    u8[5]
 *  10  desc_num         u16               6  next       u16   previous head of the same used batch
 *  12  last_batch_head  u16               8  counter    u64   order in which heads were taken
 *  14  used_idx         u16
 * </pre>
 */
public final class SplitInflightDescriptor {
    /** The only region version defined (vhost-user.rst: "version: The version of this region. It's 1 currently."). */
    public static final int VERSION = 1;

    public static final long FEATURES_OFFSET = 0;
    public static final long VERSION_OFFSET = 8;
    public static final long DESC_NUM_OFFSET = 10;
    public static final long LAST_BATCH_HEAD_OFFSET = 12;
    public static final long USED_IDX_OFFSET = 14;
    public static final long HEADER_SIZE = 16;

    public static final long DESC_STATE_SIZE = 16;
    public static final long DESC_INFLIGHT_OFFSET = 0;
    public static final long DESC_NEXT_OFFSET = 6;
    public static final long DESC_COUNTER_OFFSET = 8;

    /** Alignment of each queue region (INFLIGHT_ALIGNMENT in libvhost-user and DPDK). */
    public static final long QUEUE_REGION_ALIGN = 64;

    private SplitInflightDescriptor() {
    }

    /** Offset of descriptor state {@code head} from the start of the queue region. */
    public static long descOffset(int head) {
        return HEADER_SIZE + DESC_STATE_SIZE * head;
    }

    /** Bytes of one queue's region, rounded up to {@link #QUEUE_REGION_ALIGN}. */
    public static long queueRegionSize(int queueSize) {
        return Math.ceilDiv(HEADER_SIZE + DESC_STATE_SIZE * queueSize, QUEUE_REGION_ALIGN) * QUEUE_REGION_ALIGN;
    }
}

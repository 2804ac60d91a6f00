package io.ringway.vhost.backend;

/**
 * Sizes of the in-flight tracking area (vhost-user.rst, "Inflight I/O tracking"): one queue region
 * per virtqueue, back to back, each a header and one state entry per descriptor.
 *
 * <pre>
 * split queue region                      packed queue region
 *   0  features         u64                 0  features               u64
 *   8  version          u16                 8  version                u16
 *  10  desc_num         u16                10  desc_num               u16
 *  12  last_batch_head  u16                12  free_head              u16
 *  14  used_idx         u16                14  old_free_head          u16
 *  16  desc[desc_num]   16 bytes each      16  used_idx               u16
 *      (inflight u8, padding[5],           18  old_used_idx           u16
 *       next u16, counter u64)             20  used_wrap_counter      u8
 *                                          21  old_used_wrap_counter  u8
 *                                          22  padding[7] (to 32 with the u64 alignment of desc)
 *                                          32  desc[desc_num]         32 bytes each
 * </pre>
 *
 * Each queue region is rounded up to {@link #QUEUE_REGION_ALIGN} bytes, as DPDK and libvhost-user
 * do, so that both sides compute the same offsets.
 */
final class InflightDescriptor {
    /** Alignment of each queue region (INFLIGHT_ALIGNMENT in libvhost-user and DPDK). */
    static final long QUEUE_REGION_ALIGN = 64;
    static final long SPLIT_HEADER = 16;
    static final long SPLIT_DESC_STATE = 16;
    static final long PACKED_HEADER = 32;
    static final long PACKED_DESC_STATE = 32;

    private InflightDescriptor() {
    }

    /** Bytes of one queue's region. */
    static long queueRegionSize(boolean packed, int queueSize) {
        long raw = packed ? PACKED_HEADER + PACKED_DESC_STATE * queueSize : SPLIT_HEADER + SPLIT_DESC_STATE * queueSize;
        return Math.ceilDiv(raw, QUEUE_REGION_ALIGN) * QUEUE_REGION_ALIGN;
    }

    /** Bytes of the whole area for {@code numQueues} queues of {@code queueSize} descriptors. */
    static long areaSize(boolean packed, int numQueues, int queueSize) {
        return queueRegionSize(packed, queueSize) * numQueues;
    }
}

package io.ringway.vhost.inflight;

/**
 * Offsets of one packed queue's region in the in-flight area (vhost-user.rst, "Inflight I/O
 * tracking", QueueRegionPacked and DescStatePacked). All fields are little-endian. Entries are not
 * indexed by buffer id: each ring descriptor a request took is copied into an entry taken from a
 * free list, the first of them (the head entry) carrying the request's state.
 *
 * <pre>
 * header (32 bytes)                          DescStatePacked (32 bytes, desc_num of them from byte 32)
 *   0  features               u64              0  inflight  u8    head entry: 1 while the device owns it
 *   8  version                u16              1  padding   u8
 *  10  desc_num               u16              2  next      u16   next free entry / next entry of the chain
 *  12  free_head              u16              4  last      u16   head entry: last entry of its chain
 *  14  old_free_head          u16              6  num       u16   head entry: ring descriptors taken
 *  16  used_idx               u16              8  counter   u64   head entry: order in which it was taken
 *  18  old_used_idx           u16             16  id        u16   copy of the ring descriptor
 *  20  used_wrap_counter      u8              18  flags     u16
 *  21  old_used_wrap_counter  u8              20  len       u32
 *  22  padding[7], then 8-byte alignment      24  addr      u64
 * </pre>
 *
 * The end of the free list is an entry whose next is desc_num or more (DPDK formats next = i + 1).
 */
public final class PackedInflightDescriptor {
    /** The only region version defined. */
    public static final int VERSION = 1;

    public static final long FEATURES_OFFSET = 0;
    public static final long VERSION_OFFSET = 8;
    public static final long DESC_NUM_OFFSET = 10;
    public static final long FREE_HEAD_OFFSET = 12;
    public static final long OLD_FREE_HEAD_OFFSET = 14;
    public static final long USED_IDX_OFFSET = 16;
    public static final long OLD_USED_IDX_OFFSET = 18;
    public static final long USED_WRAP_COUNTER_OFFSET = 20;
    public static final long OLD_USED_WRAP_COUNTER_OFFSET = 21;
    public static final long HEADER_SIZE = 32;

    public static final long DESC_STATE_SIZE = 32;
    public static final long DESC_INFLIGHT_OFFSET = 0;
    public static final long DESC_NEXT_OFFSET = 2;
    public static final long DESC_LAST_OFFSET = 4;
    public static final long DESC_NUM_ENTRY_OFFSET = 6;
    public static final long DESC_COUNTER_OFFSET = 8;
    public static final long DESC_ID_OFFSET = 16;
    public static final long DESC_FLAGS_OFFSET = 18;
    public static final long DESC_LEN_OFFSET = 20;
    public static final long DESC_ADDR_OFFSET = 24;

    private PackedInflightDescriptor() {
    }

    /** Offset of entry {@code i} from the start of the queue region. */
    public static long descOffset(int i) {
        return HEADER_SIZE + DESC_STATE_SIZE * i;
    }

    /** Bytes of one queue's region, rounded up to {@link SplitInflightDescriptor#QUEUE_REGION_ALIGN}. */
    public static long queueRegionSize(int queueSize) {
        long align = SplitInflightDescriptor.QUEUE_REGION_ALIGN;
        return Math.ceilDiv(HEADER_SIZE + DESC_STATE_SIZE * queueSize, align) * align;
    }
}

package io.ringway.vhost.protocol;

/**
 * Byte layout of vhost-user messages: offsets and sizes, no behaviour.
 *
 * <p>vhost-user.rst, "Message Specification": all numbers are in the machine's native byte order;
 * Ringway runs on x86-64 only, so every field is little-endian. The header is packed:
 *
 * <pre>
 *   0               4               8               12
 *   +---------------+---------------+---------------+----------------------+
 *   | request (u32) | flags (u32)   | size (u32)    | payload (size bytes) |
 *   +---------------+---------------+---------------+----------------------+
 *   flags: bits 0-1 version (0x1), bit 2 REPLY, bit 3 NEED_REPLY, bits 4-31 reserved (zero)
 * </pre>
 *
 * Payload layouts (offsets relative to the start of the payload):
 *
 * <pre>
 *   u64                  0 u64                                                      =  8 bytes
 *   vring state          0 index u32 | 4 num u32                                    =  8 bytes
 *   vring address        0 index u32 | 4 flags u32 | 8 desc u64 | 16 used u64
 *                        | 24 avail u64 | 32 log u64                                = 40 bytes
 *   memory region        0 guest_phys_addr | 8 memory_size | 16 userspace_addr
 *                        | 24 mmap_offset   (all u64)                               = 32 bytes
 *   memory table         0 num_regions u32 | 4 padding u32 | 8 region[num_regions]  = 8 + 32 n
 *   single region        0 padding u64 | 8 memory region                            = 40 bytes
 *   log                  0 mmap_size u64 | 8 mmap_offset u64                        = 16 bytes
 *   iotlb                0 iova u64 | 8 size u64 | 16 uaddr u64 | 24 perm u8
 *                        | 25 type u8 | 26 padding[6]                               = 32 bytes
 *   config               0 offset u32 | 4 size u32 | 8 flags u32 | 12 data[size]    = 12 + size
 *   inflight             0 mmap_size u64 | 8 mmap_offset u64 | 16 num_queues u16
 *                        | 18 queue_size u16 | 20 padding[4]                        = 24 bytes
 * </pre>
 *
 * The iotlb and inflight structs are not packed in QEMU or DPDK, so they carry trailing padding to
 * an 8-byte multiple and QEMU sends {@code sizeof} of the padded struct.
 *
 * <p>vhost-user.rst shows a "size" column in the vring address table, but {@code struct
 * vhost_vring_addr} (linux/vhost_types.h), which QEMU and DPDK send, has no such field: 40 bytes.
 */
public final class VhostUserMessageDescriptor {
    private VhostUserMessageDescriptor() {
    }

    /** Length of the fixed header: request, flags, size. */
    public static final int HEADER_LENGTH = 12;
    /** Offset of the request code in the header. */
    public static final int REQUEST_OFFSET = 0;
    /** Offset of the flags in the header. */
    public static final int FLAGS_OFFSET = 4;
    /** Offset of the payload size in the header. */
    public static final int SIZE_OFFSET = 8;

    /** Flags bits 0-1: the protocol version. */
    public static final int VERSION_MASK = 0x3;
    /** The only protocol version: "Lower 2 bits are the version (currently 0x01)". */
    public static final int VERSION = 0x1;
    /** Flags bit 2: set on each reply from the back-end. */
    public static final int FLAG_REPLY = 0x4;
    /** Flags bit 3: the sender wants a reply (REPLY_ACK). */
    public static final int FLAG_NEED_REPLY = 0x8;
    /** Every flags bit the protocol defines; the others are reserved and must be zero. */
    public static final int DEFINED_FLAGS = VERSION_MASK | FLAG_REPLY | FLAG_NEED_REPLY;

    /**
     * Largest payload Ringway accepts: 4096 bytes. The largest structured payloads QEMU 7.2 sends
     * are the memory table (8 + 8 x 32 = 264 bytes) and the config space (12 + 256 = 268 bytes); the
     * crypto session description is the largest opaque one (under 1 KiB). A page is ample for all of
     * them and lets the transport keep one fixed receive buffer of {@code HEADER_LENGTH +
     * MAX_PAYLOAD_SIZE} bytes. Each request has a tighter exact or bounded size on top of this.
     */
    public static final int MAX_PAYLOAD_SIZE = 4096;

    /** Length of a u64 payload. */
    public static final int U64_LENGTH = 8;

    /** Length of a vring state payload. */
    public static final int VRING_STATE_LENGTH = 8;
    /** Offset of the vring index in a vring state. */
    public static final int VRING_STATE_INDEX_OFFSET = 0;
    /** Offset of num in a vring state. */
    public static final int VRING_STATE_NUM_OFFSET = 4;

    /** Length of a vring address payload. */
    public static final int VRING_ADDRESS_LENGTH = 40;
    /** Offset of the vring index in a vring address. */
    public static final int VRING_ADDRESS_INDEX_OFFSET = 0;
    /** Offset of the flags in a vring address. */
    public static final int VRING_ADDRESS_FLAGS_OFFSET = 4;
    /** Offset of the descriptor table user address. */
    public static final int VRING_ADDRESS_DESC_OFFSET = 8;
    /** Offset of the used ring user address. */
    public static final int VRING_ADDRESS_USED_OFFSET = 16;
    /** Offset of the available ring user address. */
    public static final int VRING_ADDRESS_AVAIL_OFFSET = 24;
    /** Offset of the log guest address. */
    public static final int VRING_ADDRESS_LOG_OFFSET = 32;
    /** Vring address flag VHOST_VRING_F_LOG (bit 0): log writes to the used ring. */
    public static final int VRING_F_LOG = 0x1;

    /** Vring u64 (SET_VRING_KICK/CALL/ERR): "Bits (0-7) of the payload contain the vring index". */
    public static final long VRING_U64_INDEX_MASK = 0xff;
    /** Vring u64: "Bit 8 is the invalid FD flag" (no fd attached, poll instead). */
    public static final long VRING_U64_NOFD = 0x100;

    /** Length of one memory region description. */
    public static final int MEMORY_REGION_LENGTH = 32;
    /** Offset of guest_phys_addr in a memory region. */
    public static final int REGION_GUEST_PHYS_ADDR_OFFSET = 0;
    /** Offset of memory_size in a memory region. */
    public static final int REGION_MEMORY_SIZE_OFFSET = 8;
    /** Offset of userspace_addr in a memory region. */
    public static final int REGION_USERSPACE_ADDR_OFFSET = 16;
    /** Offset of mmap_offset in a memory region. */
    public static final int REGION_MMAP_OFFSET_OFFSET = 24;

    /** Length of the memory table header: num_regions u32 and padding u32. */
    public static final int MEMORY_TABLE_HEADER_LENGTH = 8;
    /** Offset of num_regions in a memory table. */
    public static final int MEMORY_TABLE_NUM_REGIONS_OFFSET = 0;
    /** Regions in a SET_MEM_TABLE message: "region0 ... region7" (VHOST_MEMORY_BASELINE_NREGIONS). */
    public static final int MAX_MEMORY_TABLE_REGIONS = 8;

    /** Length of a single memory region message: padding u64 and one region. */
    public static final int SINGLE_REGION_LENGTH = 8 + MEMORY_REGION_LENGTH;
    /** Offset of the region in a single memory region message. */
    public static final int SINGLE_REGION_REGION_OFFSET = 8;

    /** Length of a log description. */
    public static final int LOG_LENGTH = 16;
    /** Offset of mmap_size in a log description. */
    public static final int LOG_MMAP_SIZE_OFFSET = 0;
    /** Offset of mmap_offset in a log description. */
    public static final int LOG_MMAP_OFFSET_OFFSET = 8;

    /** Length of an IOTLB message (struct vhost_iotlb_msg with its trailing padding). */
    public static final int IOTLB_LENGTH = 32;
    /** Offset of iova in an IOTLB message. */
    public static final int IOTLB_IOVA_OFFSET = 0;
    /** Offset of size in an IOTLB message. */
    public static final int IOTLB_SIZE_OFFSET = 8;
    /** Offset of uaddr in an IOTLB message. */
    public static final int IOTLB_UADDR_OFFSET = 16;
    /** Offset of perm in an IOTLB message. */
    public static final int IOTLB_PERM_OFFSET = 24;
    /** Offset of type in an IOTLB message. */
    public static final int IOTLB_TYPE_OFFSET = 25;

    /** Length of the config header: offset, size, flags. */
    public static final int CONFIG_HEADER_LENGTH = 12;
    /** Offset of the config space offset field. */
    public static final int CONFIG_OFFSET_OFFSET = 0;
    /** Offset of the config size field. */
    public static final int CONFIG_SIZE_OFFSET = 4;
    /** Offset of the config flags field. */
    public static final int CONFIG_FLAGS_OFFSET = 8;
    /** Largest config space access: VHOST_USER_MAX_CONFIG_SIZE in QEMU and DPDK. */
    public static final int MAX_CONFIG_SIZE = 256;
    /** Config flag 1: "Vhost front-end messages used for live migration"; 0 is "writable fields". */
    public static final int CONFIG_FLAG_MIGRATION = 0x1;

    /** Length of an inflight description (with its trailing padding). */
    public static final int INFLIGHT_LENGTH = 24;
    /** Offset of mmap_size in an inflight description. */
    public static final int INFLIGHT_MMAP_SIZE_OFFSET = 0;
    /** Offset of mmap_offset in an inflight description. */
    public static final int INFLIGHT_MMAP_OFFSET_OFFSET = 8;
    /** Offset of num_queues in an inflight description. */
    public static final int INFLIGHT_NUM_QUEUES_OFFSET = 16;
    /** Offset of queue_size in an inflight description. */
    public static final int INFLIGHT_QUEUE_SIZE_OFFSET = 18;

    /** Largest number of fds Ringway accepts with one message (one per memory table region). */
    public static final int MAX_FDS = MAX_MEMORY_TABLE_REGIONS;
}

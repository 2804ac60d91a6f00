package io.ringway.storage.blk;

/**
 * virtio-blk constants (virtio 1.2, 5.2): feature bits, request types, status values, and the
 * configuration-space layout.
 *
 * <pre>
 * struct virtio_blk_config (offsets checked with gcc against &lt;linux/virtio_blk.h&gt;)
 *   0 le64 capacity (512-byte sectors)     32 u8   writeback
 *   8 le32 size_max                         34 le16 num_queues
 *  12 le32 seg_max                          36 le32 max_discard_sectors
 *  16 geometry (c16, h8, s8)                40 le32 max_discard_seg
 *  20 le32 blk_size                         44 le32 discard_sector_alignment
 *  24 topology (exp8, off8, min16, opt32)   48 le32 max_write_zeroes_sectors
 *                                           52 le32 max_write_zeroes_seg
 *                                           56 u8   write_zeroes_may_unmap
 *                                           60 .. 72 secure erase (not offered)
 *
 * struct virtio_blk_req: le32 type, le32 reserved, le64 sector | data | u8 status (device-writable, last)
 * struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags (bit 0: unmap)
 * </pre>
 */
public final class VirtioBlk {
    /** virtio device ID of a block device. */
    public static final int DEVICE_ID = 2;
    /** A sector is 512 bytes whatever blk_size says (virtio 1.2, 5.2.6). */
    public static final int SECTOR_SIZE = 512;
    public static final int SECTOR_SHIFT = 9;

    // Feature bits (virtio 1.2, 5.2.3).
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_GEOMETRY = 4;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_TOPOLOGY = 10;
    public static final int F_CONFIG_WCE = 11;
    public static final int F_MQ = 12;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;

    // Request types (virtio 1.2, 5.2.6).
    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int T_GET_LIFETIME = 10;
    public static final int T_DISCARD = 11;
    public static final int T_WRITE_ZEROES = 13;
    public static final int T_SECURE_ERASE = 14;

    // Status values.
    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;

    /** Request header: type, reserved, sector. */
    public static final int HEADER_SIZE = 16;
    /** One discard / write-zeroes segment. */
    public static final int DWZ_SEGMENT_SIZE = 16;
    /** The flag bit of virtio_blk_discard_write_zeroes. */
    public static final int DWZ_FLAG_UNMAP = 1;
    /** GET_ID answers with 20 bytes (not NUL-terminated when all 20 are used). */
    public static final int ID_BYTES = 20;

    // Configuration space offsets.
    public static final int CFG_CAPACITY = 0;
    public static final int CFG_SIZE_MAX = 8;
    public static final int CFG_SEG_MAX = 12;
    public static final int CFG_BLK_SIZE = 20;
    public static final int CFG_PHYSICAL_BLOCK_EXP = 24;
    public static final int CFG_MIN_IO_SIZE = 26;
    public static final int CFG_OPT_IO_SIZE = 28;
    public static final int CFG_WRITEBACK = 32;
    public static final int CFG_NUM_QUEUES = 34;
    public static final int CFG_MAX_DISCARD_SECTORS = 36;
    public static final int CFG_MAX_DISCARD_SEG = 40;
    public static final int CFG_DISCARD_SECTOR_ALIGNMENT = 44;
    public static final int CFG_MAX_WRITE_ZEROES_SECTORS = 48;
    public static final int CFG_MAX_WRITE_ZEROES_SEG = 52;
    public static final int CFG_WRITE_ZEROES_MAY_UNMAP = 56;
    /** Size of the configuration space we expose (up to and including write_zeroes_may_unmap, padded). */
    public static final int CONFIG_SIZE = 60;

    private VirtioBlk() {
    }

    /** @return the request type's name, for messages */
    public static String typeName(int type) {
        return switch (type) {
            case T_IN -> "IN";
            case T_OUT -> "OUT";
            case T_FLUSH -> "FLUSH";
            case T_GET_ID -> "GET_ID";
            case T_GET_LIFETIME -> "GET_LIFETIME";
            case T_DISCARD -> "DISCARD";
            case T_WRITE_ZEROES -> "WRITE_ZEROES";
            case T_SECURE_ERASE -> "SECURE_ERASE";
            default -> "type " + Integer.toUnsignedString(type);
        };
    }
}

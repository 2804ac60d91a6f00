package io.ringway.storage.blk;

/**
 * What was wrong with a virtio-blk request, one rule each, and the status the device answers with.
 * {@link #status()} is -1 where no status byte can be written (the chain goes back with used length 0).
 */
public enum BlkRequestError {
    /** virtio 1.2, 5.2.6: a request is at least a header (device-readable) and a status byte (device-writable). */
    TOO_FEW_DESCRIPTORS(VirtioBlk.S_IOERR),
    /** virtio 1.2, 5.2.6: the status byte is in the last descriptor, which must be device-writable. */
    STATUS_NOT_WRITABLE(-1),
    /** The last descriptor has no room for the status byte. */
    STATUS_TOO_SMALL(-1),
    /** The device-readable part is shorter than the 16-byte header. */
    HEADER_TOO_SHORT(VirtioBlk.S_IOERR),
    /** IN with device-readable data, or OUT with device-writable data besides the status. */
    DATA_WRONG_DIRECTION(VirtioBlk.S_IOERR),
    /** virtio 1.2, 5.2.6.1: data length must be a multiple of 512. */
    LENGTH_NOT_SECTOR_MULTIPLE(VirtioBlk.S_IOERR),
    /** The sector range ends past capacity, or overflows. */
    SECTOR_OUT_OF_RANGE(VirtioBlk.S_IOERR),
    /** Offset or length is not a multiple of blk_size (the backing device cannot do it). */
    MISALIGNED_TO_BLOCK_SIZE(VirtioBlk.S_IOERR),
    /** More data segments than seg_max. */
    TOO_MANY_SEGMENTS(VirtioBlk.S_IOERR),
    /** A data segment longer than size_max. */
    SEGMENT_TOO_LARGE(VirtioBlk.S_IOERR),
    /** virtio 1.2, 5.2.6.2: OUT, DISCARD or WRITE_ZEROES when VIRTIO_BLK_F_RO is offered. */
    WRITE_TO_READ_ONLY(VirtioBlk.S_IOERR),
    /** GET_ID needs 20 bytes of device-writable data. */
    GET_ID_BUFFER_TOO_SMALL(VirtioBlk.S_IOERR),
    /** DISCARD / WRITE_ZEROES data that is not a whole number of 16-byte segments. */
    DWZ_MALFORMED(VirtioBlk.S_IOERR),
    /** More discard / write-zeroes segments than max_discard_seg / max_write_zeroes_seg. */
    DWZ_TOO_MANY_SEGMENTS(VirtioBlk.S_UNSUPP),
    /** virtio 1.2, 5.2.6.2: unknown flags in a discard / write-zeroes segment. */
    DWZ_UNKNOWN_FLAGS(VirtioBlk.S_UNSUPP),
    /** virtio 1.2, 5.2.6.2: DISCARD with the unmap flag. */
    DISCARD_WITH_UNMAP(VirtioBlk.S_UNSUPP),
    /** num_sectors above max_discard_sectors / max_write_zeroes_sectors. */
    DWZ_TOO_LARGE(VirtioBlk.S_IOERR),
    /** A type the device does not offer. */
    UNSUPPORTED_TYPE(VirtioBlk.S_UNSUPP),
    /** The backend failed the request. */
    BACKEND_ERROR(VirtioBlk.S_IOERR);

    private final int status;

    BlkRequestError(int status) {
        this.status = status;
    }

    /** @return the virtio-blk status to report, or -1 if none can be written */
    public int status() {
        return status;
    }

    private static final BlkRequestError[] VALUES = values();

    static BlkRequestError of(int ordinal) {
        return VALUES[ordinal];
    }
}

package io.ringway.storage.blk;

/**
 * What a request may ask of the device: the values in its configuration space. Immutable; shared
 * by every queue.
 *
 * @param capacitySectors capacity in 512-byte sectors
 * @param blockSize the backing device's block size (blk_size)
 * @param readOnly VIRTIO_BLK_F_RO offered
 * @param segMax most data segments per request
 * @param sizeMax largest data segment in bytes
 * @param discard DISCARD offered
 * @param writeZeroes WRITE_ZEROES offered
 * @param maxDwzSectors max_discard_sectors and max_write_zeroes_sectors
 * @param id the 20 bytes GET_ID answers
 */
record BlkLimits(long capacitySectors, int blockSize, boolean readOnly, int segMax, long sizeMax, boolean discard,
        boolean writeZeroes, long maxDwzSectors, byte[] id) {
}

package io.ringway.storage.bdev;

/**
 * An asynchronous block device in the manner of SPDK's bdev layer. The device itself is shared;
 * I/O goes through {@link IoChannel}s, one per lcore (a queue pair), so the I/O path takes no lock
 * and starts no thread: a channel's owner submits requests and polls completions on its own thread.
 *
 * <p>Offsets and lengths are in bytes and must be multiples of {@link #blockSize()}.
 */
public interface BlockDevice extends AutoCloseable {

    /** @return a short name, e.g. {@code malloc0} */
    String name();

    /** @return what backs the device and how it is driven (for the start-up banner) */
    String describe();

    /** @return the logical block size: 512 or 4096 */
    int blockSize();

    /** @return the number of blocks */
    long blockCount();

    /** @return capacity in bytes */
    default long capacityBytes() {
        return blockCount() * blockSize();
    }

    /** @return true if writes, discards and write-zeroes are refused */
    boolean readOnly();

    /** @return true if discard does something (else it is refused with UNSUPPORTED) */
    boolean supportsDiscard();

    /** @return true if write-zeroes is supported */
    boolean supportsWriteZeroes();

    /**
     * @return true if a completed write may sit in a volatile cache (page cache, disk cache) until a
     *     flush: the device then needs FLUSH to make writes durable
     */
    boolean volatileWriteCache();

    /**
     * Opens an I/O channel. The channel is for one thread (the lcore that will submit and poll);
     * opening is control-plane work and may allocate.
     *
     * @param queueDepth the most requests in flight on the channel; submits beyond it return BUSY
     * @param maxSegments the most scatter-gather entries one request may have
     */
    IoChannel openChannel(int queueDepth, int maxSegments);

    /** Releases the device; every channel must be closed first. */
    @Override
    void close();

    /** Checks a block size. */
    static int checkBlockSize(int blockSize) {
        if (blockSize != 512 && blockSize != 4096) {
            throw new IllegalArgumentException("block size must be 512 or 4096, got " + blockSize);
        }
        return blockSize;
    }
}

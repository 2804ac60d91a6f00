package io.ringway.storage.bdev;

/**
 * A device that completes every request at once without touching the data (SPDK's null bdev):
 * what is left of a measurement is the cost of the stack above it. Reads leave the buffers as they
 * were.
 */
public final class NullBlockDevice implements BlockDevice {
    private final String name;
    private final int blockSize;
    private final long blockCount;
    private final boolean readOnly;

    public NullBlockDevice(String name, long sizeBytes, int blockSize, boolean readOnly) {
        this.name = name;
        this.blockSize = BlockDevice.checkBlockSize(blockSize);
        if (sizeBytes < blockSize || sizeBytes % blockSize != 0) {
            throw new IllegalArgumentException("size must be a positive multiple of the block size " + blockSize
                    + ", got " + sizeBytes);
        }
        this.blockCount = sizeBytes / blockSize;
        this.readOnly = readOnly;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String describe() {
        return "null bdev " + name + ": " + capacityBytes() + " bytes, block " + blockSize + ", completes at once";
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public long blockCount() {
        return blockCount;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public boolean supportsDiscard() {
        return true;
    }

    @Override
    public boolean supportsWriteZeroes() {
        return true;
    }

    @Override
    public boolean volatileWriteCache() {
        return false;
    }

    @Override
    public IoChannel openChannel(int queueDepth, int maxSegments) {
        return new IoChannel(this, queueDepth, maxSegments) {
            @Override
            protected void doRead(long offset, SgList sg, int tag) {
                complete(tag, BlockStatus.OK);
            }

            @Override
            protected void doWrite(long offset, SgList sg, int tag) {
                complete(tag, BlockStatus.OK);
            }

            @Override
            protected void doFlush(int tag) {
                complete(tag, BlockStatus.OK);
            }

            @Override
            protected void doDiscard(long offset, long length, int tag) {
                complete(tag, BlockStatus.OK);
            }

            @Override
            protected void doWriteZeroes(long offset, long length, int tag) {
                complete(tag, BlockStatus.OK);
            }
        };
    }

    @Override
    public void close() {
    }
}

package io.ringway.storage.bdev;

import io.ringway.runtime.sys.LibC;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A RAM disk: an anonymous private mapping (MAP_NORESERVE, so untouched blocks cost nothing and read
 * as zeros). Requests are done by copying at submit time; completions are delivered by the next poll.
 * Several channels may use the device at once: RAM has no ordering of its own, like a real disk
 * without a cache, so a write is durable when it completes and flush has nothing to do.
 */
public final class MallocBlockDevice implements BlockDevice {
    private final String name;
    private final int blockSize;
    private final long blockCount;
    private final boolean readOnly;
    private final MemorySegment memory;
    private final AtomicBoolean closed = new AtomicBoolean();

    public MallocBlockDevice(String name, long sizeBytes, int blockSize, boolean readOnly) {
        this.name = name;
        this.blockSize = BlockDevice.checkBlockSize(blockSize);
        if (sizeBytes < blockSize || sizeBytes % blockSize != 0) {
            throw new IllegalArgumentException("size must be a positive multiple of the block size " + blockSize
                    + ", got " + sizeBytes);
        }
        this.blockCount = sizeBytes / blockSize;
        this.readOnly = readOnly;
        this.memory = LibC.mmap(0, sizeBytes, LibC.PROT_READ | LibC.PROT_WRITE,
                LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0);
    }

    /** @return the device's bytes (tests: check what a request did) */
    public MemorySegment memory() {
        return memory;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String describe() {
        return "malloc bdev " + name + ": " + capacityBytes() + " bytes of RAM, block " + blockSize;
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
        MemorySegment mem = memory;
        return new IoChannel(this, queueDepth, maxSegments) {
            @Override
            protected void doRead(long offset, SgList sg, int tag) {
                long at = offset;
                for (int i = 0, n = sg.count(); i < n; i++) {
                    long len = sg.length(i);
                    MemorySegment.copy(mem, at, sg.segment(i), sg.offset(i), len);
                    at += len;
                }
                complete(tag, BlockStatus.OK);
            }

            @Override
            protected void doWrite(long offset, SgList sg, int tag) {
                long at = offset;
                for (int i = 0, n = sg.count(); i < n; i++) {
                    long len = sg.length(i);
                    MemorySegment.copy(sg.segment(i), sg.offset(i), mem, at, len);
                    at += len;
                }
                complete(tag, BlockStatus.OK);
            }

            @Override
            protected void doFlush(int tag) {
                complete(tag, BlockStatus.OK);
            }

            @Override
            protected void doDiscard(long offset, long length, int tag) {
                mem.asSlice(offset, length).fill((byte) 0);
                complete(tag, BlockStatus.OK);
            }

            @Override
            protected void doWriteZeroes(long offset, long length, int tag) {
                mem.asSlice(offset, length).fill((byte) 0);
                complete(tag, BlockStatus.OK);
            }
        };
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.munmap(memory, memory.byteSize());
        }
    }
}

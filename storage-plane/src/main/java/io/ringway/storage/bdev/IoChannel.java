package io.ringway.storage.bdev;

/**
 * One queue pair of a {@link BlockDevice}, owned by one thread: submit requests, then
 * {@link #poll(CompletionSink)} for their completions. Nothing here locks, blocks on a lock, or
 * allocates. At most {@link #queueDepth()} requests are in flight; a submit beyond that returns
 * {@link BlockStatus#BUSY} and queues nothing (back-pressure instead of an unbounded queue).
 *
 * <p>Every submit method returns {@link BlockStatus#OK} when the request was accepted: its
 * completion is then delivered by a later {@link #poll} (never from inside the submit call). Any
 * other return value is a rejection and no completion follows. A backend that does the work at
 * submit time (RAM, null, the preadv/pwritev file engine) still defers the completion to the next
 * poll, so the caller's code path is the same for every backend.
 */
public abstract class IoChannel implements AutoCloseable {
    private final int queueDepth;
    private final int maxSegments;
    private final int blockMask;
    private final long capacity;
    private final boolean readOnly;
    private final boolean discard;
    private final boolean writeZeroes;
    // Completions ready for delivery: a ring of (tag, status), never more than queueDepth entries.
    private final int[] readyTag;
    private final int[] readyStatus;
    private final int readyMask;
    private int readyHead;
    private int readyTail;
    private int inFlight;

    protected IoChannel(BlockDevice device, int queueDepth, int maxSegments) {
        if (queueDepth <= 0 || queueDepth > 65536) {
            throw new IllegalArgumentException("queue depth must be between 1 and 65536, got " + queueDepth);
        }
        if (maxSegments <= 0) {
            throw new IllegalArgumentException("max segments must be positive, got " + maxSegments);
        }
        this.queueDepth = queueDepth;
        this.maxSegments = maxSegments;
        this.blockMask = device.blockSize() - 1;
        this.capacity = device.capacityBytes();
        this.readOnly = device.readOnly();
        this.discard = device.supportsDiscard();
        this.writeZeroes = device.supportsWriteZeroes();
        int ring = Integer.highestOneBit(queueDepth - 1 == 0 ? 1 : queueDepth - 1) << 1;
        readyTag = new int[ring];
        readyStatus = new int[ring];
        readyMask = ring - 1;
    }

    /** @return the most requests in flight */
    public final int queueDepth() {
        return queueDepth;
    }

    /** @return the most scatter-gather entries per request */
    public final int maxSegments() {
        return maxSegments;
    }

    /** @return requests submitted whose completion has not been delivered yet */
    public final int inFlight() {
        return inFlight;
    }

    /** Reads {@code sg.bytes()} bytes at byte {@code offset} into {@code sg}. */
    public final int read(long offset, SgList sg, int tag) {
        int v = checkIo(offset, sg);
        if (v != BlockStatus.OK) {
            return v;
        }
        inFlight++;
        doRead(offset, sg, tag);
        return BlockStatus.OK;
    }

    /** Writes {@code sg} at byte {@code offset}. */
    public final int write(long offset, SgList sg, int tag) {
        if (readOnly) {
            return BlockStatus.READ_ONLY;
        }
        int v = checkIo(offset, sg);
        if (v != BlockStatus.OK) {
            return v;
        }
        inFlight++;
        doWrite(offset, sg, tag);
        return BlockStatus.OK;
    }

    /** Makes every write completed before this call durable. */
    public final int flush(int tag) {
        if (inFlight >= queueDepth) {
            return BlockStatus.BUSY;
        }
        inFlight++;
        doFlush(tag);
        return BlockStatus.OK;
    }

    /** Discards {@code length} bytes at {@code offset}; reads of the range return zeros afterwards. */
    public final int discard(long offset, long length, int tag) {
        if (readOnly) {
            return BlockStatus.READ_ONLY;
        }
        if (!discard) {
            return BlockStatus.UNSUPPORTED;
        }
        int v = checkRange(offset, length);
        if (v != BlockStatus.OK) {
            return v;
        }
        inFlight++;
        doDiscard(offset, length, tag);
        return BlockStatus.OK;
    }

    /** Writes zeros over {@code length} bytes at {@code offset}. */
    public final int writeZeroes(long offset, long length, int tag) {
        if (readOnly) {
            return BlockStatus.READ_ONLY;
        }
        if (!writeZeroes) {
            return BlockStatus.UNSUPPORTED;
        }
        int v = checkRange(offset, length);
        if (v != BlockStatus.OK) {
            return v;
        }
        inFlight++;
        doWriteZeroes(offset, length, tag);
        return BlockStatus.OK;
    }

    /**
     * Delivers ready completions to {@code sink}.
     *
     * @return the number delivered (work done, for the lcore's idle policy)
     */
    public final int poll(CompletionSink sink) {
        if (inFlight == 0) {
            return 0;
        }
        reap();
        int n = 0;
        int head = readyHead;
        int tail = readyTail;
        while (head != tail) {
            int slot = head & readyMask;
            head++;
            readyHead = head;
            inFlight--;
            n++;
            sink.complete(readyTag[slot], readyStatus[slot]);
        }
        return n;
    }

    private int checkIo(long offset, SgList sg) {
        if (sg.count() > maxSegments) {
            return BlockStatus.TOO_MANY_SEGMENTS;
        }
        return checkRange(offset, sg.bytes());
    }

    private int checkRange(long offset, long length) {
        if (((offset | length) & blockMask) != 0) {
            return BlockStatus.MISALIGNED;
        }
        // Unsigned-safe: offset and length are non-negative and each at most capacity.
        if (offset < 0 || length < 0 || offset > capacity || length > capacity - offset) {
            return BlockStatus.OUT_OF_RANGE;
        }
        if (inFlight >= queueDepth) {
            return BlockStatus.BUSY;
        }
        return BlockStatus.OK;
    }

    /** Queues a completion for the next {@link #poll}; backends call it, once per request. */
    protected final void complete(int tag, int status) {
        int slot = readyTail & readyMask;
        readyTag[slot] = tag;
        readyStatus[slot] = status;
        readyTail++;
    }

    /** Moves completions finished by an asynchronous engine into {@link #complete}; default none. */
    protected void reap() {
    }

    protected abstract void doRead(long offset, SgList sg, int tag);

    protected abstract void doWrite(long offset, SgList sg, int tag);

    protected abstract void doFlush(int tag);

    protected abstract void doDiscard(long offset, long length, int tag);

    protected abstract void doWriteZeroes(long offset, long length, int tag);

    @Override
    public void close() {
    }
}

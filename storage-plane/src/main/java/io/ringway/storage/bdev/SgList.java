package io.ringway.storage.bdev;

import java.lang.foreign.MemorySegment;

/**
 * A reusable scatter-gather list: entries {@code (segment, offset, length)} that point straight into
 * caller memory (for vhost-user-blk, guest memory). Adding an entry stores references only, so the
 * hot path neither copies nor allocates. The list and the memory it names must stay unchanged from
 * submit until the request's completion is delivered.
 */
public final class SgList {
    private final MemorySegment[] segments;
    private final long[] offsets;
    private final long[] lengths;
    private int count;
    private long bytes;

    /** @param capacity the most entries the list takes */
    public SgList(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive, got " + capacity);
        }
        segments = new MemorySegment[capacity];
        offsets = new long[capacity];
        lengths = new long[capacity];
    }

    /** A list of whole slices (tests, control plane). */
    public static SgList of(MemorySegment... slices) {
        SgList sg = new SgList(Math.max(1, slices.length));
        for (MemorySegment s : slices) {
            sg.add(s, 0, s.byteSize());
        }
        return sg;
    }

    /**
     * Appends {@code length} bytes of {@code segment} from {@code offset}.
     *
     * @return false if the list is full (nothing added)
     */
    public boolean add(MemorySegment segment, long offset, long length) {
        int i = count;
        if (i == segments.length) {
            return false;
        }
        segments[i] = segment;
        offsets[i] = offset;
        lengths[i] = length;
        count = i + 1;
        bytes += length;
        return true;
    }

    /** Empties the list (references are overwritten by the next adds). */
    public void clear() {
        count = 0;
        bytes = 0;
    }

    public int capacity() {
        return segments.length;
    }

    public int count() {
        return count;
    }

    /** @return the sum of the entries' lengths */
    public long bytes() {
        return bytes;
    }

    public MemorySegment segment(int i) {
        return segments[i];
    }

    public long offset(int i) {
        return offsets[i];
    }

    public long length(int i) {
        return lengths[i];
    }
}

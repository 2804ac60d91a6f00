package io.ringway.vhost.virtio;

import java.lang.foreign.MemorySegment;

/**
 * A burst of one-descriptor chains read ahead of a queue's available ring by
 * {@link Virtqueue#peekSimple}: for each, its head and where its one buffer lies in guest memory,
 * the address and length already checked against the memory table. These are copies: the guest
 * can rewrite its descriptors, but nothing here changes with them.
 *
 * <p>Lcore-owned and reused burst after burst (no allocation per burst). An entry is valid from
 * the {@code peekSimple} that filled it until the next one, or until the queue's memory changes.
 */
public final class SimpleChains {
    /** Chain heads (descriptor table indexes below the queue size). */
    public final int[] head;
    /** The region of {@link #memory()} that holds each buffer. */
    public final int[] region;
    /** Offset of each buffer in its region's segment. */
    public final long[] offset;
    /** Length of each buffer (0 to {@link Integer#MAX_VALUE}). */
    public final int[] length;
    private GuestMemory memory;
    private int count;
    private boolean exhausted;

    /** @param capacity the most chains one peek can hold */
    public SimpleChains(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive, got " + capacity);
        }
        head = new int[capacity];
        region = new int[capacity];
        offset = new long[capacity];
        length = new int[capacity];
    }

    /** @return how many chains one peek can hold */
    public int capacity() {
        return head.length;
    }

    /** @return chains filled by the last peek */
    public int count() {
        return count;
    }

    /**
     * @return true if the last peek read every entry the driver had made available (it stopped at
     *     the end of the ring's available entries, not at a chain of another shape, at its max, or at
     *     a queue that does not run)
     */
    public boolean exhausted() {
        return exhausted;
    }

    /** @return the guest memory the regions index, as of the last peek */
    public GuestMemory memory() {
        return memory;
    }

    /** @return the segment that holds buffer {@code i}; its bytes are at {@code offset[i] .. offset[i] + length[i]} */
    public MemorySegment segment(int i) {
        return memory.segment(region[i]);
    }

    /** Empties it (no chains, not exhausted): what a queue without the fast path answers to a peek. */
    public void clear() {
        count = 0;
        exhausted = false;
    }

    void filled(GuestMemory mem, int n, boolean all) {
        memory = mem;
        count = n;
        exhausted = all;
    }
}

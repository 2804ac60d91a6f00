package io.ringway.runtime.ring;

/**
 * A bounded FIFO of 64-bit handles held in off-heap memory.
 * <p>
 * Operations never allocate, lock or throw on success or on a full or empty ring: failure is a
 * return value. Bursts come in two kinds, named as in DPDK: <em>bulk</em> moves all {@code n}
 * handles or none, <em>burst</em> moves as many as it can and returns the count.
 * <p>
 * {@link #poll()} returns {@link #NO_HANDLE} when the ring is empty, so a handle that is passed
 * through {@link #offer(long)}/{@link #poll()} must not be {@code NO_HANDLE}. The burst and bulk
 * calls carry any 64-bit value.
 */
public interface HandleRing
{
    /** Returned by {@link #poll()} when the ring is empty: {@value}. */
    long NO_HANDLE = -1L;

    /**
     * Add one handle.
     *
     * @param handle the handle, not {@link #NO_HANDLE} if it is to be taken with {@link #poll()}.
     * @return true if added, false if the ring is full.
     */
    boolean offer(long handle);

    /**
     * Take one handle.
     *
     * @return the handle, or {@link #NO_HANDLE} if the ring is empty.
     */
    long poll();

    /**
     * Add up to {@code n} handles (best effort).
     *
     * @param src source array.
     * @param off index of the first handle in {@code src}.
     * @param n   number of handles to add.
     * @return number of handles added, from 0 to {@code n}; they are {@code src[off, off + count)}.
     */
    int enqueueBurst(long[] src, int off, int n);

    /**
     * Add exactly {@code n} handles or none.
     *
     * @param src source array.
     * @param off index of the first handle in {@code src}.
     * @param n   number of handles to add.
     * @return true if all {@code n} were added, false if none were (not enough room).
     */
    boolean enqueueBulk(long[] src, int off, int n);

    /**
     * Take up to {@code max} handles (best effort).
     *
     * @param dst destination array.
     * @param off index in {@code dst} of the first handle written.
     * @param max most handles to take.
     * @return number of handles taken, from 0 to {@code max}.
     */
    int dequeueBurst(long[] dst, int off, int max);

    /**
     * Take exactly {@code n} handles or none.
     *
     * @param dst destination array.
     * @param off index in {@code dst} of the first handle written.
     * @param n   number of handles to take.
     * @return true if all {@code n} were taken, false if none were (not enough handles).
     */
    boolean dequeueBulk(long[] dst, int off, int n);

    /**
     * Number of handles in the ring: producer index minus consumer index as they were at one
     * instant during the call, in [0, capacity].
     *
     * @return number of handles in the ring.
     */
    int size();

    /**
     * Most handles the ring holds.
     *
     * @return the capacity, a power of 2.
     */
    int capacity();
}

package io.ringway.runtime.ring;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

import static io.ringway.runtime.ring.RingAccess.INT;
import static io.ringway.runtime.ring.RingAccess.LONG;
import static io.ringway.runtime.ring.RingAccess.backoff;
import static io.ringway.runtime.ring.RingDescriptor.CAPACITY_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.CONSUMER_INDEX_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.HEADER_LENGTH;
import static io.ringway.runtime.ring.RingDescriptor.KIND_MPMC;
import static io.ringway.runtime.ring.RingDescriptor.KIND_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.MAGIC;
import static io.ringway.runtime.ring.RingDescriptor.MAGIC_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.PRODUCER_INDEX_OFFSET;

/**
 * Multi-producer multi-consumer ring of 64-bit handles in a {@link MemorySegment}; layout in
 * {@link RingDescriptor}.
 *
 * <h2>Design: per-slot sequence numbers, check before claim</h2>
 * Each slot has a sequence word next to the shared producer and consumer indices (D. Vyukov's
 * bounded MPMC queue, extended to bursts). Slot {@code p & mask} is free for the producer of
 * position {@code p} when its sequence is {@code p}, holds that producer's handle when it is
 * {@code p + 1}, and is released for position {@code p + capacity} when the consumer stores that.
 * <p>
 * A producer reads the producer index {@code t}, counts how many slots from {@code t} on are
 * already free (loads of their sequence words followed by one acquire fence), then claims exactly
 * those positions with one compareAndSet of the index. It then copies the handles in (one bulk
 * copy, two on wrap-around), issues one release fence and stores each slot's new sequence.
 * Consumers mirror this. Producers never read the consumer index (nor consumers the producer
 * index): the sequence words say whether a slot is free or full, so there is no cached copy of
 * the other side's index to keep, and no Java-side state at all. One fence per burst instead of one ordered access per slot halves the
 * cost of a 32-handle burst (measured in {@code RingBenchmark}); single {@link #offer}/{@link #poll}
 * use acquire loads and release stores. The choice over DPDK's {@code rte_ring} (reserve head by CAS, copy, wait for the
 * preceding threads to move the tail) is about preemption: {@code rte_ring} makes every thread
 * that reserved after a preempted one spin until that thread runs again, which with 8 threads on
 * 2 cores costs whole scheduler quanta. Here no thread ever waits for another: a slot that a
 * preempted thread still holds looks like "full" (to producers) or "empty" (to consumers) and the
 * call returns. The only retry loop is a failed compareAndSet, which means another thread made
 * progress (lock-free); it spins with {@link Thread#onSpinWait()} and yields after a bounded
 * number of failures.
 * <p>
 * Consequence: while another thread is in the middle of an operation on the boundary slot, a
 * call may return full (0 / false) although a consumer has already claimed a slot, or empty
 * although a producer has already claimed one. {@link #size()} counts claimed positions, so a
 * caller that must not give up (a buffer pool returning buffers) can tell such a transient state
 * from a real one.
 * <p>
 * All state is in the segment: processes that map the same memory can each {@link #wrap} it.
 */
public final class MpmcRing implements HandleRing, AutoCloseable
{
    private static final long SEQUENCES_OFFSET = HEADER_LENGTH;

    private final MemorySegment segment;
    private final int capacity;
    private final long mask;
    private final long slotsOffset;
    private final Arena arena;

    private MpmcRing(final MemorySegment segment, final int capacity, final Arena arena)
    {
        this.segment = segment;
        this.capacity = capacity;
        this.mask = capacity - 1;
        this.slotsOffset = SEQUENCES_OFFSET + (long)capacity * Long.BYTES;
        this.arena = arena;
    }

    /**
     * Bytes of segment a ring of this capacity needs.
     *
     * @param capacity a power of 2, at least 2.
     * @return length in bytes.
     * @throws IllegalArgumentException if the capacity is not a power of 2.
     */
    public static long requiredBytes(final int capacity)
    {
        return RingDescriptor.mpmcRequiredBytes(capacity);
    }

    /**
     * Allocate a ring in its own shared {@link Arena}, freed by {@link #close()}.
     *
     * @param capacity a power of 2, at least 2.
     * @return an initialised, empty ring.
     * @throws IllegalArgumentException if the capacity is not a power of 2.
     */
    public static MpmcRing allocate(final int capacity)
    {
        final long bytes = requiredBytes(capacity);
        final Arena arena = Arena.ofShared();
        return wrap(arena.allocate(bytes, RingDescriptor.ALIGNMENT), capacity, true, arena);
    }

    /**
     * Place a ring in memory the caller owns, e.g. a region shared with another process.
     *
     * @param segment    at least {@link #requiredBytes(int)} long, 8-byte aligned
     *                   ({@link RingDescriptor#ALIGNMENT} recommended); the ring uses its start.
     * @param capacity   a power of 2, at least 2.
     * @param initialise true to write an empty ring (the creator), false to attach to a ring
     *                   another party initialised (its header is checked).
     * @return the ring.
     * @throws IllegalArgumentException if capacity or segment are unfit.
     * @throws IllegalStateException    if attaching and the segment does not hold an MPMC ring of
     *                                  this capacity.
     */
    public static MpmcRing wrap(final MemorySegment segment, final int capacity, final boolean initialise)
    {
        return wrap(segment, capacity, initialise, null);
    }

    private static MpmcRing wrap(
        final MemorySegment segment, final int capacity, final boolean initialise, final Arena arena)
    {
        final long bytes = requiredBytes(capacity);
        RingDescriptor.checkSegment(segment, bytes);
        final MemorySegment ringSegment = segment.asSlice(0, bytes);
        if (initialise)
        {
            ringSegment.asSlice(0, HEADER_LENGTH).fill((byte)0);
            for (int i = 0; i < capacity; i++)
            {
                ringSegment.set(ValueLayout.JAVA_LONG, SEQUENCES_OFFSET + ((long)i << 3), i);
            }
            ringSegment.set(ValueLayout.JAVA_INT, KIND_OFFSET, KIND_MPMC);
            ringSegment.set(ValueLayout.JAVA_INT, CAPACITY_OFFSET, capacity);
            INT.setRelease(ringSegment, MAGIC_OFFSET, MAGIC);
        }
        else
        {
            RingDescriptor.checkHeader(ringSegment, KIND_MPMC, capacity);
        }
        return new MpmcRing(ringSegment, capacity, arena);
    }

    /**
     * The ring's memory (a slice of exactly {@link #requiredBytes(int)} bytes).
     *
     * @return the segment.
     */
    public MemorySegment segment()
    {
        return segment;
    }

    /**
     * {@inheritDoc}
     */
    public int capacity()
    {
        return capacity;
    }

    /**
     * {@inheritDoc}
     */
    public boolean offer(final long handle)
    {
        final MemorySegment segment = this.segment;
        for (int attempt = 0; ; attempt++)
        {
            final long tail = (long)LONG.getAcquire(segment, PRODUCER_INDEX_OFFSET);
            final long sequenceOffset = SEQUENCES_OFFSET + ((tail & mask) << 3);
            final long diff = (long)LONG.getAcquire(segment, sequenceOffset) - tail;
            if (diff == 0)
            {
                if (LONG.compareAndSet(segment, PRODUCER_INDEX_OFFSET, tail, tail + 1))
                {
                    LONG.set(segment, slotsOffset + ((tail & mask) << 3), handle);
                    LONG.setRelease(segment, sequenceOffset, tail + 1);
                    return true;
                }
            }
            else if (diff < 0)
            {
                return false;
            }
            backoff(attempt);
        }
    }

    /**
     * {@inheritDoc}
     */
    public long poll()
    {
        final MemorySegment segment = this.segment;
        for (int attempt = 0; ; attempt++)
        {
            final long head = (long)LONG.getAcquire(segment, CONSUMER_INDEX_OFFSET);
            final long sequenceOffset = SEQUENCES_OFFSET + ((head & mask) << 3);
            final long diff = (long)LONG.getAcquire(segment, sequenceOffset) - (head + 1);
            if (diff == 0)
            {
                if (LONG.compareAndSet(segment, CONSUMER_INDEX_OFFSET, head, head + 1))
                {
                    final long handle = (long)LONG.get(segment, slotsOffset + ((head & mask) << 3));
                    LONG.setRelease(segment, sequenceOffset, head + capacity);
                    return handle;
                }
            }
            else if (diff < 0)
            {
                return NO_HANDLE;
            }
            backoff(attempt);
        }
    }

    /**
     * {@inheritDoc}
     */
    public int enqueueBurst(final long[] src, final int off, final int n)
    {
        return n <= 0 ? 0 : enqueue(src, off, Math.min(n, capacity), false);
    }

    /**
     * {@inheritDoc}
     */
    public boolean enqueueBulk(final long[] src, final int off, final int n)
    {
        if (n <= 0)
        {
            return n == 0;
        }
        return n <= capacity && enqueue(src, off, n, true) == n;
    }

    /**
     * {@inheritDoc}
     */
    public int dequeueBurst(final long[] dst, final int off, final int max)
    {
        return max <= 0 ? 0 : dequeue(dst, off, Math.min(max, capacity), false);
    }

    /**
     * {@inheritDoc}
     */
    public boolean dequeueBulk(final long[] dst, final int off, final int n)
    {
        if (n <= 0)
        {
            return n == 0;
        }
        return n <= capacity && dequeue(dst, off, n, true) == n;
    }

    /**
     * {@inheritDoc} Counts positions claimed by producers and not yet claimed by consumers, as
     * they were at one instant.
     */
    public int size()
    {
        // Re-read the consumer index until it did not move while the producer index was read:
        // then both values held at the same instant, and a handle that was taken and given back
        // in between is not counted twice.
        long head = (long)LONG.getAcquire(segment, CONSUMER_INDEX_OFFSET);
        while (true)
        {
            final long tail = (long)LONG.getAcquire(segment, PRODUCER_INDEX_OFFSET);
            final long headAfter = (long)LONG.getAcquire(segment, CONSUMER_INDEX_OFFSET);
            if (headAfter == head)
            {
                return (int)Math.max(0, Math.min(capacity, tail - head));
            }
            head = headAfter;
        }
    }

    /**
     * Free the ring's memory if {@link #allocate(int)} made it; a wrapped ring's memory belongs to
     * the caller and is left alone. No thread may use the ring afterwards.
     */
    public void close()
    {
        if (null != arena)
        {
            arena.close();
        }
    }

    public String toString()
    {
        return "MpmcRing{capacity=" + capacity + ", size=" + size() + '}';
    }

    private int enqueue(final long[] src, final int off, final int n, final boolean all)
    {
        final MemorySegment segment = this.segment;
        final long mask = this.mask;
        for (int attempt = 0; ; attempt++)
        {
            final long tail = (long)LONG.getAcquire(segment, PRODUCER_INDEX_OFFSET);
            int count = 0;
            long diff = 0;
            while (count < n)
            {
                final long position = tail + count;
                diff = segment.get(ValueLayout.JAVA_LONG, SEQUENCES_OFFSET + ((position & mask) << 3)) - position;
                if (diff != 0)
                {
                    break;
                }
                count++;
            }

            if (count == n || (count > 0 && !all))
            {
                if (LONG.compareAndSet(segment, PRODUCER_INDEX_OFFSET, tail, tail + count))
                {
                    VarHandle.acquireFence();
                    copyIn(segment, src, off, tail, count);
                    VarHandle.releaseFence();
                    for (int i = 0; i < count; i++)
                    {
                        final long position = tail + i;
                        segment.set(ValueLayout.JAVA_LONG, SEQUENCES_OFFSET + ((position & mask) << 3), position + 1);
                    }
                    return count;
                }
            }
            else if (diff < 0 && (long)LONG.getAcquire(segment, PRODUCER_INDEX_OFFSET) == tail)
            {
                return 0; // full at the first slot we could not take, and our view is current
            }
            backoff(attempt);
        }
    }

    private int dequeue(final long[] dst, final int off, final int n, final boolean all)
    {
        final MemorySegment segment = this.segment;
        final long mask = this.mask;
        for (int attempt = 0; ; attempt++)
        {
            final long head = (long)LONG.getAcquire(segment, CONSUMER_INDEX_OFFSET);
            int count = 0;
            long diff = 0;
            while (count < n)
            {
                final long position = head + count;
                diff = segment.get(ValueLayout.JAVA_LONG, SEQUENCES_OFFSET + ((position & mask) << 3)) - (position + 1);
                if (diff != 0)
                {
                    break;
                }
                count++;
            }

            if (count == n || (count > 0 && !all))
            {
                if (LONG.compareAndSet(segment, CONSUMER_INDEX_OFFSET, head, head + count))
                {
                    VarHandle.acquireFence();
                    copyOut(segment, dst, off, head, count);
                    VarHandle.releaseFence();
                    final long capacity = this.capacity;
                    for (int i = 0; i < count; i++)
                    {
                        final long position = head + i;
                        segment.set(ValueLayout.JAVA_LONG, SEQUENCES_OFFSET + ((position & mask) << 3), position + capacity);
                    }
                    return count;
                }
            }
            else if (diff < 0 && (long)LONG.getAcquire(segment, CONSUMER_INDEX_OFFSET) == head)
            {
                return 0; // empty at the first slot we could not take, and our view is current
            }
            backoff(attempt);
        }
    }

    private void copyIn(final MemorySegment segment, final long[] src, final int off, final long index, final int count)
    {
        final int slot = (int)(index & mask);
        final int first = Math.min(count, capacity - slot);
        MemorySegment.copy(src, off, segment, ValueLayout.JAVA_LONG, slotsOffset + ((long)slot << 3), first);
        if (first < count)
        {
            MemorySegment.copy(src, off + first, segment, ValueLayout.JAVA_LONG, slotsOffset, count - first);
        }
    }

    private void copyOut(final MemorySegment segment, final long[] dst, final int off, final long index, final int count)
    {
        final int slot = (int)(index & mask);
        final int first = Math.min(count, capacity - slot);
        MemorySegment.copy(segment, ValueLayout.JAVA_LONG, slotsOffset + ((long)slot << 3), dst, off, first);
        if (first < count)
        {
            MemorySegment.copy(segment, ValueLayout.JAVA_LONG, slotsOffset, dst, off + first, count - first);
        }
    }
}

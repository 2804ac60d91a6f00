package io.ringway.runtime.ring;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.ringway.runtime.ring.RingAccess.INT;
import static io.ringway.runtime.ring.RingAccess.LONG;
import static io.ringway.runtime.ring.RingDescriptor.CAPACITY_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.CONSUMER_CACHE_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.CONSUMER_INDEX_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.HEADER_LENGTH;
import static io.ringway.runtime.ring.RingDescriptor.KIND_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.KIND_SPSC;
import static io.ringway.runtime.ring.RingDescriptor.MAGIC;
import static io.ringway.runtime.ring.RingDescriptor.MAGIC_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.PRODUCER_CACHE_OFFSET;
import static io.ringway.runtime.ring.RingDescriptor.PRODUCER_INDEX_OFFSET;

/**
 * Single-producer single-consumer ring of 64-bit handles in a {@link MemorySegment}; layout in
 * {@link RingDescriptor}.
 * <p>
 * One thread (or process) may produce and one may consume at a time. Each side keeps, in its own
 * cache line of the segment, a cached copy of the other side's index and reads the shared index
 * (with an acquire load) only when the cached copy says the ring is full (producer) or holds too
 * few handles (consumer). A burst costs one release store of the own index and at most one acquire
 * load of the other's, plus a bulk copy (two when it wraps around the end of the slot array).
 * <p>
 * All state is in the segment: two processes that map the same memory can each {@link #wrap} it,
 * one initialising ({@code initialise == true}), the other attaching.
 */
public final class SpscRing implements HandleRing, AutoCloseable
{
    private final MemorySegment segment;
    private final int capacity;
    private final long mask;
    private final Arena arena;

    private SpscRing(final MemorySegment segment, final int capacity, final Arena arena)
    {
        this.segment = segment;
        this.capacity = capacity;
        this.mask = capacity - 1;
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
        return RingDescriptor.spscRequiredBytes(capacity);
    }

    /**
     * Allocate a ring in its own shared {@link Arena}, freed by {@link #close()}.
     *
     * @param capacity a power of 2, at least 2.
     * @return an initialised, empty ring.
     * @throws IllegalArgumentException if the capacity is not a power of 2.
     */
    public static SpscRing allocate(final int capacity)
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
     * @throws IllegalStateException    if attaching and the segment does not hold an SPSC ring of
     *                                  this capacity.
     */
    public static SpscRing wrap(final MemorySegment segment, final int capacity, final boolean initialise)
    {
        return wrap(segment, capacity, initialise, null);
    }

    private static SpscRing wrap(
        final MemorySegment segment, final int capacity, final boolean initialise, final Arena arena)
    {
        final long bytes = requiredBytes(capacity);
        RingDescriptor.checkSegment(segment, bytes);
        final MemorySegment ringSegment = segment.asSlice(0, bytes);
        if (initialise)
        {
            ringSegment.asSlice(0, HEADER_LENGTH).fill((byte)0);
            ringSegment.set(ValueLayout.JAVA_INT, KIND_OFFSET, KIND_SPSC);
            ringSegment.set(ValueLayout.JAVA_INT, CAPACITY_OFFSET, capacity);
            INT.setRelease(ringSegment, MAGIC_OFFSET, MAGIC);
        }
        else
        {
            RingDescriptor.checkHeader(ringSegment, KIND_SPSC, capacity);
        }
        return new SpscRing(ringSegment, capacity, arena);
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
     * {@inheritDoc} Producer only.
     */
    public boolean offer(final long handle)
    {
        final MemorySegment segment = this.segment;
        final long tail = (long)LONG.get(segment, PRODUCER_INDEX_OFFSET);
        final long headCache = (long)LONG.get(segment, PRODUCER_CACHE_OFFSET);
        if (tail - headCache >= capacity)
        {
            final long head = (long)LONG.getAcquire(segment, CONSUMER_INDEX_OFFSET);
            if (tail - head >= capacity)
            {
                return false;
            }
            LONG.set(segment, PRODUCER_CACHE_OFFSET, head);
        }

        LONG.set(segment, HEADER_LENGTH + ((tail & mask) << 3), handle);
        LONG.setRelease(segment, PRODUCER_INDEX_OFFSET, tail + 1);
        return true;
    }

    /**
     * {@inheritDoc} Consumer only.
     */
    public long poll()
    {
        final MemorySegment segment = this.segment;
        final long head = (long)LONG.get(segment, CONSUMER_INDEX_OFFSET);
        final long tailCache = (long)LONG.get(segment, CONSUMER_CACHE_OFFSET);
        if (head >= tailCache)
        {
            final long tail = (long)LONG.getAcquire(segment, PRODUCER_INDEX_OFFSET);
            if (head >= tail)
            {
                return NO_HANDLE;
            }
            LONG.set(segment, CONSUMER_CACHE_OFFSET, tail);
        }

        final long handle = (long)LONG.get(segment, HEADER_LENGTH + ((head & mask) << 3));
        LONG.setRelease(segment, CONSUMER_INDEX_OFFSET, head + 1);
        return handle;
    }

    /**
     * {@inheritDoc} Producer only.
     */
    public int enqueueBurst(final long[] src, final int off, final int n)
    {
        if (n <= 0)
        {
            return 0;
        }
        final MemorySegment segment = this.segment;
        final long tail = (long)LONG.get(segment, PRODUCER_INDEX_OFFSET);
        final int free = freeSlots(segment, tail, n);
        final int count = Math.min(n, free);
        if (count <= 0)
        {
            return 0;
        }
        copyIn(segment, src, off, tail, count);
        LONG.setRelease(segment, PRODUCER_INDEX_OFFSET, tail + count);
        return count;
    }

    /**
     * {@inheritDoc} Producer only.
     */
    public boolean enqueueBulk(final long[] src, final int off, final int n)
    {
        if (n <= 0)
        {
            return n == 0;
        }
        final MemorySegment segment = this.segment;
        final long tail = (long)LONG.get(segment, PRODUCER_INDEX_OFFSET);
        if (freeSlots(segment, tail, n) < n)
        {
            return false;
        }
        copyIn(segment, src, off, tail, n);
        LONG.setRelease(segment, PRODUCER_INDEX_OFFSET, tail + n);
        return true;
    }

    /**
     * {@inheritDoc} Consumer only.
     */
    public int dequeueBurst(final long[] dst, final int off, final int max)
    {
        if (max <= 0)
        {
            return 0;
        }
        final MemorySegment segment = this.segment;
        final long head = (long)LONG.get(segment, CONSUMER_INDEX_OFFSET);
        final long available = availableHandles(segment, head, max);
        final int count = (int)Math.min(max, available);
        if (count <= 0)
        {
            return 0;
        }
        copyOut(segment, dst, off, head, count);
        LONG.setRelease(segment, CONSUMER_INDEX_OFFSET, head + count);
        return count;
    }

    /**
     * {@inheritDoc} Consumer only.
     */
    public boolean dequeueBulk(final long[] dst, final int off, final int n)
    {
        if (n <= 0)
        {
            return n == 0;
        }
        final MemorySegment segment = this.segment;
        final long head = (long)LONG.get(segment, CONSUMER_INDEX_OFFSET);
        if (availableHandles(segment, head, n) < n)
        {
            return false;
        }
        copyOut(segment, dst, off, head, n);
        LONG.setRelease(segment, CONSUMER_INDEX_OFFSET, head + n);
        return true;
    }

    /**
     * {@inheritDoc} The two indices are read as they were at one instant.
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
        return "SpscRing{capacity=" + capacity + ", size=" + size() + '}';
    }

    private int freeSlots(final MemorySegment segment, final long tail, final int wanted)
    {
        long free = capacity - (tail - (long)LONG.get(segment, PRODUCER_CACHE_OFFSET));
        if (free < wanted)
        {
            final long head = (long)LONG.getAcquire(segment, CONSUMER_INDEX_OFFSET);
            LONG.set(segment, PRODUCER_CACHE_OFFSET, head);
            free = capacity - (tail - head);
        }
        return (int)free;
    }

    private long availableHandles(final MemorySegment segment, final long head, final int wanted)
    {
        long available = (long)LONG.get(segment, CONSUMER_CACHE_OFFSET) - head;
        if (available < wanted)
        {
            final long tail = (long)LONG.getAcquire(segment, PRODUCER_INDEX_OFFSET);
            LONG.set(segment, CONSUMER_CACHE_OFFSET, tail);
            available = tail - head;
        }
        return available;
    }

    private void copyIn(final MemorySegment segment, final long[] src, final int off, final long index, final int count)
    {
        final int slot = (int)(index & mask);
        final int first = Math.min(count, capacity - slot);
        MemorySegment.copy(src, off, segment, ValueLayout.JAVA_LONG, HEADER_LENGTH + ((long)slot << 3), first);
        if (first < count)
        {
            MemorySegment.copy(src, off + first, segment, ValueLayout.JAVA_LONG, HEADER_LENGTH, count - first);
        }
    }

    private void copyOut(final MemorySegment segment, final long[] dst, final int off, final long index, final int count)
    {
        final int slot = (int)(index & mask);
        final int first = Math.min(count, capacity - slot);
        MemorySegment.copy(segment, ValueLayout.JAVA_LONG, HEADER_LENGTH + ((long)slot << 3), dst, off, first);
        if (first < count)
        {
            MemorySegment.copy(segment, ValueLayout.JAVA_LONG, HEADER_LENGTH, dst, off + first, count - first);
        }
    }
}

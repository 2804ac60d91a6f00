package io.ringway.runtime.ring;

import java.lang.foreign.MemorySegment;

/**
 * Byte layout of the off-heap handle rings ({@link SpscRing}, {@link MpmcRing}). Every piece of
 * ring state lives in the segment, so two processes that map the same memory can each wrap it.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                       Magic ("RWRG")                          |   0
 *  +---------------------------------------------------------------+
 *  |                   Kind (1 = SPSC, 2 = MPMC)                   |   4
 *  +---------------------------------------------------------------+
 *  |                          Capacity                             |   8
 *  +---------------------------------------------------------------+
 *  |                 Padding to 2 cache lines (128)               ...  12
 *  +---------------------------------------------------------------+
 *  |               Producer index (tail), 64-bit                   |  128
 *  +---------------------------------------------------------------+
 *  |   SPSC: producer's cached consumer index, 64-bit (MPMC: unused) | 136
 *  +---------------------------------------------------------------+
 *  |                 Padding to 2 cache lines                     ...  144
 *  +---------------------------------------------------------------+
 *  |               Consumer index (head), 64-bit                   |  256
 *  +---------------------------------------------------------------+
 *  |   SPSC: consumer's cached producer index, 64-bit (MPMC: unused) | 264
 *  +---------------------------------------------------------------+
 *  |                 Padding to 2 cache lines                     ...  272
 *  +---------------------------------------------------------------+
 *  |   MPMC only: per-slot sequence words, capacity x 64-bit      ...  384
 *  +---------------------------------------------------------------+
 *  |          Slots: handles, capacity x 64-bit                   ...  384 (SPSC)
 *  +---------------------------------------------------------------+     384 + 8 x capacity (MPMC)
 *  |          Trailer padding, 2 cache lines                      ...
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * Indices are free-running 64-bit counters (they never wrap in practice); a slot is
 * {@code index & (capacity - 1)}. The producer line and the consumer line are two cache lines
 * apart (as in Agrona) so that adjacent-line prefetch does not make them share. The magic word is
 * written last, with a release store, so a second process that wraps the segment with
 * {@code initialise == false} sees either no ring or a complete one.
 */
public final class RingDescriptor
{
    /** Cache line length assumed for padding, in bytes. */
    public static final int CACHE_LINE_LENGTH = 64;
    /** Distance between independently written fields: two cache lines. */
    public static final int PADDING = 2 * CACHE_LINE_LENGTH;
    /** Alignment a ring segment should have (the rings require at least 8). */
    public static final long ALIGNMENT = PADDING;

    /** Magic value marking an initialised ring: ASCII "RWRG". */
    public static final int MAGIC = 0x52575247;
    /** Kind word of an SPSC ring. */
    public static final int KIND_SPSC = 1;
    /** Kind word of an MPMC ring. */
    public static final int KIND_MPMC = 2;

    /** Offset of the magic word (int). */
    public static final long MAGIC_OFFSET = 0;
    /** Offset of the kind word (int). */
    public static final long KIND_OFFSET = 4;
    /** Offset of the capacity word (int). */
    public static final long CAPACITY_OFFSET = 8;

    /** Offset of the producer index (long). */
    public static final long PRODUCER_INDEX_OFFSET = PADDING;
    /** Offset of the producer's cached copy of the consumer index (long, SPSC only). */
    public static final long PRODUCER_CACHE_OFFSET = PRODUCER_INDEX_OFFSET + Long.BYTES;
    /** Offset of the consumer index (long). */
    public static final long CONSUMER_INDEX_OFFSET = PRODUCER_INDEX_OFFSET + PADDING;
    /** Offset of the consumer's cached copy of the producer index (long, SPSC only). */
    public static final long CONSUMER_CACHE_OFFSET = CONSUMER_INDEX_OFFSET + Long.BYTES;

    /** Length of the header; the first array starts here. */
    public static final long HEADER_LENGTH = CONSUMER_INDEX_OFFSET + PADDING;
    /** Length of the padding after the last array. */
    public static final long TRAILER_LENGTH = PADDING;

    /** Smallest capacity a ring accepts. */
    public static final int MIN_CAPACITY = 2;
    /** Largest capacity a ring accepts. */
    public static final int MAX_CAPACITY = 1 << 30;

    private RingDescriptor()
    {
    }

    /**
     * Check a ring capacity.
     *
     * @param capacity the requested capacity.
     * @throws IllegalArgumentException if it is not a power of 2 in [{@value #MIN_CAPACITY}, 2^30].
     */
    public static void checkCapacity(final int capacity)
    {
        if (capacity <= 0 || Integer.bitCount(capacity) != 1)
        {
            throw new IllegalArgumentException("capacity must be a power of 2, got " + capacity);
        }
        if (capacity < MIN_CAPACITY || capacity > MAX_CAPACITY)
        {
            throw new IllegalArgumentException(
                "capacity must be between " + MIN_CAPACITY + " and " + MAX_CAPACITY + ", got " + capacity);
        }
    }

    /**
     * Bytes an SPSC ring of this capacity needs.
     *
     * @param capacity power of 2 capacity.
     * @return the segment length needed.
     */
    public static long spscRequiredBytes(final int capacity)
    {
        checkCapacity(capacity);
        return HEADER_LENGTH + (long)capacity * Long.BYTES + TRAILER_LENGTH;
    }

    /**
     * Bytes an MPMC ring of this capacity needs.
     *
     * @param capacity power of 2 capacity.
     * @return the segment length needed.
     */
    public static long mpmcRequiredBytes(final int capacity)
    {
        checkCapacity(capacity);
        return HEADER_LENGTH + 2L * capacity * Long.BYTES + TRAILER_LENGTH;
    }

    /**
     * Check that a segment can hold a ring: long enough and 8-byte aligned.
     *
     * @param segment  the segment.
     * @param required bytes required.
     * @throws IllegalArgumentException if it cannot.
     */
    static void checkSegment(final MemorySegment segment, final long required)
    {
        if (segment.byteSize() < required)
        {
            throw new IllegalArgumentException(
                "segment too small for ring: need " + required + " bytes, got " + segment.byteSize());
        }
        if (segment.maxByteAlignment() < Long.BYTES)
        {
            throw new IllegalArgumentException(
                "ring segment must be 8-byte aligned, alignment is " + segment.maxByteAlignment());
        }
    }

    /**
     * Check the header of a ring written by someone else.
     */
    static void checkHeader(final MemorySegment segment, final int kind, final int capacity)
    {
        final int magic = (int)RingAccess.INT.getAcquire(segment, MAGIC_OFFSET);
        if (magic != MAGIC)
        {
            throw new IllegalStateException(
                "segment does not hold an initialised ring: magic 0x" + Integer.toHexString(magic));
        }
        final int actualKind = segment.get(java.lang.foreign.ValueLayout.JAVA_INT, KIND_OFFSET);
        if (actualKind != kind)
        {
            throw new IllegalStateException("segment holds a ring of kind " + kindName(actualKind) +
                ", expected " + kindName(kind));
        }
        final int actualCapacity = segment.get(java.lang.foreign.ValueLayout.JAVA_INT, CAPACITY_OFFSET);
        if (actualCapacity != capacity)
        {
            throw new IllegalStateException(
                "segment holds a ring of capacity " + actualCapacity + ", expected " + capacity);
        }
    }

    static String kindName(final int kind)
    {
        return switch (kind)
        {
            case KIND_SPSC -> "SPSC";
            case KIND_MPMC -> "MPMC";
            default -> "unknown(" + kind + ")";
        };
    }
}

package io.ringway.runtime.mem;

import io.ringway.runtime.ring.MpmcRing;
import io.ringway.runtime.ring.RingDescriptor;

/**
 * Byte layout of a {@link Mempool} segment. The pool header, the free ring and the buffers are
 * all in one segment, so a pool placed in shared memory can be attached by another process.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                        Magic ("RWMP")                         |   0
 *  +---------------------------------------------------------------+
 *  |                       Element size (bytes)                    |   4
 *  +---------------------------------------------------------------+
 *  |                       Element count                           |   8
 *  +---------------------------------------------------------------+
 *  |                       Free ring capacity                      |  12
 *  +---------------------------------------------------------------+
 *  |                 Padding to 2 cache lines (128)               ...  16
 *  +---------------------------------------------------------------+
 *  |      Free ring: an MpmcRing (see RingDescriptor) of handles  ...  128
 *  +---------------------------------------------------------------+
 *  |      Buffers: count x element size, from a 128-byte boundary ...  data offset
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * A handle is the byte offset of its buffer from the start of the segment, so
 * {@code handle == dataOffset + index * elementSize}.
 */
public final class MempoolDescriptor
{
    /** Magic value marking an initialised pool: ASCII "RWMP". */
    public static final int MAGIC = 0x52574D50;
    /** Offset of the magic word (int). */
    public static final long MAGIC_OFFSET = 0;
    /** Offset of the element size (int). */
    public static final long ELEMENT_SIZE_OFFSET = 4;
    /** Offset of the element count (int). */
    public static final long COUNT_OFFSET = 8;
    /** Offset of the free ring capacity (int). */
    public static final long RING_CAPACITY_OFFSET = 12;
    /** Offset of the free ring. */
    public static final long RING_OFFSET = RingDescriptor.PADDING;
    /** Alignment of the buffer area relative to the segment start. */
    public static final long DATA_ALIGNMENT = RingDescriptor.PADDING;
    /** Default element size: 2 KiB, enough for a 1500-byte frame plus headroom. */
    public static final int DEFAULT_ELEMENT_SIZE = 2048;
    /** Most elements a pool holds. */
    public static final int MAX_COUNT = 1 << 30;

    private MempoolDescriptor()
    {
    }

    /**
     * Capacity of the free ring of a pool of {@code count} elements.
     *
     * @param count number of elements.
     * @return the smallest power of 2 that holds them (at least 2).
     */
    public static int ringCapacity(final int count)
    {
        return Math.max(RingDescriptor.MIN_CAPACITY, 1 << (32 - Integer.numberOfLeadingZeros(count - 1)));
    }

    /**
     * Offset of the first buffer.
     *
     * @param count number of elements.
     * @return offset from the start of the pool segment.
     */
    public static long dataOffset(final int count)
    {
        final long ringEnd = RING_OFFSET + MpmcRing.requiredBytes(ringCapacity(count));
        return (ringEnd + DATA_ALIGNMENT - 1) & -DATA_ALIGNMENT;
    }

    /**
     * Bytes a pool segment needs.
     *
     * @param count       number of elements, 1 to 2^30.
     * @param elementSize element size in bytes, a positive multiple of 8.
     * @return length in bytes.
     * @throws IllegalArgumentException if count or element size break the rules.
     */
    public static long requiredBytes(final int count, final int elementSize)
    {
        checkCount(count);
        checkElementSize(elementSize);
        return dataOffset(count) + (long)count * elementSize;
    }

    static void checkCount(final int count)
    {
        if (count < 1 || count > MAX_COUNT)
        {
            throw new IllegalArgumentException("count must be between 1 and " + MAX_COUNT + ", got " + count);
        }
    }

    static void checkElementSize(final int elementSize)
    {
        if (elementSize <= 0 || (elementSize & 7) != 0)
        {
            throw new IllegalArgumentException("element size must be a positive multiple of 8, got " + elementSize);
        }
    }
}

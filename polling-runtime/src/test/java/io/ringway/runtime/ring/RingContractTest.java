package io.ringway.runtime.ring;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Single-threaded rules every {@link HandleRing} keeps, run against SPSC and MPMC.
 */
class RingContractTest
{
    enum Kind
    {
        SPSC
        {
            HandleRing allocate(final int capacity)
            {
                return SpscRing.allocate(capacity);
            }
        },
        MPMC
        {
            HandleRing allocate(final int capacity)
            {
                return MpmcRing.allocate(capacity);
            }
        };

        abstract HandleRing allocate(int capacity);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void capacityMustBeAPowerOfTwo(final Kind kind)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> kind.allocate(1000));
        assertEquals("capacity must be a power of 2, got 1000", ex.getMessage());
        assertEquals("capacity must be a power of 2, got 0",
            assertThrows(IllegalArgumentException.class, () -> kind.allocate(0)).getMessage());
        assertEquals("capacity must be a power of 2, got -8",
            assertThrows(IllegalArgumentException.class, () -> kind.allocate(-8)).getMessage());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void capacityMustBeAtLeastTwo(final Kind kind)
    {
        assertThrows(IllegalArgumentException.class, () -> kind.allocate(1));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void pollOnEmptyRingReturnsNoHandle(final Kind kind)
    {
        final HandleRing ring = kind.allocate(4);
        assertEquals(HandleRing.NO_HANDLE, ring.poll());
        assertEquals(0, ring.dequeueBurst(new long[4], 0, 4));
        assertFalse(ring.dequeueBulk(new long[4], 0, 1));
        assertEquals(0, ring.size());
        assertEquals(4, ring.capacity());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void offerOnFullRingReturnsFalse(final Kind kind)
    {
        final HandleRing ring = kind.allocate(4);
        for (int i = 0; i < 4; i++)
        {
            assertTrue(ring.offer(i));
        }
        assertFalse(ring.offer(99));
        assertEquals(0, ring.enqueueBurst(new long[]{ 1, 2 }, 0, 2));
        assertFalse(ring.enqueueBulk(new long[]{ 1 }, 0, 1));
        assertEquals(4, ring.size());
        for (int i = 0; i < 4; i++)
        {
            assertEquals(i, ring.poll());
        }
        assertEquals(HandleRing.NO_HANDLE, ring.poll());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void burstsKeepFifoOrderAcrossWrapAround(final Kind kind)
    {
        final HandleRing ring = kind.allocate(8);
        final long[] in = new long[5];
        final long[] out = new long[5];
        long next = 0;
        long expected = 0;
        for (int round = 0; round < 1000; round++)
        {
            for (int i = 0; i < in.length; i++)
            {
                in[i] = next++;
            }
            assertTrue(ring.enqueueBulk(in, 0, 5));
            final int n = ring.dequeueBurst(out, 0, 5);
            assertEquals(5, n);
            for (int i = 0; i < n; i++)
            {
                assertEquals(expected++, out[i]);
            }
        }
        assertEquals(0, ring.size());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void enqueueBulkFailsAtomicallyWhenNotEnoughRoom(final Kind kind)
    {
        final HandleRing ring = kind.allocate(8);
        assertTrue(ring.enqueueBulk(new long[]{ 1, 2, 3, 4, 5, 6 }, 0, 6));
        assertFalse(ring.enqueueBulk(new long[]{ 7, 8, 9 }, 0, 3));
        assertEquals(6, ring.size());
        assertFalse(ring.enqueueBulk(new long[16], 0, 16), "more than capacity");

        assertEquals(2, ring.enqueueBurst(new long[]{ 7, 8, 9 }, 0, 3), "burst takes what fits");
        assertEquals(8, ring.size());

        final long[] out = new long[8];
        assertTrue(ring.dequeueBulk(out, 0, 8));
        assertArrayEquals(new long[]{ 1, 2, 3, 4, 5, 6, 7, 8 }, out);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void dequeueBulkFailsAtomicallyWhenNotEnoughHandles(final Kind kind)
    {
        final HandleRing ring = kind.allocate(8);
        assertTrue(ring.enqueueBulk(new long[]{ 10, 11, 12 }, 0, 3));
        final long[] out = new long[]{ -5, -5, -5, -5, -5 };
        assertFalse(ring.dequeueBulk(out, 0, 4));
        assertEquals(3, ring.size());
        assertArrayEquals(new long[]{ -5, -5, -5, -5, -5 }, out, "nothing written on failure");

        assertEquals(3, ring.dequeueBurst(out, 1, 4), "burst takes what there is");
        assertArrayEquals(new long[]{ -5, 10, 11, 12, -5 }, out);
        assertEquals(0, ring.size());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void burstsWithOffsetsSplitOnWrapAround(final Kind kind)
    {
        final HandleRing ring = kind.allocate(4);
        assertTrue(ring.enqueueBulk(new long[]{ 0, 1, 2 }, 0, 3));
        assertEquals(3, ring.dequeueBurst(new long[3], 0, 3));
        // index 3: next burst of 4 spans slots 3, 0, 1, 2
        assertTrue(ring.enqueueBulk(new long[]{ 9, 20, 21, 22, 23 }, 1, 4));
        final long[] out = new long[6];
        assertTrue(ring.dequeueBulk(out, 2, 4));
        assertArrayEquals(new long[]{ 0, 0, 20, 21, 22, 23 }, out);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void zeroAndNegativeCountsMoveNothing(final Kind kind)
    {
        final HandleRing ring = kind.allocate(4);
        assertEquals(0, ring.enqueueBurst(new long[1], 0, 0));
        assertTrue(ring.enqueueBulk(new long[1], 0, 0));
        assertEquals(0, ring.enqueueBurst(new long[1], 0, -1));
        assertFalse(ring.enqueueBulk(new long[1], 0, -1));
        assertEquals(0, ring.dequeueBurst(new long[1], 0, 0));
        assertEquals(0, ring.size());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void fullCapacityIsUsable(final Kind kind)
    {
        final HandleRing ring = kind.allocate(1024);
        final long[] in = new long[1024];
        for (int i = 0; i < in.length; i++)
        {
            in[i] = Long.MAX_VALUE - i;
        }
        assertTrue(ring.enqueueBulk(in, 0, 1024));
        assertEquals(1024, ring.size());
        final long[] out = new long[1024];
        assertTrue(ring.dequeueBulk(out, 0, 1024));
        assertArrayEquals(in, out);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void ringDoesNotFitInSmallSegment(final Kind kind)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment small = arena.allocate(64, 128);
            assertThrows(IllegalArgumentException.class, () -> wrap(kind, small, 8, true));
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void attachRequiresAnInitialisedRingOfTheSameShape(final Kind kind)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment segment = arena.allocate(MpmcRing.requiredBytes(16), 128);
            assertThrows(IllegalStateException.class, () -> wrap(kind, segment, 16, false), "not initialised");
            wrap(kind, segment, 16, true);
            assertThrows(IllegalStateException.class, () -> wrap(kind, segment, 8, false), "capacity");
            final Kind other = kind == Kind.SPSC ? Kind.MPMC : Kind.SPSC;
            assertThrows(IllegalStateException.class, () -> wrap(other, segment, 16, false), "kind");
            wrap(kind, segment, 16, false);
        }
    }

    static HandleRing wrap(final Kind kind, final MemorySegment segment, final int capacity, final boolean init)
    {
        return kind == Kind.SPSC ?
            SpscRing.wrap(segment, capacity, init) : MpmcRing.wrap(segment, capacity, init);
    }
}

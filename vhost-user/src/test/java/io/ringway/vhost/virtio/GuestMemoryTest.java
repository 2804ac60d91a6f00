package io.ringway.vhost.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GuestMemoryTest {
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private GuestMemoryRegion region(long gpa, long size, long uva) {
        return new GuestMemoryRegion(gpa, size, uva, 0, arena.allocate(size, 4096), null);
    }

    @Test
    void translatesGuestPhysicalRangeInsideARegion() {
        GuestMemoryRegion low = region(0, 0x10000, 0x7f00_0000_0000L);
        GuestMemoryRegion high = region(0x100000, 0x10000, 0x7f00_1000_0000L);
        GuestMemory mem = GuestMemory.of(high, low);
        assertEquals(0, mem.findGpa(0x100, 0x10));
        assertEquals(1, mem.findGpa(0x100000, 0x10000));
        assertEquals(0x20, mem.gpaOffset(1, 0x100020));
        high.segment().set(ValueLayout.JAVA_BYTE, 0x20, (byte) 42);
        assertEquals(42, mem.sliceGpa(0x100020, 1).get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(1, mem.sliceGpa(0x100020, 1).byteSize());
    }

    @Test
    void translatesFrontendUserAddress() {
        GuestMemory mem = GuestMemory.of(region(0, 0x10000, 0x7f00_0000_0000L), region(0x100000, 0x10000, 0x5000_0000L));
        assertEquals(1, mem.findUserAddr(0x5000_0010L, 8));
        assertEquals(0x100010, mem.userAddrToGpa(0x5000_0010L, 8));
        assertEquals(0, mem.findUserAddr(0x7f00_0000_fff0L, 0x10));
        assertEquals(GuestMemory.OUTSIDE_MEMORY, mem.findUserAddr(0x7f00_0000_fff0L, 0x11));
    }

    @Test
    void rangeOutsideMemoryIsRejected() {
        GuestMemory mem = GuestMemory.of(region(0x1000, 0x1000, 0x1000));
        assertEquals(GuestMemory.OUTSIDE_MEMORY, mem.findGpa(0, 1));
        assertEquals(GuestMemory.OUTSIDE_MEMORY, mem.findGpa(0x2000, 0));
        assertEquals(GuestMemory.OUTSIDE_MEMORY, mem.findGpa(-1L, 1));
        GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> mem.sliceGpa(0x2000, 1));
        assertEquals(GuestMemoryException.Rule.RANGE_OUTSIDE_MEMORY, e.rule());
        assertArrayEquals(new long[] {0x2000, 1}, e.values());
    }

    @Test
    void rangeRunningPastRegionEndIsRejected() {
        // DPDK CVE-2018-1059: the start is inside the region, the end is not.
        GuestMemory mem = GuestMemory.of(region(0x1000, 0x1000, 0x1000));
        assertEquals(0, mem.findGpa(0x1ff0, 0x10));
        assertEquals(GuestMemory.OUTSIDE_MEMORY, mem.findGpa(0x1ff0, 0x11));
        // A huge length must not wrap around into "fits".
        assertEquals(GuestMemory.OUTSIDE_MEMORY, mem.findGpa(0x1ff0, -1L));
        assertEquals(GuestMemory.OUTSIDE_MEMORY, mem.findGpa(0x1ff0, Long.MIN_VALUE));
    }

    @Test
    void rangeSpanningAdjacentRegionsIsRejected() {
        GuestMemory mem = GuestMemory.of(region(0, 0x1000, 0x10000), region(0x1000, 0x1000, 0x20000));
        assertEquals(GuestMemory.SPANS_REGIONS, mem.findGpa(0xff0, 0x20));
        GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> mem.sliceGpa(0xff0, 0x20));
        assertEquals(GuestMemoryException.Rule.RANGE_SPANS_REGIONS, e.rule());
        assertArrayEquals(new long[] {0xff0, 0x20}, e.values());
    }

    @Test
    void regionSizeZeroIsRejected() {
        GuestMemoryException e = assertThrows(GuestMemoryException.class,
                () -> new GuestMemoryRegion(0x5000, 0, 0, 0, arena.allocate(16), null));
        assertEquals(GuestMemoryException.Rule.REGION_SIZE_ZERO, e.rule());
        assertArrayEquals(new long[] {0x5000}, e.values());
    }

    @Test
    void regionEndOverflowingU64IsRejected() {
        MemorySegment seg = arena.allocate(0x2000);
        GuestMemoryException e = assertThrows(GuestMemoryException.class,
                () -> new GuestMemoryRegion(-0x1000L, 0x2000, 0, 0, seg, null));
        assertEquals(GuestMemoryException.Rule.REGION_END_OVERFLOWS, e.rule());
        assertArrayEquals(new long[] {-0x1000L, 0x2000}, e.values());
        // The very last page of the address space is fine.
        GuestMemoryRegion top = new GuestMemoryRegion(-0x1000L, 0x1000, 0, 0, seg, null);
        assertEquals(-1L, top.lastGuestPhysAddr());
        assertEquals(0, GuestMemory.of(top).findGpa(-1L, 1));
    }

    @Test
    void segmentSmallerThanRegionIsRejected() {
        GuestMemoryException e = assertThrows(GuestMemoryException.class,
                () -> new GuestMemoryRegion(0, 0x2000, 0, 0, arena.allocate(0x1000), null));
        assertEquals(GuestMemoryException.Rule.SEGMENT_SMALLER_THAN_REGION, e.rule());
        assertArrayEquals(new long[] {0x2000, 0x1000}, e.values());
    }

    @Test
    void overlappingRegionsAreRejected() {
        GuestMemoryException e = assertThrows(GuestMemoryException.class,
                () -> GuestMemory.of(region(0x1000, 0x2000, 0x10000), region(0x2000, 0x1000, 0x20000)));
        assertEquals(GuestMemoryException.Rule.REGIONS_OVERLAP, e.rule());
        assertArrayEquals(new long[] {0x1000, 0x2000, 0x2000, 0x1000}, e.values());
    }

    @Test
    void overlappingUserRangesAreRejected() {
        GuestMemoryException e = assertThrows(GuestMemoryException.class,
                () -> GuestMemory.of(region(0x1000, 0x1000, 0x10000), region(0x8000, 0x1000, 0x10800)));
        assertEquals(GuestMemoryException.Rule.USER_RANGES_OVERLAP, e.rule());
        assertArrayEquals(new long[] {0x10000, 0x1000, 0x10800, 0x1000}, e.values());
    }

    @Test
    void lookupsAcrossManyRegionsFindTheRightOne() {
        GuestMemoryRegion[] regions = new GuestMemoryRegion[16];
        for (int i = 0; i < regions.length; i++) {
            regions[i] = region(0x10000L * i * 2, 0x1000, 0x100000L + 0x10000L * i);
        }
        GuestMemory mem = GuestMemory.of(regions);
        for (int round = 0; round < 3; round++) {
            for (int i = regions.length - 1; i >= 0; i--) {
                assertEquals(i, mem.findGpa(0x10000L * i * 2 + 0x800, 0x800));
                assertEquals(GuestMemory.OUTSIDE_MEMORY, mem.findGpa(0x10000L * i * 2 + 0x1000, 1));
                assertEquals(i, mem.findUserAddr(0x100000L + 0x10000L * i, 0x1000));
            }
        }
    }

    @Test
    void closeReleasesOwners() throws Exception {
        int[] closed = new int[1];
        GuestMemory mem = GuestMemory.of(new GuestMemoryRegion(0, 0x1000, 0, 0, arena.allocate(0x1000), () -> closed[0]++),
                new GuestMemoryRegion(0x1000, 0x1000, 0x1000, 0, arena.allocate(0x1000), () -> closed[0]++));
        mem.close();
        assertEquals(2, closed[0]);
        assertTrue(mem.regionCount() == 2);
    }
}

package io.ringway.runtime.mem;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class AnonymousRegionTest {
    private static final long MIB = 1 << 20;

    @Test
    void startsOnATwoMibBoundaryWithItsSizeRoundedToPages() {
        for (long size : new long[] {4096, 3 * MIB + 5, 64 * MIB}) {
            try (AnonymousRegion r = AnonymousRegion.create("aligned", size)) {
                assertEquals(0, r.segment().address() % AnonymousRegion.ALIGNMENT, "start 0x" + Long.toHexString(r.segment().address()));
                assertEquals(Math.ceilDiv(size, 4096) * 4096, r.size());
                assertEquals(r.size(), r.segment().byteSize());
            }
        }
    }

    @Test
    void isZeroedAndWritable() {
        try (AnonymousRegion r = AnonymousRegion.create("rw", 4 * MIB)) {
            MemorySegment s = r.segment();
            assertEquals(0, s.get(JAVA_LONG, 0));
            assertEquals(0, s.get(JAVA_LONG, s.byteSize() - 8));
            s.set(JAVA_LONG, 2 * MIB + 8, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, s.get(JAVA_LONG, 2 * MIB + 8));
        }
    }

    @Test
    void theKernelTookMadvHugepage() throws IOException {
        assumeTrue(Files.exists(TransparentHugePages.ENABLED), "no " + TransparentHugePages.ENABLED + ": kernel without transparent huge pages");
        try (AnonymousRegion r = AnonymousRegion.create("advised", 4 * MIB)) {
            assertTrue(r.hugePagesAdvised(), r.backing());
            // the mapping's VmFlags carry "hg" (VM_HUGEPAGE) once madvise(MADV_HUGEPAGE) took effect
            String flags = vmFlags(r.segment().address());
            assertNotNull(flags, "no mapping at 0x" + Long.toHexString(r.segment().address()) + " in /proc/self/smaps");
            assertTrue(List.of(flags.trim().split("\\s+")).contains("hg"), "VmFlags: " + flags);
            assertTrue(r.backing().contains("MADV_HUGEPAGE"), r.backing());
        }
    }

    @Test
    void touchedMemoryIsBackedByHugePagesWhereThpAllowsIt() {
        String mode = TransparentHugePages.enabled();
        assumeTrue(mode.equals("madvise") || mode.equals("always"), "transparent_hugepage/enabled is " + mode + ", not madvise or always");
        try (AnonymousRegion r = AnonymousRegion.create("touched", 8 * MIB)) {
            MemorySegment s = r.segment();
            for (long off = 0; off < s.byteSize(); off += 4096) {
                s.set(JAVA_BYTE, off, (byte) 1);
            }
            long huge = TransparentHugePages.mappedHugeBytes(s);
            assertTrue(huge >= 2 * MIB, "AnonHugePages of the region after touching 8 MiB: " + huge + " bytes (THP " + mode + ")");
        }
    }

    @Test
    void closeMakesTheSegmentInaccessibleAndUnmapsIt() throws IOException {
        AnonymousRegion r = AnonymousRegion.create("closed", 2 * MIB);
        long address = r.segment().address();
        r.close();
        r.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> r.segment().get(JAVA_BYTE, 0));
        assertEquals(null, vmFlags(address), "mapping still in /proc/self/smaps after close");
    }

    @Test
    void theAlignmentReservationAroundTheRegionIsInaccessibleAndGoesWithIt() throws IOException {
        AnonymousRegion r = AnonymousRegion.create("guarded", 2 * MIB);
        long start = r.segment().address();
        long end = start + r.size();
        long lo = start - AnonymousRegion.ALIGNMENT;
        long hi = end + AnonymousRegion.ALIGNMENT;
        // a neighbouring PROT_NONE mapping of the JVM's may merge with the guard space: count bytes in the window, not mappings
        long before = protNoneBytesWithin(lo, hi);
        assertTrue(before >= AnonymousRegion.ALIGNMENT, "PROT_NONE guard space next to the region (its alignment reservation): " + before);
        r.close();
        long after = protNoneBytesWithin(lo, hi);
        assertTrue(after <= before - AnonymousRegion.ALIGNMENT, "guard space left after close: " + before + " -> " + after + " bytes");
        assertEquals(null, vmFlags(start), "the region still mapped after close");
    }

    /** PROT_NONE private bytes of this process within [lo, hi). */
    private static long protNoneBytesWithin(long lo, long hi) throws IOException {
        long total = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            long[] range = range(line);
            if (range != null && line.contains(" ---p ")) {
                total += Math.max(0, Math.min(hi, range[1]) - Math.max(lo, range[0]));
            }
        }
        return total;
    }

    @Test
    void aNonPositiveSizeIsRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AnonymousRegion.create("zero", 0));
        assertTrue(e.getMessage().contains("must be positive, got 0"), e.getMessage());
    }

    @Test
    void modeFilesAreReadByTheirBracketedChoice() {
        assertEquals("madvise", TransparentHugePages.selectedOf("always [madvise] never\n"));
        assertEquals("never", TransparentHugePages.selectedOf("always within_size advise [never] deny force\n"));
        assertEquals("unknown", TransparentHugePages.selectedOf(""));
    }

    @Test
    void hugeBytesSumTheMappingsThatOverlapTheRange() {
        List<String> smaps = List.of(
            "7f0000000000-7f0000400000 rw-p 00000000 00:00 0 ",
            "Size:               4096 kB",
            "AnonHugePages:      2048 kB",
            "VmFlags: rd wr mr mw me ac hg",
            "7f0000400000-7f0000600000 rw-s 00000000 00:01 12 /memfd:x (deleted)",
            "ShmemPmdMapped:     2048 kB",
            "Shared_Hugetlb:        0 kB",
            "7f0000600000-7f0000800000 rw-p 00000000 00:00 0 ",
            "AnonHugePages:      2048 kB");
        assertEquals(2048 * 1024L, TransparentHugePages.hugeBytesIn(smaps, 0x7f0000000000L, 0x7f0000400000L));
        assertEquals(4096 * 1024L, TransparentHugePages.hugeBytesIn(smaps, 0x7f0000000000L, 0x7f0000600000L));
        assertEquals(0, TransparentHugePages.hugeBytesIn(smaps, 0x7f0000800000L, 0x7f0000a00000L));
    }

    /** The VmFlags line of the mapping starting at {@code address} in /proc/self/smaps, null when none starts there. */
    private static String vmFlags(long address) throws IOException {
        boolean at = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            long[] range = range(line);
            if (range != null) {
                at = range[0] == address;
            } else if (at && line.startsWith("VmFlags:")) {
                return line.substring("VmFlags:".length());
            }
        }
        return null;
    }

    private static long[] range(String line) {
        int dash = line.indexOf('-');
        int space = line.indexOf(' ');
        if (dash <= 0 || space < dash || line.contains(":") && line.indexOf(':') < dash) {
            return null;
        }
        try {
            return new long[] {Long.parseUnsignedLong(line, 0, dash, 16), Long.parseUnsignedLong(line, dash + 1, space, 16)};
        } catch (NumberFormatException e) {
            return null;
        }
    }
}

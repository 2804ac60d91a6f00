package io.ringway.runtime.mem;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.abort;
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
    void touchedMemoryIsBackedByHugePagesWhereThpAllowsIt() throws IOException {
        String mode = TransparentHugePages.enabled();
        assumeTrue(mode.equals("madvise") || mode.equals("always"), "transparent_hugepage/enabled is " + mode + ", not madvise or always");
        try (AnonymousRegion r = AnonymousRegion.create("touched", 8 * MIB)) {
            MemorySegment s = r.segment();
            // our part: a 2 MiB aligned start and the advice taken (VM_HUGEPAGE, "hg" in VmFlags)
            assertEquals(0, s.address() % AnonymousRegion.ALIGNMENT, "start 0x" + Long.toHexString(s.address()));
            assertTrue(r.hugePagesAdvised(), r.backing());
            String flags = vmFlags(s.address());
            assertTrue(flags != null && List.of(flags.trim().split("\\s+")).contains("hg"), "VmFlags: " + flags);
            for (long off = 0; off < s.byteSize(); off += 4096) {
                s.set(JAVA_BYTE, off, (byte) 1);
            }
            long huge = TransparentHugePages.mappedHugeBytes(s);
            // the kernel's part: a fault gets a huge page only when a free 2 MiB block can be had (defrag decides
            // how hard it tries); on a host whose memory is fragmented it may give none, which is no bug of ours
            assumeTrue(huge != 0, "the kernel backed none of 8 MiB advised and touched with huge pages (THP " + mode
                + ", defrag " + TransparentHugePages.selected(Path.of("/sys/kernel/mm/transparent_hugepage/defrag"))
                + "): memory too fragmented for a free 2 MiB block?");
            assertTrue(huge >= 2 * MIB, "AnonHugePages of the region after touching 8 MiB: " + huge + " bytes (THP " + mode + ")");
        }
    }

    @Test
    void closeMakesTheSegmentInaccessibleAndUnmapsIt() throws IOException {
        AnonymousRegion r = AnonymousRegion.create("closed", 2 * MIB);
        long address = r.segment().address();
        Mapping mapped = mappingAt(address);
        assertNotNull(mapped, "no mapping at 0x" + Long.toHexString(address));
        r.close();
        assertGone(address, address + r.size(), mapped, "the region");
        r.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> r.segment().get(JAVA_BYTE, 0));
    }

    @Test
    void theAlignmentReservationAroundTheRegionIsInaccessibleAndGoesWithIt() throws IOException {
        AnonymousRegion r = AnonymousRegion.create("guarded", 2 * MIB);
        long base = r.reservationStart();
        long start = r.segment().address();
        long end = start + r.size();
        long top = base + r.reservationLength();
        assertEquals(r.size() + AnonymousRegion.ALIGNMENT, r.reservationLength());
        assertTrue(base <= start && end < top, "the region inside its reservation");
        // the guard space: [base, start) and [end, top), PROT_NONE (a neighbouring PROT_NONE mapping may merge with it)
        assertEquals(start - base, protNoneBytesWithin(base, start), "PROT_NONE below the region");
        assertEquals(top - end, protNoneBytesWithin(end, top), "PROT_NONE above the region");
        Mapping below = start > base ? mappingAt(base) : null;
        Mapping above = mappingAt(end);
        Mapping region = mappingAt(start);
        r.close();
        assertGone(start, end, region, "the region");
        if (below != null) {
            assertGone(base, start, below, "the guard space below the region");
        }
        assertGone(end, top, above, "the guard space above the region");
    }

    /**
     * [from, to) is no longer mapped as {@code before} was. Checked first by madvise(2), which fails with ENOMEM
     * when any page of the range is unmapped (right after the close: the window for another mapping to land in
     * the freed range is short); when the whole range is mapped again, /proc/self/smaps tells whether it is still
     * {@code before} (a failure) or another mapping that landed there (then the test cannot tell, and is skipped).
     */
    private static void assertGone(long from, long to, Mapping before, String what) throws IOException {
        try {
            LibC.madvise(MemorySegment.ofAddress(from).reinterpret(to - from), LibC.MADV_NORMAL);
        } catch (LinuxException e) {
            assertEquals(Errno.ENOMEM, e.errno(), e.getMessage());
            return; // a hole: unmapped
        }
        Mapping now = mappingAt(from);
        assertNotEquals(before, now, what + " still mapped after close");
        abort(what + " was unmapped, but another mapping landed in the freed range before the check: " + now);
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

    /** A line of /proc/self/smaps that starts a mapping, with its VmFlags. */
    private record Mapping(long start, long end, String perms, String flags) {
    }

    /** The mapping of /proc/self/smaps that contains {@code address}, null when none does. */
    private static Mapping mappingAt(long address) throws IOException {
        Mapping found = null;
        String perms = null;
        long[] at = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            long[] range = range(line);
            if (range != null) {
                at = range[0] <= address && address < range[1] ? range : null;
                perms = at == null ? null : line.split("\\s+")[1];
            } else if (at != null && line.startsWith("VmFlags:")) {
                found = new Mapping(at[0], at[1], perms, line.substring("VmFlags:".length()).trim());
            }
        }
        return found;
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

package io.ringway.vcpu.guest;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.junit.jupiter.api.Test;

import static io.ringway.vcpu.guest.PageTables.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Page-table building and the GVA→GPA walker, without KVM. */
class PageTablesTest {
    private static final long MEMORY_GPA = 0x10_0000;
    private static final long HIGH = 0xffff_ffff_8000_0000L;

    private final MemorySegment memory = Arena.ofAuto().allocate(1 << 20, 4096);
    private final PageTables tables = new PageTables(memory, MEMORY_GPA, MEMORY_GPA, 64 * PAGE_4K);
    private final PageWalker walker = new PageWalker(memory, MEMORY_GPA);

    @Test
    void aFourKibPageTranslatesWithItsOffset() {
        tables.map4k(0x40_1000, 0x7000, WRITABLE);
        PageWalker.Translation t = walker.translate(tables.root(), 0x40_1abc);
        assertEquals(0x7abc, t.gpa());
        assertEquals(PAGE_4K, t.pageSize());
        assertTrue(t.writable());
        assertFalse(t.user());
        assertEquals(4, tables.tablesUsed(), "PML4, PDPT, PD, PT");
    }

    @Test
    void aTwoMibPageTranslatesWithItsOffset() {
        tables.map2m(0x20_0000, 0x4000_0000L, USER);
        PageWalker.Translation t = walker.translate(tables.root(), 0x3f_fff8);
        assertEquals(0x401f_fff8L, t.gpa());
        assertEquals(PAGE_2M, t.pageSize());
        assertTrue(t.user());
        assertFalse(t.writable());
        assertEquals(3, tables.tablesUsed(), "PML4, PDPT, PD");
    }

    @Test
    void anIdentityMapOfFourGibIsSixTables() {
        tables.identity(0, 4L << 30, PAGE_2M, WRITABLE | USER);
        assertEquals(6, tables.tablesUsed(), "PML4, PDPT, 4 PDs");
        for (long gva : new long[] {0, 0x1234, 0x1f_ffff, 0xd000_0010L, (4L << 30) - 8}) {
            assertEquals(gva, walker.translate(tables.root(), gva).gpa(), "0x" + Long.toHexString(gva));
        }
        assertNull(walker.translate(tables.root(), 4L << 30), "4 GiB is past the map");
    }

    @Test
    void aHighKernelAliasMapsTheSamePages() {
        tables.identity(0, 8 * PAGE_2M, PAGE_2M, WRITABLE);
        tables.map(HIGH, 0, 8 * PAGE_2M, PAGE_2M, WRITABLE);
        assertEquals(0x12_3456, walker.translate(tables.root(), HIGH + 0x12_3456).gpa());
        assertEquals(0x12_3456, walker.translate(tables.root(), 0x12_3456).gpa());
    }

    @Test
    void anUnmappedAddressHasNoTranslation() {
        tables.map4k(0x1000, 0x1000, 0);
        assertNull(walker.translate(tables.root(), 0x2000), "next PTE not present");
        assertNull(walker.translate(tables.root(), 0x8000_0000L), "PDPTE not present");
        assertNull(walker.translate(tables.root(), HIGH), "PML4E not present");
    }

    @Test
    void rightsAreTheAndOfAllLevels() {
        tables.map4k(0x5000, 0x5000, USER); // leaf read-only: intermediate writable does not help
        assertFalse(walker.translate(tables.root(), 0x5000).writable());
    }

    @Test
    void aNonCanonicalAddressIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> walker.translate(tables.root(), 0x0000_8000_0000_0000L));
        assertTrue(e.getMessage().startsWith("gva must be canonical"), e.getMessage());
    }

    @Test
    void aSmallPageInsideAHugeOneIsRefused() {
        tables.map2m(0, 0, WRITABLE);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> tables.map4k(0x1000, 0x1000, WRITABLE));
        assertTrue(e.getMessage().startsWith("cannot map a smaller page inside the huge page"), e.getMessage());
    }

    @Test
    void misalignedPagesAreRefusedWithTheRule() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tables.map2m(0x1000, 0, 0));
        assertEquals("gva and gpa must be aligned to the page size 0x200000, got gva=0x1000 gpa=0x0", e.getMessage());
    }

    @Test
    void aTableOutsideGuestMemoryIsReportedNotRead() {
        // a PML4 entry pointing far outside memory, as a hostile guest could write
        memory.set(java.lang.foreign.ValueLayout.JAVA_LONG, tables.root() - MEMORY_GPA, 0x7000_0000_0000L | PRESENT);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> walker.translate(tables.root(), 0x1000));
        assertTrue(e.getMessage().endsWith("lies outside guest memory"), e.getMessage());
    }

    @Test
    void gdtDescriptorsMatchTheKnownFlatValues() {
        assertEquals(0x00af9b000000ffffL, Gdt.descriptor(0, 0xfffff, 0x9b, 0xa));
        assertEquals(0x00cf93000000ffffL, Gdt.descriptor(0, 0xfffff, 0x93, 0xc));
        assertEquals(0x00affb000000ffffL, Gdt.descriptor(0, 0xfffff, 0xfb, 0xa));
        assertEquals(0x00cff3000000ffffL, Gdt.descriptor(0, 0xfffff, 0xf3, 0xc));
    }

    @Test
    void anIdtGateSplitsTheHandlerAddress() {
        MemorySegment idt = Arena.ofAuto().allocate(256 * Idt.GATE_SIZE, 8);
        Idt.setGate(idt, 0, 14, 0xffff_ffff_8123_4567L, Gdt.KERNEL_CODE, 0, 1, Idt.INTERRUPT_GATE);
        long low = idt.get(java.lang.foreign.ValueLayout.JAVA_LONG, 14 * 16);
        long high = idt.get(java.lang.foreign.ValueLayout.JAVA_LONG, 14 * 16 + 8);
        assertEquals(0x8123_8e01_0008_4567L, low);
        assertEquals(0xffff_ffffL, high);
    }
}

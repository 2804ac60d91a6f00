package io.ringway.vcpu.guest;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Builds x86-64 4-level page tables (PML4, PDPT, PD, PT) inside guest memory, with 4 KiB and
 * 2 MiB pages. Table pages come from an area the caller reserves; {@link #root()} is the value for
 * CR3. Intermediate entries are present, writable and user: the leaf entry decides the access
 * (Intel SDM vol. 3A, 4.6: rights are the AND over all levels).
 */
public final class PageTables {
    /** P: the entry maps something. */
    public static final long PRESENT = 1L;
    /** R/W: writes allowed. */
    public static final long WRITABLE = 1L << 1;
    /** U/S: CPL 3 may access. */
    public static final long USER = 1L << 2;
    /** PS in a PDPTE or PDE: the entry maps a 1 GiB or 2 MiB page. */
    public static final long HUGE = 1L << 7;
    /** G: global page. */
    public static final long GLOBAL = 1L << 8;
    /** XD: no instruction fetch (needs EFER.NXE). */
    public static final long NO_EXECUTE = 1L << 63;
    /** Bits 51:12 of an entry: the physical address of the next table or page. */
    public static final long ADDRESS_MASK = 0x000F_FFFF_FFFF_F000L;
    /** Bytes in a 4 KiB page / table. */
    public static final long PAGE_4K = 1L << 12;
    /** Bytes in a 2 MiB page. */
    public static final long PAGE_2M = 1L << 21;
    /** Bytes in a 1 GiB page. */
    public static final long PAGE_1G = 1L << 30;

    private static final long TABLE_FLAGS = PRESENT | WRITABLE | USER;

    private final MemorySegment memory;
    private final long memoryGpa;
    private final long areaGpa;
    private final long areaEnd;
    private long next;
    private final long root;

    /**
     * @param memory    guest memory, its byte 0 at guest-physical {@code memoryGpa}
     * @param areaGpa   guest-physical start of the area for table pages (4 KiB aligned)
     * @param areaSize  bytes in that area
     */
    public PageTables(MemorySegment memory, long memoryGpa, long areaGpa, long areaSize) {
        if ((areaGpa & (PAGE_4K - 1)) != 0 || areaSize < PAGE_4K) {
            throw new IllegalArgumentException("page-table area must be 4 KiB aligned and hold a page, got gpa=0x"
                + Long.toHexString(areaGpa) + " size=" + areaSize);
        }
        if (areaGpa < memoryGpa || areaGpa + areaSize > memoryGpa + memory.byteSize()) {
            throw new IllegalArgumentException("page-table area lies outside guest memory");
        }
        this.memory = memory;
        this.memoryGpa = memoryGpa;
        this.areaGpa = areaGpa;
        this.areaEnd = areaGpa + areaSize;
        this.next = areaGpa;
        this.root = allocateTable();
    }

    /** Guest-physical address of the PML4: the value for CR3. */
    public long root() {
        return root;
    }

    /** Table pages used so far (the PML4 included). */
    public int tablesUsed() {
        return (int) ((next - areaGpa) / PAGE_4K);
    }

    /** Maps the 4 KiB page at {@code gva} to {@code gpa} with the leaf {@code flags} (PRESENT is added). */
    public PageTables map4k(long gva, long gpa, long flags) {
        checkAligned(gva, gpa, PAGE_4K);
        long pt = table(table(table(root, index(gva, 39)), index(gva, 30)), index(gva, 21));
        setLeaf(pt, index(gva, 12), gpa | flags | PRESENT, gva);
        return this;
    }

    /** Maps the 2 MiB page at {@code gva} to {@code gpa} with the leaf {@code flags} (PRESENT and PS are added). */
    public PageTables map2m(long gva, long gpa, long flags) {
        checkAligned(gva, gpa, PAGE_2M);
        long pd = table(table(root, index(gva, 39)), index(gva, 30));
        setLeaf(pd, index(gva, 21), gpa | flags | PRESENT | HUGE, gva);
        return this;
    }

    /** Maps {@code length} bytes from {@code gva} to {@code gpa} in pages of {@code pageSize} (4 KiB or 2 MiB). */
    public PageTables map(long gva, long gpa, long length, long pageSize, long flags) {
        if (pageSize != PAGE_4K && pageSize != PAGE_2M) {
            throw new IllegalArgumentException("page size must be 4 KiB or 2 MiB, got " + pageSize);
        }
        if (length % pageSize != 0) {
            throw new IllegalArgumentException("length must be a multiple of the page size " + pageSize + ", got " + length);
        }
        for (long off = 0; off < length; off += pageSize) {
            if (pageSize == PAGE_4K) {
                map4k(gva + off, gpa + off, flags);
            } else {
                map2m(gva + off, gpa + off, flags);
            }
        }
        return this;
    }

    /** Identity-maps [{@code gpa}, {@code gpa + length}). */
    public PageTables identity(long gpa, long length, long pageSize, long flags) {
        return map(gpa, gpa, length, pageSize, flags);
    }

    private static int index(long gva, int shift) {
        return (int) ((gva >>> shift) & 0x1ff);
    }

    private static void checkAligned(long gva, long gpa, long size) {
        if ((gva & (size - 1)) != 0 || (gpa & (size - 1)) != 0) {
            throw new IllegalArgumentException("gva and gpa must be aligned to the page size 0x" + Long.toHexString(size)
                + ", got gva=0x" + Long.toHexString(gva) + " gpa=0x" + Long.toHexString(gpa));
        }
        if (!PageWalker.canonical(gva)) {
            throw new IllegalArgumentException("gva must be canonical (bits 63:47 equal), got 0x" + Long.toHexString(gva));
        }
    }

    /** The table the entry {@code index} of {@code table} points to, allocated when absent. */
    private long table(long table, int index) {
        long at = table + index * 8L;
        long entry = read(at);
        if ((entry & PRESENT) == 0) {
            long fresh = allocateTable();
            write(at, fresh | TABLE_FLAGS);
            return fresh;
        }
        if ((entry & HUGE) != 0) {
            throw new IllegalStateException("cannot map a smaller page inside the huge page of entry 0x"
                + Long.toHexString(entry) + " (table 0x" + Long.toHexString(table) + " index " + index + ")");
        }
        return entry & ADDRESS_MASK;
    }

    private void setLeaf(long table, int index, long entry, long gva) {
        long at = table + index * 8L;
        long old = read(at);
        if ((old & PRESENT) != 0 && old != entry) {
            throw new IllegalStateException("gva 0x" + Long.toHexString(gva) + " is already mapped (entry 0x" + Long.toHexString(old) + ")");
        }
        write(at, entry);
    }

    private long allocateTable() {
        if (next + PAGE_4K > areaEnd) {
            throw new IllegalStateException("page-table area full: " + tablesUsed() + " tables of 4 KiB at 0x" + Long.toHexString(areaGpa));
        }
        long table = next;
        next += PAGE_4K;
        memory.asSlice(table - memoryGpa, PAGE_4K).fill((byte) 0);
        return table;
    }

    private long read(long gpa) {
        return memory.get(JAVA_LONG, gpa - memoryGpa);
    }

    private void write(long gpa, long value) {
        memory.set(JAVA_LONG, gpa - memoryGpa, value);
    }
}

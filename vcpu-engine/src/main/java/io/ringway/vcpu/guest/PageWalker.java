package io.ringway.vcpu.guest;

import java.lang.foreign.MemorySegment;

import static io.ringway.vcpu.guest.PageTables.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Translates a guest-virtual address to a guest-physical one by walking the guest's 4-level page
 * tables, as the MMU does (Intel SDM vol. 3A, 4.5): the first of the two translations; EPT/NPT (or
 * PVM's shadow tables) does the second, GPA to host. 4 KiB, 2 MiB and 1 GiB pages.
 *
 * <p>Table entries come from guest memory, which the guest may change at any time: each entry is
 * read once, into a local, and the next table's address is bounds-checked before it is read.
 */
public final class PageWalker {
    /**
     * A successful walk.
     *
     * @param gpa      the guest-physical address of {@code gva}
     * @param pageSize 4 KiB, 2 MiB or 1 GiB
     * @param writable writes allowed at every level
     * @param user     CPL 3 access allowed at every level
     */
    public record Translation(long gva, long gpa, long pageSize, boolean writable, boolean user) {
    }

    private final MemorySegment memory;
    private final long memoryGpa;

    /** A walker over guest memory whose byte 0 is at guest-physical {@code memoryGpa}. */
    public PageWalker(MemorySegment memory, long memoryGpa) {
        this.memory = memory;
        this.memoryGpa = memoryGpa;
    }

    /** Whether {@code gva} is canonical for 4-level paging: bits 63:47 all equal. */
    public static boolean canonical(long gva) {
        return (gva >> 47) == 0 || (gva >> 47) == -1;
    }

    /**
     * Walks from {@code cr3}; returns the translation, or {@code null} when some level is not present
     * (the guest would take a #PF). A table outside guest memory or a non-canonical address throws.
     */
    public Translation translate(long cr3, long gva) {
        if (!canonical(gva)) {
            throw new IllegalArgumentException("gva must be canonical (bits 63:47 equal), got 0x" + Long.toHexString(gva));
        }
        long table = cr3 & ADDRESS_MASK;
        boolean writable = true;
        boolean user = true;
        for (int shift = 39; shift >= 12; shift -= 9) {
            long entry = read(table + ((gva >>> shift) & 0x1ff) * 8L);
            if ((entry & PRESENT) == 0) {
                return null;
            }
            writable &= (entry & WRITABLE) != 0;
            user &= (entry & USER) != 0;
            boolean leaf = shift == 12 || ((shift == 30 || shift == 21) && (entry & HUGE) != 0);
            if (leaf) {
                long size = 1L << shift;
                long base = entry & ADDRESS_MASK & ~(size - 1);
                return new Translation(gva, base | (gva & (size - 1)), size, writable, user);
            }
            table = entry & ADDRESS_MASK;
        }
        throw new AssertionError("unreachable: the 4 KiB level is always a leaf");
    }

    private long read(long gpa) {
        long offset = gpa - memoryGpa;
        if (offset < 0 || offset + 8 > memory.byteSize()) {
            throw new IllegalArgumentException("page table entry at gpa 0x" + Long.toHexString(gpa) + " lies outside guest memory");
        }
        return memory.get(JAVA_LONG, offset);
    }
}

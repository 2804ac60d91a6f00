package io.ringway.vcpu.boot;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/** Synthetic kernel files for the layout tests: a bzImage header as boot.rst lays it out, and small ELF files. */
final class TestImages {
    static final int SETUP_SECTS = 3;
    static final int PM_SIZE = 8192;

    private TestImages() {
    }

    /** A bzImage of protocol 2.15: 3 setup sectors, then {@link #PM_SIZE} bytes of "kernel" (byte i = i * 7). */
    static MemorySegment bzImage() {
        MemorySegment m = MemorySegment.ofArray(new byte[(SETUP_SECTS + 1) * 512 + PM_SIZE]);
        m.set(JAVA_BYTE, 0x1f1, (byte) SETUP_SECTS);
        m.set(JAVA_SHORT_UNALIGNED, 0x1fe, (short) 0xaa55);
        m.set(JAVA_BYTE, 0x200, (byte) 0xeb);
        m.set(JAVA_BYTE, 0x201, (byte) 0x6a); // header ends at 0x26c, as in Linux 6.x
        m.set(JAVA_INT_UNALIGNED, 0x202, 0x53726448);
        m.set(JAVA_SHORT_UNALIGNED, 0x206, (short) 0x020f);
        m.set(JAVA_BYTE, 0x211, (byte) 0x01);
        m.set(JAVA_INT_UNALIGNED, 0x22c, 0x7fffffff);
        m.set(JAVA_INT_UNALIGNED, 0x230, 0x200000);
        m.set(JAVA_BYTE, 0x234, (byte) 1);
        m.set(JAVA_SHORT_UNALIGNED, 0x236, (short) 0x7f);
        m.set(JAVA_INT_UNALIGNED, 0x238, 2047);
        m.set(JAVA_LONG_UNALIGNED, 0x258, 0x1000000L);
        m.set(JAVA_INT_UNALIGNED, 0x260, 0x400000);
        for (int i = 0; i < PM_SIZE; i++) {
            m.set(JAVA_BYTE, (SETUP_SECTS + 1) * 512L + i, (byte) (i * 7));
        }
        return m;
    }

    /**
     * An x86-64 ELF with one PT_LOAD (file bytes 0x1000..0x1100 to paddr 0x200000, memsz 0x2000,
     * vaddr 0xffffffff81000000) and, when {@code pvhEntry} is not negative, a PT_NOTE with a
     * XEN_ELFNOTE_PHYS32_ENTRY note (after an unrelated note) holding it.
     */
    static MemorySegment elf(long entry, long pvhEntry) {
        MemorySegment m = MemorySegment.ofArray(new byte[0x1100]);
        m.set(JAVA_INT_UNALIGNED, 0, 0x464c457f);
        m.set(JAVA_BYTE, 4, (byte) 2);
        m.set(JAVA_BYTE, 5, (byte) 1);
        m.set(JAVA_BYTE, 6, (byte) 1);
        m.set(JAVA_SHORT_UNALIGNED, 16, (short) 2);
        m.set(JAVA_SHORT_UNALIGNED, 18, (short) 62);
        m.set(JAVA_LONG_UNALIGNED, 24, entry);
        m.set(JAVA_LONG_UNALIGNED, 32, 64);
        m.set(JAVA_SHORT_UNALIGNED, 54, (short) 56);
        m.set(JAVA_SHORT_UNALIGNED, 56, (short) (pvhEntry >= 0 ? 2 : 1));
        long ph = 64;
        m.set(JAVA_INT_UNALIGNED, ph, 1);
        m.set(JAVA_LONG_UNALIGNED, ph + 8, 0x1000);
        m.set(JAVA_LONG_UNALIGNED, ph + 16, 0xffffffff81000000L);
        m.set(JAVA_LONG_UNALIGNED, ph + 24, 0x200000);
        m.set(JAVA_LONG_UNALIGNED, ph + 32, 0x100);
        m.set(JAVA_LONG_UNALIGNED, ph + 40, 0x2000);
        if (pvhEntry >= 0) {
            long note = 0x800;
            ph += 56;
            m.set(JAVA_INT_UNALIGNED, ph, 4);
            m.set(JAVA_LONG_UNALIGNED, ph + 8, note);
            // first note: "GNU\0" type 3 with 5 bytes of desc (padded to 8)
            m.set(JAVA_INT_UNALIGNED, note, 4);
            m.set(JAVA_INT_UNALIGNED, note + 4, 5);
            m.set(JAVA_INT_UNALIGNED, note + 8, 3);
            m.set(JAVA_INT_UNALIGNED, note + 12, 0x00554e47);
            long xen = note + 12 + 4 + 8;
            m.set(JAVA_INT_UNALIGNED, xen, 4);
            m.set(JAVA_INT_UNALIGNED, xen + 4, 4);
            m.set(JAVA_INT_UNALIGNED, xen + 8, 18);
            m.set(JAVA_INT_UNALIGNED, xen + 12, 0x006e6558);
            m.set(JAVA_INT_UNALIGNED, xen + 16, (int) pvhEntry);
            m.set(JAVA_LONG_UNALIGNED, ph + 32, xen + 20 - note);
        }
        for (int i = 0; i < 0x100; i++) {
            m.set(JAVA_BYTE, 0x1000 + i, (byte) (0x40 + i));
        }
        return m;
    }
}

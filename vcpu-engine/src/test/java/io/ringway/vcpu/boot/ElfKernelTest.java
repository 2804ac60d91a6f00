package io.ringway.vcpu.boot;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** vmlinux loading: PT_LOAD segments at p_paddr, the PVH note, entry translation, and hostile headers. */
class ElfKernelTest {
    @Test
    void aPhysicalEntryIsKeptAndSegmentsLoadAtTheirPaddrWithBssZeroed() {
        MemorySegment image = TestImages.elf(0x200040, -1);
        ElfKernel k = ElfKernel.parse(image, "vmlinux");
        assertEquals(0x200040, k.entry64());
        assertEquals(-1, k.pvhEntry());
        assertEquals(1, k.segments().size());
        MemorySegment ram = Arena.ofAuto().allocate(4 << 20);
        ram.asSlice(0x200000, 0x2000).fill((byte) 0x77);
        k.load(image, ram, "vmlinux");
        assertEquals((byte) 0x40, ram.get(JAVA_BYTE, 0x200000));
        assertEquals((byte) 0x3f, ram.get(JAVA_BYTE, 0x2000ff));
        assertEquals(0, ram.get(JAVA_BYTE, 0x200100), "bss zeroed");
        assertEquals(0, ram.get(JAVA_BYTE, 0x201fff), "bss zeroed to p_memsz");
    }

    @Test
    void aVirtualEntryIsTranslatedThroughItsSegment() {
        assertEquals(0x200010, ElfKernel.parse(TestImages.elf(0xffffffff81000010L, -1), "v").entry64());
    }

    @Test
    void thePvhNoteIsFoundAfterAnotherNote() {
        assertEquals(0x1000123, ElfKernel.parse(TestImages.elf(0x200000, 0x1000123), "v").pvhEntry());
    }

    @Test
    void aNoteRunningPastItsSegmentIsRejected() {
        MemorySegment image = TestImages.elf(0x200000, 0x1000123);
        image.set(JAVA_INT_UNALIGNED, 0x800 + 4, 0x1000); // descsz of the first note
        assertTrue(assertThrows(BadKernelException.class, () -> ElfKernel.parse(image, "v")).getMessage().contains("runs past its PT_NOTE"));
    }

    @Test
    void aSegmentPastTheEndOfTheFileIsRejected() {
        MemorySegment image = TestImages.elf(0x200000, -1);
        image.set(JAVA_LONG_UNALIGNED, 64 + 32, 0x10_0000); // p_filesz
        BadKernelException e = assertThrows(BadKernelException.class, () -> ElfKernel.parse(image, "v"));
        assertTrue(e.getMessage().contains("runs past the end of the file"), e.getMessage());
    }

    @Test
    void memszBelowFileszIsRejected() {
        MemorySegment image = TestImages.elf(0x200000, -1);
        image.set(JAVA_LONG_UNALIGNED, 64 + 40, 0x10);
        assertTrue(assertThrows(BadKernelException.class, () -> ElfKernel.parse(image, "v")).getMessage().contains("p_memsz"));
    }

    @Test
    void programHeadersPastTheEndAreRejected() {
        MemorySegment image = TestImages.elf(0x200000, -1);
        image.set(JAVA_SHORT_UNALIGNED, 56, (short) 200);
        assertTrue(assertThrows(BadKernelException.class, () -> ElfKernel.parse(image, "v")).getMessage().contains("program headers"));
    }

    @Test
    void a32BitOrForeignElfIsRejected() {
        MemorySegment image = TestImages.elf(0x200000, -1);
        image.set(JAVA_BYTE, 4, (byte) 1);
        assertTrue(assertThrows(BadKernelException.class, () -> ElfKernel.parse(image, "v")).getMessage().contains("64-bit little-endian"));
        MemorySegment arm = TestImages.elf(0x200000, -1);
        arm.set(JAVA_SHORT_UNALIGNED, 18, (short) 183);
        assertTrue(assertThrows(BadKernelException.class, () -> ElfKernel.parse(arm, "v")).getMessage().contains("not x86-64"));
    }

    @Test
    void aSegmentOutsideGuestMemoryIsRejectedAtLoad() {
        MemorySegment image = TestImages.elf(0x200000, -1);
        ElfKernel k = ElfKernel.parse(image, "v");
        MemorySegment small = Arena.ofAuto().allocate(0x201000);
        assertTrue(assertThrows(BadKernelException.class, () -> k.load(image, small, "v")).getMessage().contains("does not fit"));
    }

    @Test
    void hvmStartInfoIsVersion1WithModuleAndMemoryMap() {
        MemorySegment ram = Arena.ofAuto().allocate(64 << 10);
        long used = HvmStartInfo.write(ram, 0x6000, 0x20000, 0xe0000, 0x1f00_0000L, 0x1234, BootLayout.e820(64L << 20));
        assertEquals(56 + 32 + 4 * 24, used);
        assertEquals(0x336ec578, ram.get(JAVA_INT_UNALIGNED, 0x6000));
        assertEquals(1, ram.get(JAVA_INT_UNALIGNED, 0x6004), "version");
        assertEquals(1, ram.get(JAVA_INT_UNALIGNED, 0x600c), "nr_modules");
        assertEquals(0x6038L, ram.get(JAVA_LONG_UNALIGNED, 0x6010), "modlist_paddr right after the 56-byte struct");
        assertEquals(0x20000L, ram.get(JAVA_LONG_UNALIGNED, 0x6018), "cmdline_paddr");
        assertEquals(0xe0000L, ram.get(JAVA_LONG_UNALIGNED, 0x6020), "rsdp_paddr");
        assertEquals(0x6058L, ram.get(JAVA_LONG_UNALIGNED, 0x6028), "memmap_paddr after one 32-byte module entry");
        assertEquals(4, ram.get(JAVA_INT_UNALIGNED, 0x6030), "memmap_entries");
        assertEquals(0x1f00_0000L, ram.get(JAVA_LONG_UNALIGNED, 0x6038));
        assertEquals(0x1234L, ram.get(JAVA_LONG_UNALIGNED, 0x6040));
        assertEquals(0x100000L, ram.get(JAVA_LONG_UNALIGNED, 0x6058 + 3 * 24), "4th map entry: RAM from 1 MiB");
        assertEquals(1, ram.get(JAVA_INT_UNALIGNED, 0x6058 + 3 * 24 + 16), "type RAM");
    }
}

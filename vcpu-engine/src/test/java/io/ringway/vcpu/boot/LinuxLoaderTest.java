package io.ringway.vcpu.boot;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.junit.jupiter.api.Test;

import io.ringway.vcpu.guest.PageWalker;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The whole load of a (synthetic) bzImage and vmlinux into guest memory, without KVM. */
class LinuxLoaderTest {
    private static final long MEMORY = 64L << 20;
    private final MemorySegment ram = Arena.ofAuto().allocate(MEMORY, 4096);

    @Test
    void aBzImageEntersAtLoadPlus0x200WithRsiAtTheZeroPage() {
        MemorySegment initrd = MemorySegment.ofArray(new byte[] {1, 2, 3, 4, 5});
        BootEntry e = LinuxLoader.load(ram, MEMORY, 1, TestImages.bzImage(), "bz", initrd, "initrd", "console=ttyS0");
        assertEquals(BootEntry.Mode.LONG_64, e.mode());
        assertEquals(0x100200, e.rip(), "startup_64 = load address + 0x200");
        assertEquals(BootLayout.ZERO_PAGE, e.bootInfo());
        assertEquals((byte) 0, ram.get(JAVA_BYTE, 0x100000), "first protected-mode byte (i * 7 for i = 0)");
        assertEquals((byte) (100 * 7), ram.get(JAVA_BYTE, 0x100000 + 100), "protected-mode kernel copied from (setup_sects + 1) * 512");
        long z = BootLayout.ZERO_PAGE;
        assertEquals(0x20000, ram.get(JAVA_INT_UNALIGNED, z + 0x228), "cmd_line_ptr");
        assertEquals("console=ttyS0", ram.getString(0x20000));
        long initrdAt = Integer.toUnsignedLong(ram.get(JAVA_INT_UNALIGNED, z + 0x218));
        assertEquals(e.initrd(), initrdAt);
        assertEquals(0, initrdAt & 0xfff, "initrd page-aligned");
        assertTrue(initrdAt + 5 <= MEMORY && initrdAt + 4096 > MEMORY - 4096, "initrd at the top of RAM");
        assertEquals((byte) 5, ram.get(JAVA_BYTE, initrdAt + 4));
        assertEquals(5, ram.get(JAVA_INT_UNALIGNED, z + 0x21c));
        assertEquals(0xe0000L, ram.get(JAVA_LONG_UNALIGNED, z + 0x070), "acpi_rsdp_addr");
        assertEquals(4, ram.get(JAVA_BYTE, z + 0x1e8), "e820 entries");
        PageWalker walker = new PageWalker(ram, 0);
        for (long a : new long[] {0x7000, 0x100200, 0x3ff_f000, 0xfee0_0000L}) {
            assertEquals(a, walker.translate(e.cr3(), a).gpa(), "identity-mapped 0x" + Long.toHexString(a));
        }
        assertEquals(0x00af9b000000ffffL, ram.get(JAVA_LONG, BootLayout.GDT + 0x10), "__BOOT_CS: 64-bit flat code");
        assertEquals(0x00cf93000000ffffL, ram.get(JAVA_LONG, BootLayout.GDT + 0x18), "__BOOT_DS: flat data");
    }

    @Test
    void anInitrdThatDoesNotFitAboveTheKernelIsTooLittleMemory() {
        MemorySegment initrd = MemorySegment.ofArray(new byte[48 << 20]);
        BadKernelException e = assertThrows(BadKernelException.class,
            () -> LinuxLoader.load(ram, MEMORY, 1, TestImages.bzImage(), "bz", initrd, "big.cpio", "x"));
        assertTrue(e.getMessage().startsWith("too little memory: 64 MiB; bz needs up to 0x1400000 and big.cpio"), e.getMessage());
    }

    @Test
    void aCommandLineLongerThanCmdlineSizeIsRejected() {
        String cmd = "x".repeat(2048);
        BadKernelException e = assertThrows(BadKernelException.class,
            () -> LinuxLoader.load(ram, MEMORY, 1, TestImages.bzImage(), "bz", null, null, cmd));
        assertEquals("command line is 2048 bytes, bz takes at most 2047 (cmdline_size)", e.getMessage());
    }

    @Test
    void aKernelWithout64BitEntryIsRejected() {
        MemorySegment image = TestImages.bzImage();
        image.set(JAVA_BYTE, 0x236, (byte) 0x7e);
        BadKernelException e = assertThrows(BadKernelException.class,
            () -> LinuxLoader.load(ram, MEMORY, 1, image, "bz", null, null, ""));
        assertTrue(e.getMessage().contains("XLF_KERNEL_64"), e.getMessage());
    }

    @Test
    void aVmlinuxWithThePvhNoteEntersIn32BitModeWithStartInfo() {
        BootEntry e = LinuxLoader.load(ram, MEMORY, 1, TestImages.elf(0x200000, 0x200080), "vmlinux", null, null, "quiet");
        assertEquals(BootEntry.Mode.PVH_32, e.mode());
        assertEquals(0x200080, e.rip());
        assertEquals(BootLayout.HVM_START_INFO, e.bootInfo());
        assertEquals(0x336ec578, ram.get(JAVA_INT_UNALIGNED, BootLayout.HVM_START_INFO));
        assertEquals((byte) 0x40, ram.get(JAVA_BYTE, 0x200000));
    }

    @Test
    void aVmlinuxWithoutTheNoteEntersAtE_entryInLongModeWithAZeroPage() {
        BootEntry e = LinuxLoader.load(ram, MEMORY, 1, TestImages.elf(0x200000, -1), "vmlinux", null, null, "quiet");
        assertEquals(BootEntry.Mode.LONG_64, e.mode());
        assertEquals(0x200000, e.rip());
        long z = BootLayout.ZERO_PAGE;
        assertEquals(0x53726448, ram.get(JAVA_INT_UNALIGNED, z + 0x202), "a header of our own: HdrS");
        assertEquals(0x20000, ram.get(JAVA_INT_UNALIGNED, z + 0x228));
        assertEquals((byte) 0xff, ram.get(JAVA_BYTE, z + 0x210));
    }
}

package io.ringway.vcpu.boot;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * The real-mode kernel header of a bzImage ({@code struct setup_header}, Linux
 * Documentation/arch/x86/boot.rst, "The real-mode kernel header"), parsed from the file's first
 * sector(s). Offsets are from the start of the file, which are also the offsets of the header
 * inside {@code boot_params} (the header sits at 0x1f1 in both):
 *
 * <pre>
 * 0x1f1 u8  setup_sects        0x218 u32 ramdisk_image      0x236 u16 xloadflags
 * 0x1fe u16 boot_flag 0xAA55   0x21c u32 ramdisk_size       0x238 u32 cmdline_size
 * 0x200 u8  jump (0xEB)        0x224 u16 heap_end_ptr       0x258 u64 pref_address
 * 0x201 u8  jump displacement  0x228 u32 cmd_line_ptr       0x260 u32 init_size
 * 0x202 u32 header "HdrS"      0x22c u32 initrd_addr_max
 * 0x206 u16 version            0x230 u32 kernel_alignment
 * 0x210 u8  type_of_loader     0x234 u8  relocatable_kernel
 * 0x211 u8  loadflags          0x235 u8  min_alignment
 * </pre>
 *
 * The header ends at {@code 0x202 + byte[0x201]} (boot.rst: "the end of the setup header can be
 * calculated as follows: 0x0202 + byte value at offset 0x0201"); {@link #headerEnd} is that
 * offset, and a loader copies exactly [0x1f1, headerEnd) into boot_params.
 *
 * @param setupSects        512-byte sectors of real-mode setup code after the boot sector (0 means 4)
 * @param version           boot protocol version, major in the high byte (0x020f = 2.15)
 * @param loadflags         LOADED_HIGH (bit 0), KASLR_FLAG (1), QUIET (5), KEEP_SEGMENTS (6), CAN_USE_HEAP (7)
 * @param relocatable       relocatable_kernel: may be loaded at any kernel_alignment-aligned address
 * @param kernelAlignment   alignment the kernel wants when relocated
 * @param initrdAddrMax     highest address the initrd may occupy (inclusive)
 * @param cmdlineSize       longest command line, without the terminating NUL
 * @param xloadflags        XLF_KERNEL_64 (bit 0), XLF_CAN_BE_LOADED_ABOVE_4G (1), EFI handovers (2, 3), ...
 * @param prefAddress       preferred load address of the protected-mode kernel
 * @param initSize          bytes the kernel needs from its load address until it has set itself up
 * @param headerEnd         file offset just past the setup header
 */
public record SetupHeader(int setupSects, int version, int loadflags, boolean relocatable, long kernelAlignment,
                          long initrdAddrMax, long cmdlineSize, int xloadflags, long prefAddress, long initSize,
                          int headerEnd) {
    public static final int SETUP_SECTS = 0x1f1;
    public static final int BOOT_FLAG = 0x1fe;
    public static final int JUMP = 0x200;
    public static final int HEADER = 0x202;
    public static final int VERSION = 0x206;
    public static final int TYPE_OF_LOADER = 0x210;
    public static final int LOADFLAGS = 0x211;
    public static final int RAMDISK_IMAGE = 0x218;
    public static final int RAMDISK_SIZE = 0x21c;
    public static final int HEAP_END_PTR = 0x224;
    public static final int CMD_LINE_PTR = 0x228;
    public static final int INITRD_ADDR_MAX = 0x22c;
    public static final int KERNEL_ALIGNMENT = 0x230;
    public static final int RELOCATABLE_KERNEL = 0x234;
    public static final int XLOADFLAGS = 0x236;
    public static final int CMDLINE_SIZE = 0x238;
    public static final int PREF_ADDRESS = 0x258;
    public static final int INIT_SIZE = 0x260;

    /** boot_flag: the boot-sector signature. */
    public static final int BOOT_FLAG_MAGIC = 0xaa55;
    /** "HdrS" as a little-endian u32. */
    public static final int HDRS_MAGIC = 0x5372_6448;
    /** The oldest protocol this loader accepts: 2.06 added cmdline_size (boot.rst). */
    public static final int MIN_VERSION = 0x0206;
    /** Protocol 2.12 added xloadflags, and with it the 64-bit entry point. */
    public static final int VERSION_XLOADFLAGS = 0x020c;
    /** Protocol 2.10 added pref_address and init_size. */
    public static final int VERSION_PREF_ADDRESS = 0x020a;

    /** loadflags bit 0: the protected-mode code is loaded at 0x100000 (a bzImage). */
    public static final int LOADED_HIGH = 0x01;
    /** loadflags bit 7: heap_end_ptr is valid. */
    public static final int CAN_USE_HEAP = 0x80;
    /** xloadflags bit 0: the kernel has the legacy 64-bit entry point at load address + 0x200. */
    public static final int XLF_KERNEL_64 = 0x01;
    /** xloadflags bit 1: kernel, boot_params, command line and ramdisk may lie above 4 GiB. */
    public static final int XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
    /** type_of_loader for a boot loader without an assigned id (boot.rst: 0xFF). */
    public static final int LOADER_UNDEFINED = 0xff;
    /** Offset of the 64-bit entry point from the protected-mode kernel's load address (boot.rst, "64-bit boot protocol"). */
    public static final long ENTRY_64_OFFSET = 0x200;

    /** Smallest file that can hold the header fields read here. */
    private static final int MIN_FILE = INIT_SIZE + 4;

    /**
     * Parses the header of the bzImage {@code image} (the whole file), checking what a loader must:
     * boot flag, "HdrS" magic, protocol version, a bzImage (LOADED_HIGH) and that the protected-mode
     * kernel is present after the setup sectors. {@code name} is used in the error messages.
     */
    public static SetupHeader parse(MemorySegment image, String name) {
        long size = image.byteSize();
        if (size < MIN_FILE) {
            throw new BadKernelException(name + ": not a bzImage: " + size + " bytes is shorter than the setup header (" + MIN_FILE + ")");
        }
        int bootFlag = u16(image, BOOT_FLAG);
        int magic = image.get(JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), HEADER);
        if (magic != HDRS_MAGIC) {
            throw new BadKernelException(name + ": not a bzImage: no \"HdrS\" magic at offset 0x202 (found 0x"
                + Integer.toHexString(magic) + (isElf(image) ? "; this is an ELF file: boot it as a vmlinux" : "") + ")");
        }
        if (bootFlag != BOOT_FLAG_MAGIC) {
            throw new BadKernelException(name + ": not a bzImage: boot_flag at 0x1fe is 0x" + Integer.toHexString(bootFlag) + ", must be 0xaa55");
        }
        int version = u16(image, VERSION);
        if (version < MIN_VERSION) {
            throw new BadKernelException(name + ": boot protocol " + versionString(version) + " is too old, at least "
                + versionString(MIN_VERSION) + " is needed");
        }
        int loadflags = u8(image, LOADFLAGS);
        if ((loadflags & LOADED_HIGH) == 0) {
            throw new BadKernelException(name + ": a zImage (loadflags.LOADED_HIGH clear): only bzImages are supported");
        }
        int setupSects = u8(image, SETUP_SECTS);
        if (setupSects == 0) {
            setupSects = 4; // boot.rst: "If this field is 0, the real value is 4."
        }
        long pmOffset = (setupSects + 1L) * 512;
        if (pmOffset >= size) {
            throw new BadKernelException(name + ": truncated: setup_sects " + setupSects + " puts the protected-mode kernel at "
                + pmOffset + " but the file has " + size + " bytes");
        }
        int headerEnd = JUMP + 2 + u8(image, JUMP + 1);
        if (headerEnd > size || headerEnd < INIT_SIZE + 4 && version >= VERSION_PREF_ADDRESS) {
            throw new BadKernelException(name + ": setup header end 0x" + Integer.toHexString(headerEnd)
                + " (0x202 + byte at 0x201) is inconsistent with protocol " + versionString(version));
        }
        long cmdlineSize = u32(image, CMDLINE_SIZE);
        int xloadflags = version >= VERSION_XLOADFLAGS ? u16(image, XLOADFLAGS) : 0;
        long prefAddress = version >= VERSION_PREF_ADDRESS ? image.get(JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), PREF_ADDRESS) : 0x10_0000L;
        long initSize = version >= VERSION_PREF_ADDRESS ? u32(image, INIT_SIZE) : 0;
        return new SetupHeader(setupSects, version, loadflags, u8(image, RELOCATABLE_KERNEL) != 0,
            u32(image, KERNEL_ALIGNMENT), u32(image, INITRD_ADDR_MAX), cmdlineSize, xloadflags, prefAddress, initSize, headerEnd);
    }

    /** File offset of the protected-mode kernel: after the boot sector and the setup sectors. */
    public long protectedModeOffset() {
        return (setupSects + 1L) * 512;
    }

    /** Whether the kernel has the 64-bit entry point (xloadflags.XLF_KERNEL_64). */
    public boolean has64BitEntry() {
        return (xloadflags & XLF_KERNEL_64) != 0;
    }

    /** "2.15" for 0x020f. */
    public static String versionString(int version) {
        return (version >> 8) + "." + String.format("%02d", version & 0xff);
    }

    static boolean isElf(MemorySegment image) {
        return image.byteSize() >= 4 && image.get(JAVA_BYTE, 0) == 0x7f && image.get(JAVA_BYTE, 1) == 'E'
            && image.get(JAVA_BYTE, 2) == 'L' && image.get(JAVA_BYTE, 3) == 'F';
    }

    private static int u8(MemorySegment m, long at) {
        return Byte.toUnsignedInt(m.get(JAVA_BYTE, at));
    }

    private static int u16(MemorySegment m, long at) {
        return Short.toUnsignedInt(m.get(JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at));
    }

    private static long u32(MemorySegment m, long at) {
        return Integer.toUnsignedLong(m.get(JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at));
    }
}

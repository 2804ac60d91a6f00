package io.ringway.vcpu.boot;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The "zero page", {@code struct boot_params} (arch/x86/include/uapi/asm/bootparam.h; boot.rst,
 * "The zero page"): 4096 bytes that a 64-bit entry receives in RSI. Offsets written here:
 *
 * <pre>
 * 0x070 u64 acpi_rsdp_addr      (protocol 2.14: where the RSDP is, so the kernel need not scan for it)
 * 0x0c0 u32 ext_ramdisk_image   (high 32 bits of ramdisk_image)
 * 0x0c4 u32 ext_ramdisk_size
 * 0x0c8 u32 ext_cmd_line_ptr
 * 0x1e8 u8  e820_entries
 * 0x1ef u8  sentinel            (0: the loader cleared the page, boot_params.h "sentinel")
 * 0x1f1 ... struct setup_header (copied from the bzImage, then the loader's fields set)
 * 0x2d0     e820_table[128]     (struct boot_e820_entry: u64 addr, u64 size, u32 type — 20 bytes, packed)
 * </pre>
 *
 * The loader's fields of the header: type_of_loader (0x210) = 0xff, cmd_line_ptr (0x228),
 * ramdisk_image (0x218), ramdisk_size (0x21c).
 */
public final class BootParams {
    /** Bytes of the zero page. */
    public static final int SIZE = 4096;
    public static final int ACPI_RSDP_ADDR = 0x070;
    public static final int EXT_RAMDISK_IMAGE = 0x0c0;
    public static final int EXT_RAMDISK_SIZE = 0x0c4;
    public static final int EXT_CMD_LINE_PTR = 0x0c8;
    public static final int E820_ENTRIES = 0x1e8;
    public static final int SENTINEL = 0x1ef;
    public static final int HDR = 0x1f1;
    public static final int E820_TABLE = 0x2d0;
    /** E820_MAX_ENTRIES_ZEROPAGE. */
    public static final int E820_MAX = 128;

    private BootParams() {
    }

    /**
     * Fills {@code zeroPage} (4096 bytes, cleared here): the setup header copied from {@code image}
     * as the kernel's own bytes, the loader's fields, the e820 map, and the RSDP address.
     *
     * @param ramdiskAddress 0 with {@code ramdiskSize} 0 when there is no initrd
     * @param rsdpAddress    0 when there are no ACPI tables
     */
    public static void write(MemorySegment zeroPage, MemorySegment image, SetupHeader header, long cmdlineAddress,
                             long ramdiskAddress, long ramdiskSize, List<E820Entry> e820, long rsdpAddress) {
        if (zeroPage.byteSize() < SIZE) {
            throw new IllegalArgumentException("zero page must be " + SIZE + " bytes, got " + zeroPage.byteSize());
        }
        if (e820.isEmpty() || e820.size() > E820_MAX) {
            throw new IllegalArgumentException("e820 map must have 1.." + E820_MAX + " entries, got " + e820.size());
        }
        zeroPage.asSlice(0, SIZE).fill((byte) 0);
        // boot.rst, "Details of header fields": the loader copies the header from the kernel image
        MemorySegment.copy(image, HDR, zeroPage, HDR, header.headerEnd() - HDR);
        zeroPage.set(JAVA_BYTE, SetupHeader.TYPE_OF_LOADER, (byte) SetupHeader.LOADER_UNDEFINED);
        zeroPage.set(JAVA_INT_UNALIGNED, SetupHeader.CMD_LINE_PTR, (int) cmdlineAddress);
        zeroPage.set(JAVA_INT_UNALIGNED, EXT_CMD_LINE_PTR, (int) (cmdlineAddress >>> 32));
        zeroPage.set(JAVA_INT_UNALIGNED, SetupHeader.RAMDISK_IMAGE, (int) ramdiskAddress);
        zeroPage.set(JAVA_INT_UNALIGNED, EXT_RAMDISK_IMAGE, (int) (ramdiskAddress >>> 32));
        zeroPage.set(JAVA_INT_UNALIGNED, SetupHeader.RAMDISK_SIZE, (int) ramdiskSize);
        zeroPage.set(JAVA_INT_UNALIGNED, EXT_RAMDISK_SIZE, (int) (ramdiskSize >>> 32));
        zeroPage.set(JAVA_LONG_UNALIGNED, ACPI_RSDP_ADDR, rsdpAddress);
        writeE820(zeroPage, e820);
    }

    /** Writes e820_entries and e820_table. */
    public static void writeE820(MemorySegment zeroPage, List<E820Entry> e820) {
        zeroPage.set(JAVA_BYTE, E820_ENTRIES, (byte) e820.size());
        for (int i = 0; i < e820.size(); i++) {
            E820Entry e = e820.get(i);
            long at = E820_TABLE + (long) i * E820Entry.SIZE;
            zeroPage.set(JAVA_LONG_UNALIGNED, at, e.address());
            zeroPage.set(JAVA_LONG_UNALIGNED, at + 8, e.size());
            zeroPage.set(JAVA_INT_UNALIGNED, at + 16, e.type());
        }
    }
}

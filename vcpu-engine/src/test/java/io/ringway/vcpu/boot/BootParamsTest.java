package io.ringway.vcpu.boot;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The zero page (bootparam.h struct boot_params) and the e820 map, byte for byte. */
class BootParamsTest {
    private final MemorySegment page = Arena.ofAuto().allocate(BootParams.SIZE);

    @Test
    void theLoaderFieldsSitAtTheirBootRstOffsets() {
        MemorySegment image = TestImages.bzImage();
        page.fill((byte) 0x5a); // write() must clear what was there
        BootParams.write(page, image, SetupHeader.parse(image, "bz"), 0x20000, 0x1ff0_3000L, 0xfd000,
            BootLayout.e820(512L << 20), 0xe0000);
        assertEquals((byte) 0xff, page.get(JAVA_BYTE, 0x210), "type_of_loader");
        assertEquals(0x20000, page.get(JAVA_INT_UNALIGNED, 0x228), "cmd_line_ptr");
        assertEquals(0x1ff0_3000, page.get(JAVA_INT_UNALIGNED, 0x218), "ramdisk_image");
        assertEquals(0xfd000, page.get(JAVA_INT_UNALIGNED, 0x21c), "ramdisk_size");
        assertEquals(0, page.get(JAVA_INT_UNALIGNED, 0x0c0), "ext_ramdisk_image");
        assertEquals(0, page.get(JAVA_INT_UNALIGNED, 0x0c8), "ext_cmd_line_ptr");
        assertEquals(0xe0000L, page.get(JAVA_LONG_UNALIGNED, 0x070), "acpi_rsdp_addr");
        assertEquals(0, page.get(JAVA_BYTE, 0x1ef), "sentinel");
        assertEquals((short) 0xaa55, page.get(JAVA_SHORT_UNALIGNED, 0x1fe), "boot_flag copied");
        assertEquals(0x53726448, page.get(JAVA_INT_UNALIGNED, 0x202), "HdrS copied");
        assertEquals(0x1000000, page.get(JAVA_INT_UNALIGNED, 0x258), "pref_address copied");
        assertEquals(0, page.get(JAVA_INT_UNALIGNED, 0x26c), "nothing copied past the header end");
        assertEquals(0, page.get(JAVA_BYTE, 0x1f0), "nothing before the header");
    }

    @Test
    void aRamdiskAbove4GibGoesToTheExtFields() {
        MemorySegment image = TestImages.bzImage();
        BootParams.write(page, image, SetupHeader.parse(image, "bz"), 0x1_2000_0000L, 0x1_4000_0000L, 0x1000,
            BootLayout.e820(512L << 20), 0);
        assertEquals(0x4000_0000, page.get(JAVA_INT_UNALIGNED, 0x218));
        assertEquals(1, page.get(JAVA_INT_UNALIGNED, 0x0c0));
        assertEquals(0x2000_0000, page.get(JAVA_INT_UNALIGNED, 0x228));
        assertEquals(1, page.get(JAVA_INT_UNALIGNED, 0x0c8));
    }

    @Test
    void e820EntriesArePacked20ByteRecordsFrom0x2d0() {
        BootParams.writeE820(page, List.of(new E820Entry(0, 0x9fc00, E820Entry.RAM), new E820Entry(0x100000, 0x1000, E820Entry.ACPI)));
        assertEquals(2, page.get(JAVA_BYTE, 0x1e8));
        byte[] second = page.asSlice(0x2d0 + 20, 20).toArray(JAVA_BYTE);
        assertArrayEquals(new byte[] {0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0}, second);
        assertEquals(0x9fc00L, page.get(JAVA_LONG_UNALIGNED, 0x2d0 + 8));
    }

    @Test
    void theMapFor512MibHasLowRamTheBiosHoleAndRamFrom1Mib() {
        assertEquals(List.of(new E820Entry(0, 0x9fc00, E820Entry.RAM), new E820Entry(0x9fc00, 0x400, E820Entry.RESERVED),
            new E820Entry(0xe0000, 0x20000, E820Entry.RESERVED), new E820Entry(0x100000, (512L << 20) - 0x100000, E820Entry.RAM)),
            BootLayout.e820(512L << 20));
    }

    @Test
    void memoryPast3GibContinuesAt4Gib() {
        List<E820Entry> map = BootLayout.e820(4L << 30);
        assertEquals(new E820Entry(0x100000, 0xc000_0000L - 0x100000, E820Entry.RAM), map.get(3));
        assertEquals(new E820Entry(1L << 32, 1L << 30, E820Entry.RAM), map.get(4));
    }

    @Test
    void tooLittleOrUnalignedMemoryIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> BootLayout.e820(8L << 20));
        assertThrows(IllegalArgumentException.class, () -> BootLayout.e820((64L << 20) + 1));
    }
}

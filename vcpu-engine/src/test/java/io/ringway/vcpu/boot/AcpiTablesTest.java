package io.ringway.vcpu.boot;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** ACPI 6.5 table layouts: signatures, lengths, pointers, checksums, and the MADT and DSDT bytes. */
class AcpiTablesTest {
    private final MemorySegment ram = Arena.ofAuto().allocate(1 << 20);
    private final AcpiTables.Layout layout = AcpiTables.write(ram, 0xe0000, 2,
        List.of(new AcpiTables.InterruptOverride(9, 9, AcpiTables.INTI_ACTIVE_HIGH_LEVEL)));

    private String ascii(long at, int n) {
        return new String(ram.asSlice(at, n).toArray(JAVA_BYTE), StandardCharsets.US_ASCII);
    }

    private int length(long table) {
        return ram.get(JAVA_INT_UNALIGNED, table + 4);
    }

    @Test
    void rsdpIsVersion2WithBothChecksumsAndPointsAtTheXsdt() {
        assertEquals(0xe0000, layout.rsdp());
        assertEquals("RSD PTR ", ascii(layout.rsdp(), 8));
        assertEquals(2, ram.get(JAVA_BYTE, layout.rsdp() + 15), "revision");
        assertEquals(36, ram.get(JAVA_INT_UNALIGNED, layout.rsdp() + 20), "length");
        assertEquals(layout.xsdt(), ram.get(JAVA_LONG_UNALIGNED, layout.rsdp() + 24));
        assertEquals(0, AcpiTables.sum(ram, layout.rsdp(), 20), "ACPI 1.0 checksum over the first 20 bytes");
        assertEquals(0, AcpiTables.sum(ram, layout.rsdp(), 36), "extended checksum over all 36 bytes");
    }

    @Test
    void everyTableHasItsSignatureLengthAndAZeroSum() {
        long[] tables = {layout.xsdt(), layout.fadt(), layout.madt(), layout.dsdt()};
        String[] signatures = {"XSDT", "FACP", "APIC", "DSDT"};
        int[] lengths = {36 + 16, 276, 36 + 8 + 2 * 8 + 12 + 10, 36 + AcpiTables.dsdtAml().length + AcpiTables.PCI_ROOT_AML.length};
        for (int i = 0; i < tables.length; i++) {
            assertEquals(signatures[i], ascii(tables[i], 4));
            assertEquals(lengths[i], length(tables[i]), signatures[i] + " length");
            assertEquals(0, AcpiTables.sum(ram, tables[i], length(tables[i])), signatures[i] + " checksum");
            assertEquals("RINGWY", ascii(tables[i] + 10, 6), "OEMID");
            assertEquals(0, tables[i] & 15, signatures[i] + " 16-byte aligned");
        }
    }

    @Test
    void xsdtListsFadtAndMadt() {
        assertEquals(layout.fadt(), ram.get(JAVA_LONG_UNALIGNED, layout.xsdt() + 36));
        assertEquals(layout.madt(), ram.get(JAVA_LONG_UNALIGNED, layout.xsdt() + 44));
    }

    @Test
    void fadtIsHardwareReducedWithResetAndSleepRegisters() {
        long f = layout.fadt();
        assertEquals(6, ram.get(JAVA_BYTE, f + 8), "major revision");
        assertEquals(5, ram.get(JAVA_BYTE, f + 131), "minor revision");
        assertEquals((int) layout.dsdt(), ram.get(JAVA_INT_UNALIGNED, f + 40), "DSDT");
        assertEquals(layout.dsdt(), ram.get(JAVA_LONG_UNALIGNED, f + 140), "X_DSDT");
        assertEquals((1 << 20) | (1 << 10) | (1 << 4) | (1 << 5), ram.get(JAVA_INT_UNALIGNED, f + 112), "Flags");
        assertEquals((short) ((1 << 2) | (1 << 5)), ram.get(JAVA_SHORT_UNALIGNED, f + 109), "IAPC_BOOT_ARCH");
        assertArrayEquals(new byte[] {1, 8, 0, 1, (byte) 0xf9, 0x0c, 0, 0, 0, 0, 0, 0}, ram.asSlice(f + 116, 12).toArray(JAVA_BYTE), "RESET_REG");
        assertEquals(6, ram.get(JAVA_BYTE, f + 128), "RESET_VALUE");
        assertArrayEquals(new byte[] {1, 8, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0}, ram.asSlice(f + 244, 12).toArray(JAVA_BYTE), "SLEEP_CONTROL_REG");
        assertArrayEquals(new byte[] {1, 8, 0, 1, 0x01, 0x06, 0, 0, 0, 0, 0, 0}, ram.asSlice(f + 256, 12).toArray(JAVA_BYTE), "SLEEP_STATUS_REG");
        assertEquals("RINGWAY", ascii(f + 268, 7), "hypervisor vendor identity");
    }

    @Test
    void madtHasOneLocalApicPerVcpuTheIoApicAndTheOverride() {
        long m = layout.madt();
        assertEquals((int) 0xfee00000L, ram.get(JAVA_INT_UNALIGNED, m + 36));
        assertEquals(0, ram.get(JAVA_INT_UNALIGNED, m + 40), "flags: no PCAT_COMPAT");
        byte[] entries = ram.asSlice(m + 44, 2 * 8 + 12 + 10).toArray(JAVA_BYTE);
        assertArrayEquals(new byte[] {
            0, 8, 0, 0, 1, 0, 0, 0,                        // local APIC uid 0, id 0, enabled
            0, 8, 1, 1, 1, 0, 0, 0,                        // local APIC uid 1, id 1, enabled
            1, 12, 2, 0, 0, 0, (byte) 0xc0, (byte) 0xfe, 0, 0, 0, 0, // I/O APIC id 2 at 0xfec00000, GSI base 0
            2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0,              // ISA IRQ 9 -> GSI 9, active high, level
        }, entries);
    }

    @Test
    void dsdtCarriesTheS5Package() {
        assertArrayEquals(new byte[] {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x05, 0x0a, 0x05},
            ram.asSlice(layout.dsdt() + 36, 12).toArray(JAVA_BYTE));
    }

    @Test
    void dsdtEndsWithThePciRootBridgeAndItsResources() {
        byte[] table = ram.asSlice(layout.dsdt() + 36, length(layout.dsdt()) - 36).toArray(JAVA_BYTE);
        byte[] pci = java.util.Arrays.copyOfRange(table, table.length - AcpiTables.PCI_ROOT_AML.length, table.length);
        assertArrayEquals(new byte[] {
            0x10, 0x43, 0x08, '\\', '_', 'S', 'B', '_',                  // ScopeOp, PkgLength 0x83 (2 bytes), \_SB_
            0x5b, (byte) 0x82, 0x4a, 0x07, 'P', 'C', 'I', '0',            // DeviceOp, PkgLength 0x7a, PCI0
            0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, (byte) 0xd0, 0x0a, 0x03, // EisaId PNP0A03
            0x08, '_', 'U', 'I', 'D', 0x00,
            0x08, '_', 'B', 'B', 'N', 0x00,
            0x08, '_', 'C', 'R', 'S', 0x11, 0x48, 0x05, 0x0a, 0x54,        // BufferOp, PkgLength 0x58, 84 bytes:
            (byte) 0x88, 0x0d, 0, 0x02, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0,                       // bus 0..0
            0x47, 0x01, (byte) 0xf8, 0x0c, (byte) 0xf8, 0x0c, 0x01, 0x08,                                 // IO 0xcf8, 8
            (byte) 0x88, 0x0d, 0, 0x01, 0x0c, 0x03, 0, 0, 0, 0, (byte) 0xf7, 0x0c, 0, 0, (byte) 0xf8, 0x0c, // IO 0..0xcf7
            (byte) 0x88, 0x0d, 0, 0x01, 0x0c, 0x03, 0, 0, 0, 0x0d, (byte) 0xff, (byte) 0xff, 0, 0, 0, (byte) 0xf3, // IO 0xd00..
            (byte) 0x87, 0x17, 0, 0, 0x0c, 0x01, 0, 0, 0, 0, 0, 0, 0, (byte) 0xc0,                        // memory
            (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xdf, 0, 0, 0, 0, 0, 0, 0, 0x20,
            0x79, 0x00}, pci, "Scope (\\_SB) { Device (PCI0) { _HID PNP0A03, _UID 0, _BBN 0, _CRS } }");
    }

    @Test
    void amlPackageLengthsUseOneByteUpTo63AndTwoBytesAbove() {
        assertArrayEquals(new byte[] {0x3f}, AcpiTables.pkgLength(62));
        assertArrayEquals(new byte[] {0x41, 0x04}, AcpiTables.pkgLength(63), "65 in all: 0x40 | 1, 65 >> 4");
    }

    @Test
    void dsdtDeclaresCom1WithConsistentPackageLengthsAndResources() {
        byte[] table = ram.asSlice(layout.dsdt() + 36, length(layout.dsdt()) - 36).toArray(JAVA_BYTE);
        byte[] aml = java.util.Arrays.copyOf(table, table.length - AcpiTables.PCI_ROOT_AML.length); // the PCI0 scope follows
        int scope = 12;
        assertEquals(0x10, aml[scope], "ScopeOp");
        assertEquals(aml.length - scope - 1, aml[scope + 1], "the scope's one-byte PkgLength runs to the end of the table");
        assertEquals("\\_SB_", new String(aml, scope + 2, 5, StandardCharsets.US_ASCII));
        int device = scope + 7;
        assertEquals(0x5b, aml[device]);
        assertEquals((byte) 0x82, aml[device + 1], "ExtOpPrefix DeviceOp");
        assertEquals(aml.length - device - 2, aml[device + 2], "the device's PkgLength runs to the end too");
        assertEquals("COM1", new String(aml, device + 3, 4, StandardCharsets.US_ASCII));
        // EisaId: three 5-bit letters (A = 1) big-endian in the first two bytes, then the product id
        int vendor = (aml[device + 13] & 0xff) << 8 | aml[device + 14] & 0xff;
        String id = "" + (char) ('@' + (vendor >> 10 & 31)) + (char) ('@' + (vendor >> 5 & 31)) + (char) ('@' + (vendor & 31))
            + String.format("%02X%02X", aml[device + 15], aml[device + 16]);
        assertEquals("_HID", new String(aml, device + 8, 4, StandardCharsets.US_ASCII));
        assertEquals("PNP0501", id);
        int crs = device + 7 + 10 + 6;
        assertEquals("_CRS", new String(aml, crs + 1, 4, StandardCharsets.US_ASCII));
        assertEquals(0x11, aml[crs + 5], "BufferOp");
        assertEquals(aml.length - crs - 6, aml[crs + 6], "the buffer's PkgLength");
        assertEquals(aml.length - crs - 9, aml[crs + 8], "BufferSize = the resource bytes that follow");
        int res = crs + 9;
        assertArrayEquals(new byte[] {0x47, 1, (byte) 0xf8, 3, (byte) 0xf8, 3, 0, 8}, java.util.Arrays.copyOfRange(aml, res, res + 8),
            "I/O descriptor: decode16, min = max = 0x3f8, 8 ports");
        assertArrayEquals(new byte[] {0x22, 0x10, 0}, java.util.Arrays.copyOfRange(aml, res + 8, res + 11), "IRQ mask: bit 4");
        assertArrayEquals(new byte[] {0x79, 0}, java.util.Arrays.copyOfRange(aml, res + 11, res + 13), "end tag");
        assertEquals(aml.length, res + 13);
    }

    @Test
    void tablesEndInsideTheBiosArea() {
        assertEquals(layout.dsdt() + 36 + AcpiTables.dsdtAml().length + AcpiTables.PCI_ROOT_AML.length, layout.end());
        assertEquals(true, layout.end() <= 0x100000);
    }

    @Test
    void aVcpuCountBeyond8BitApicIdsIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.write(ram, 0xe0000, 0, List.of()));
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.write(ram, 0xe0000, 255, List.of()));
    }
}

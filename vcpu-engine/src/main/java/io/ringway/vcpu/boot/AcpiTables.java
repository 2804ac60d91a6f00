package io.ringway.vcpu.boot;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * The ACPI tables a Linux guest needs without a BIOS (ACPI 6.5): RSDP 2.0 → XSDT → FADT (hardware-reduced,
 * with a DSDT), MADT. Layouts, each table starting with the 36-byte system description header (5.2.6:
 * signature, length, revision, checksum, OEMID, OEM table id, OEM revision, creator id, creator revision):
 *
 * <pre>
 * RSDP (5.2.5.3, 36 B):   0 "RSD PTR ", 8 checksum (bytes 0..19), 9 OEMID[6], 15 revision 2, 16 u32 RsdtAddress (0),
 *                         20 u32 length 36, 24 u64 XsdtAddress, 32 extended checksum (all 36 bytes), 33 reserved[3]
 * XSDT (5.2.8):           header + u64 address of each table
 * FADT (5.2.9, 276 B, revision 6.5): 40 u32 DSDT, 109 u16 IAPC_BOOT_ARCH, 112 u32 Flags, 116 GAS RESET_REG,
 *                         128 u8 RESET_VALUE, 131 u8 minor version, 140 u64 X_DSDT, 244 GAS SLEEP_CONTROL_REG,
 *                         256 GAS SLEEP_STATUS_REG, 268 u64 hypervisor vendor identity
 * GAS (5.2.3.2, 12 B):    0 address space (1 = system I/O), 1 bit width, 2 bit offset, 3 access size (1 = byte), 4 u64 address
 * MADT (5.2.12):          36 u32 local APIC address, 40 u32 flags, then entries:
 *                           type 0 processor local APIC (8 B): uid, APIC id, u32 flags (1 = enabled)
 *                           type 1 I/O APIC (12 B): id, reserved, u32 address, u32 GSI base
 *                           type 2 interrupt source override (10 B): bus 0 (ISA), source IRQ, u32 GSI, u16 MPS INTI flags
 * DSDT (5.2.11.1):        header + AML: Name (_S5, Package () { 5, 5 }) and COM1 (PNP0501) under \_SB,
 *                         then the PCI root bridge PCI0 (PNP0A03) in a second Scope (\_SB)
 * </pre>
 *
 * The FADT is hardware-reduced (Flags bit 20, 4.1): no PM1 blocks, no SCI; power-off goes through the
 * sleep control register (4.8.3.7: write SLP_TYPx &lt;&lt; 2 | SLP_EN) and reset through RESET_REG
 * (0xCF9, value 6).
 */
public final class AcpiTables {
    public static final int HEADER_SIZE = 36;
    public static final int RSDP_SIZE = 36;
    public static final int FADT_SIZE = 276;
    public static final int FADT_REVISION = 6;
    public static final int FADT_MINOR_REVISION = 5;
    public static final int MADT_REVISION = 5;
    public static final int DSDT_REVISION = 2;
    public static final int XSDT_REVISION = 1;

    public static final int FADT_DSDT = 40;
    public static final int FADT_IAPC_BOOT_ARCH = 109;
    public static final int FADT_FLAGS = 112;
    public static final int FADT_RESET_REG = 116;
    public static final int FADT_RESET_VALUE = 128;
    public static final int FADT_MINOR_VERSION = 131;
    public static final int FADT_X_DSDT = 140;
    public static final int FADT_SLEEP_CONTROL_REG = 244;
    public static final int FADT_SLEEP_STATUS_REG = 256;
    public static final int FADT_HYPERVISOR_VENDOR = 268;

    /** FADT Flags: the power button is a control-method device (or absent). */
    public static final int FADT_PWR_BUTTON = 1 << 4;
    /** FADT Flags: the sleep button is a control-method device (or absent). */
    public static final int FADT_SLP_BUTTON = 1 << 5;
    /** FADT Flags: RESET_REG is supported. */
    public static final int FADT_RESET_REG_SUP = 1 << 10;
    /** FADT Flags: ACPI hardware-reduced: no fixed hardware (PM timer, PM1 blocks, SCI). */
    public static final int FADT_HW_REDUCED_ACPI = 1 << 20;
    /** IAPC_BOOT_ARCH: VGA not present (5.2.9.3). */
    public static final int IAPC_VGA_NOT_PRESENT = 1 << 2;
    /** IAPC_BOOT_ARCH: no CMOS RTC at 0x70/0x71. */
    public static final int IAPC_CMOS_RTC_NOT_PRESENT = 1 << 5;

    public static final int MADT_LOCAL_APIC = 0;
    public static final int MADT_IO_APIC = 1;
    public static final int MADT_INTERRUPT_OVERRIDE = 2;
    /** MPS INTI flags: active high (bits 1:0 = 01), level-triggered (bits 3:2 = 11). */
    public static final int INTI_ACTIVE_HIGH_LEVEL = 0x000d;

    public static final long LOCAL_APIC_ADDRESS = 0xfee0_0000L;
    public static final long IO_APIC_ADDRESS = 0xfec0_0000L;
    /** Port of the sleep control register (a byte; the power-off device decodes it). */
    public static final int SLEEP_CONTROL_PORT = 0x600;
    /** Port of the sleep status register. */
    public static final int SLEEP_STATUS_PORT = 0x601;
    /** The reset control register of PIIX/ICH chipsets. */
    public static final int RESET_PORT = 0xcf9;
    /** RESET_VALUE: SYS_RST | RST_CPU. */
    public static final int RESET_VALUE = 0x06;
    /** The SLP_TYP of S5 that {@code _S5} announces and the power-off device recognises. */
    public static final int S5_SLEEP_TYPE = 5;

    static final byte[] OEM_ID = "RINGWY".getBytes(StandardCharsets.US_ASCII);
    static final byte[] OEM_TABLE_ID = "RINGWAY ".getBytes(StandardCharsets.US_ASCII);
    static final byte[] CREATOR_ID = "RGWY".getBytes(StandardCharsets.US_ASCII);

    /**
     * An interrupt source override (MADT type 2) for an ISA IRQ.
     *
     * @param source the ISA IRQ
     * @param gsi    the global system interrupt it arrives on
     * @param flags  MPS INTI flags (polarity bits 1:0, trigger mode bits 3:2)
     */
    public record InterruptOverride(int source, int gsi, int flags) {
    }

    /**
     * Where the tables went.
     *
     * @param rsdp address of the RSDP (for boot_params.acpi_rsdp_addr)
     * @param end  first byte after the last table
     */
    public record Layout(long rsdp, long xsdt, long fadt, long madt, long dsdt, long end) {
    }

    private AcpiTables() {
    }

    /**
     * Writes the tables from {@code base} (16-byte aligned) in {@code ram} (guest-physical 0 at byte 0),
     * with one enabled local APIC per vCPU (APIC ids 0..cpus-1), one I/O APIC with id {@code cpus} at
     * {@link #IO_APIC_ADDRESS} and the given overrides. Returns the layout.
     */
    public static Layout write(MemorySegment ram, long base, int cpus, List<InterruptOverride> overrides) {
        if (cpus < 1 || cpus > 254) {
            throw new IllegalArgumentException("vCPU count must be 1..254 for 8-bit APIC ids, got " + cpus);
        }
        if ((base & 15) != 0) {
            throw new IllegalArgumentException("ACPI tables base must be 16-byte aligned, got 0x" + Long.toHexString(base));
        }
        long rsdp = base;
        long xsdt = align(rsdp + RSDP_SIZE);
        int tables = 2;
        long fadt = align(xsdt + HEADER_SIZE + 8L * tables);
        long madt = align(fadt + FADT_SIZE);
        int madtSize = HEADER_SIZE + 8 + 8 * cpus + 12 + 10 * overrides.size();
        long dsdt = align(madt + madtSize);
        byte[] aml = dsdtAml();
        aml = java.util.Arrays.copyOf(aml, aml.length + PCI_ROOT_AML.length);
        System.arraycopy(PCI_ROOT_AML, 0, aml, aml.length - PCI_ROOT_AML.length, PCI_ROOT_AML.length);
        long end = dsdt + HEADER_SIZE + aml.length;
        if (end > ram.byteSize()) {
            throw new IllegalArgumentException("ACPI tables end at 0x" + Long.toHexString(end) + ", past guest memory");
        }
        ram.asSlice(base, end - base).fill((byte) 0);

        // DSDT
        header(ram, dsdt, "DSDT", HEADER_SIZE + aml.length, DSDT_REVISION);
        MemorySegment.copy(MemorySegment.ofArray(aml), 0, ram, dsdt + HEADER_SIZE, aml.length);
        checksum(ram, dsdt, HEADER_SIZE + aml.length, 9);

        // FADT
        header(ram, fadt, "FACP", FADT_SIZE, FADT_REVISION);
        ram.set(JAVA_INT_UNALIGNED, fadt + FADT_DSDT, (int) dsdt);
        ram.set(JAVA_SHORT_UNALIGNED, fadt + FADT_IAPC_BOOT_ARCH, (short) (IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT));
        ram.set(JAVA_INT_UNALIGNED, fadt + FADT_FLAGS, FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP | FADT_PWR_BUTTON | FADT_SLP_BUTTON);
        gas(ram, fadt + FADT_RESET_REG, RESET_PORT);
        ram.set(JAVA_BYTE, fadt + FADT_RESET_VALUE, (byte) RESET_VALUE);
        ram.set(JAVA_BYTE, fadt + FADT_MINOR_VERSION, (byte) FADT_MINOR_REVISION);
        ram.set(JAVA_LONG_UNALIGNED, fadt + FADT_X_DSDT, dsdt);
        gas(ram, fadt + FADT_SLEEP_CONTROL_REG, SLEEP_CONTROL_PORT);
        gas(ram, fadt + FADT_SLEEP_STATUS_REG, SLEEP_STATUS_PORT);
        MemorySegment.copy(MemorySegment.ofArray("RINGWAY\0".getBytes(StandardCharsets.US_ASCII)), 0, ram, fadt + FADT_HYPERVISOR_VENDOR, 8);
        checksum(ram, fadt, FADT_SIZE, 9);

        // MADT
        header(ram, madt, "APIC", madtSize, MADT_REVISION);
        ram.set(JAVA_INT_UNALIGNED, madt + 36, (int) LOCAL_APIC_ADDRESS);
        ram.set(JAVA_INT_UNALIGNED, madt + 40, 0); // no PCAT_COMPAT: hardware-reduced, the guest uses no 8259
        long at = madt + 44;
        for (int cpu = 0; cpu < cpus; cpu++) {
            ram.set(JAVA_BYTE, at, (byte) MADT_LOCAL_APIC);
            ram.set(JAVA_BYTE, at + 1, (byte) 8);
            ram.set(JAVA_BYTE, at + 2, (byte) cpu);
            ram.set(JAVA_BYTE, at + 3, (byte) cpu);
            ram.set(JAVA_INT_UNALIGNED, at + 4, 1);
            at += 8;
        }
        ram.set(JAVA_BYTE, at, (byte) MADT_IO_APIC);
        ram.set(JAVA_BYTE, at + 1, (byte) 12);
        ram.set(JAVA_BYTE, at + 2, (byte) cpus);
        ram.set(JAVA_INT_UNALIGNED, at + 4, (int) IO_APIC_ADDRESS);
        ram.set(JAVA_INT_UNALIGNED, at + 8, 0);
        at += 12;
        for (InterruptOverride o : overrides) {
            ram.set(JAVA_BYTE, at, (byte) MADT_INTERRUPT_OVERRIDE);
            ram.set(JAVA_BYTE, at + 1, (byte) 10);
            ram.set(JAVA_BYTE, at + 2, (byte) 0);
            ram.set(JAVA_BYTE, at + 3, (byte) o.source());
            ram.set(JAVA_INT_UNALIGNED, at + 4, o.gsi());
            ram.set(JAVA_SHORT_UNALIGNED, at + 8, (short) o.flags());
            at += 10;
        }
        checksum(ram, madt, madtSize, 9);

        // XSDT
        int xsdtSize = HEADER_SIZE + 8 * tables;
        header(ram, xsdt, "XSDT", xsdtSize, XSDT_REVISION);
        ram.set(JAVA_LONG_UNALIGNED, xsdt + HEADER_SIZE, fadt);
        ram.set(JAVA_LONG_UNALIGNED, xsdt + HEADER_SIZE + 8, madt);
        checksum(ram, xsdt, xsdtSize, 9);

        // RSDP
        ascii(ram, rsdp, "RSD PTR ");
        MemorySegment.copy(MemorySegment.ofArray(OEM_ID), 0, ram, rsdp + 9, 6);
        ram.set(JAVA_BYTE, rsdp + 15, (byte) 2);
        ram.set(JAVA_INT_UNALIGNED, rsdp + 16, 0);
        ram.set(JAVA_INT_UNALIGNED, rsdp + 20, RSDP_SIZE);
        ram.set(JAVA_LONG_UNALIGNED, rsdp + 24, xsdt);
        checksum(ram, rsdp, 20, 8);
        checksum(ram, rsdp, RSDP_SIZE, 32);
        return new Layout(rsdp, xsdt, fadt, madt, dsdt, end);
    }

    /**
     * The DSDT's AML (ACPI 6.5, 20.2):
     * <pre>
     * Name (_S5, Package () { 5, 5 })         // SLP_TYPa/b of S5, read before writing the sleep control register
     * Scope (\_SB) {
     *   Device (COM1) {                        // so that Linux maps ISA IRQ 4: with a hardware-reduced FADT it
     *     Name (_HID, EisaId ("PNP0501"))      // has no legacy PIC and no identity ISA IRQ mappings, and the
     *     Name (_UID, Zero)                    // legacy 0x3f8/IRQ 4 port cannot get its interrupt; 8250_pnp
     *     Name (_CRS, ResourceTemplate () {    // takes the port over with the GSI from _CRS
     *       IO (Decode16, 0x3F8, 0x3F8, 0, 8)
     *       IRQNoFlags () { 4 }
     *     })
     *   }
     * }
     * </pre>
     */
    static byte[] dsdtAml() {
        return new byte[] {
            0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, S5_SLEEP_TYPE, 0x0a, S5_SLEEP_TYPE,
            0x10, 0x33, '\\', '_', 'S', 'B', '_',                            // ScopeOp, PkgLength 51, \_SB_
            0x5b, (byte) 0x82, 0x2b, 'C', 'O', 'M', '1',                         // DeviceOp, PkgLength 43, COM1
            0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, (byte) 0xd0, 0x05, 0x01,         // EisaId PNP0501 as a DWordConst
            0x08, '_', 'U', 'I', 'D', 0x00,                                      // Zero
            0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d,                    // BufferOp, PkgLength 16, 13 bytes:
            0x47, 0x01, (byte) 0xf8, 0x03, (byte) 0xf8, 0x03, 0x00, 0x08,          //   I/O port descriptor (6.4.2.5)
            0x22, 0x10, 0x00,                                                    //   IRQ descriptor, mask bit 4 (6.4.2.1)
            0x79, 0x00,                                                          //   end tag (6.4.2.9)
        };
    }

    /** Guest-physical window the PCI root bridge decodes for BARs: the first 512 MiB of the MMIO hole. */
    public static final long PCI_MMIO_START = 0xc000_0000L;
    public static final long PCI_MMIO_SIZE = 0x2000_0000L;
    /** The DSDT's second part, {@link #pciRootAml()}. */
    static final byte[] PCI_ROOT_AML = pciRootAml();

    /**
     * The PCI root bridge, so that Linux's ACPI PCI code scans bus 0 through configuration mechanism #1
     * (with ACPI on, Linux enumerates PCI only under a PNP0A03 device; ACPI 6.5, 6.4 resource descriptors):
     * <pre>
     * Scope (\_SB) {
     *   Device (PCI0) {
     *     Name (_HID, EisaId ("PNP0A03"))
     *     Name (_UID, Zero)
     *     Name (_BBN, Zero)                     // base bus number
     *     Name (_CRS, ResourceTemplate () {
     *       WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0, 0, 1)
     *       IO (Decode16, 0x0CF8, 0x0CF8, 1, 8)   // the configuration ports themselves
     *       WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0x0000, 0x0CF7, 0, 0x0CF8)
     *       WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0x0D00, 0xFFFF, 0, 0xF300)
     *       DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
     *                    0, 0xC0000000, 0xDFFFFFFF, 0, 0x20000000)
     *     })
     *   }
     * }
     * </pre>
     * No _PRT yet: functions interrupt through MSI-X.
     */
    static byte[] pciRootAml() {
        java.io.ByteArrayOutputStream crs = new java.io.ByteArrayOutputStream();
        crs.writeBytes(wordAddress(2, 0, 0, 0, 1)); // bus numbers 0..0
        crs.writeBytes(new byte[] {0x47, 0x01, (byte) 0xf8, 0x0c, (byte) 0xf8, 0x0c, 0x01, 0x08});
        crs.writeBytes(wordAddress(1, 0x03, 0x0000, 0x0cf7, 0x0cf8));
        crs.writeBytes(wordAddress(1, 0x03, 0x0d00, 0xffff, 0xf300));
        crs.writeBytes(dwordMemory(PCI_MMIO_START, PCI_MMIO_START + PCI_MMIO_SIZE - 1, PCI_MMIO_SIZE));
        crs.writeBytes(new byte[] {0x79, 0x00});
        byte[] resources = crs.toByteArray();

        java.io.ByteArrayOutputStream dev = new java.io.ByteArrayOutputStream();
        dev.writeBytes(new byte[] {'P', 'C', 'I', '0'});
        dev.writeBytes(new byte[] {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, (byte) 0xd0, 0x0a, 0x03}); // EisaId PNP0A03
        dev.writeBytes(new byte[] {0x08, '_', 'U', 'I', 'D', 0x00});
        dev.writeBytes(new byte[] {0x08, '_', 'B', 'B', 'N', 0x00});
        byte[] buffer = concat(new byte[] {0x0a, (byte) resources.length}, resources); // BufferSize as a ByteConst
        dev.writeBytes(concat(new byte[] {0x08, '_', 'C', 'R', 'S', 0x11}, concat(pkgLength(buffer.length), buffer)));
        byte[] device = dev.toByteArray();
        byte[] deviceOp = concat(new byte[] {0x5b, (byte) 0x82}, concat(pkgLength(device.length), device));
        byte[] scope = concat(new byte[] {'\\', '_', 'S', 'B', '_'}, deviceOp);
        return concat(new byte[] {0x10}, concat(pkgLength(scope.length), scope));
    }

    /** Word Address Space Descriptor (6.4.3.5.3): producer, MinFixed, MaxFixed, positive decode. */
    private static byte[] wordAddress(int type, int typeFlags, int min, int max, int length) {
        return new byte[] {(byte) 0x88, 0x0d, 0x00, (byte) type, 0x0c, (byte) typeFlags, 0, 0,
            (byte) min, (byte) (min >> 8), (byte) max, (byte) (max >> 8), 0, 0, (byte) length, (byte) (length >> 8)};
    }

    /** DWord Address Space Descriptor (6.4.3.5.2) for memory: producer, MinFixed, MaxFixed, non-cacheable, read-write. */
    private static byte[] dwordMemory(long min, long max, long length) {
        byte[] b = new byte[26];
        b[0] = (byte) 0x87;
        b[1] = 0x17;
        b[3] = 0; // memory range
        b[4] = 0x0c;
        b[5] = 0x01; // _RW read-write, _MEM non-cacheable
        for (int i = 0; i < 4; i++) {
            b[10 + i] = (byte) (min >>> (8 * i));
            b[14 + i] = (byte) (max >>> (8 * i));
            b[22 + i] = (byte) (length >>> (8 * i));
        }
        return b;
    }

    /** AML PkgLength (20.2.4) for {@code content} bytes that follow it: 1 byte up to 63 in all, else 2 (up to 4095). */
    static byte[] pkgLength(int content) {
        if (content + 1 <= 63) {
            return new byte[] {(byte) (content + 1)};
        }
        int total = content + 2;
        if (total > 0xfff) {
            throw new IllegalArgumentException("AML package of " + content + " bytes needs a 3-byte PkgLength");
        }
        return new byte[] {(byte) (0x40 | (total & 0x0f)), (byte) (total >> 4)};
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Sum of {@code length} bytes at {@code at}, mod 256 (0 for a table with a correct checksum). */
    public static int sum(MemorySegment ram, long at, long length) {
        int s = 0;
        for (long i = 0; i < length; i++) {
            s += ram.get(JAVA_BYTE, at + i);
        }
        return s & 0xff;
    }

    private static void header(MemorySegment ram, long at, String signature, int length, int revision) {
        ascii(ram, at, signature);
        ram.set(JAVA_INT_UNALIGNED, at + 4, length);
        ram.set(JAVA_BYTE, at + 8, (byte) revision);
        MemorySegment.copy(MemorySegment.ofArray(OEM_ID), 0, ram, at + 10, 6);
        MemorySegment.copy(MemorySegment.ofArray(OEM_TABLE_ID), 0, ram, at + 16, 8);
        ram.set(JAVA_INT_UNALIGNED, at + 24, 1);
        MemorySegment.copy(MemorySegment.ofArray(CREATOR_ID), 0, ram, at + 28, 4);
        ram.set(JAVA_INT_UNALIGNED, at + 32, 1);
    }

    /** A system-I/O Generic Address Structure of one byte at {@code port}. */
    private static void gas(MemorySegment ram, long at, int port) {
        ram.set(JAVA_BYTE, at, (byte) 1);
        ram.set(JAVA_BYTE, at + 1, (byte) 8);
        ram.set(JAVA_BYTE, at + 2, (byte) 0);
        ram.set(JAVA_BYTE, at + 3, (byte) 1);
        ram.set(JAVA_LONG_UNALIGNED, at + 4, port);
    }

    private static void checksum(MemorySegment ram, long at, long length, long checksumOffset) {
        ram.set(JAVA_BYTE, at + checksumOffset, (byte) 0);
        ram.set(JAVA_BYTE, at + checksumOffset, (byte) -sum(ram, at, length));
    }

    private static void ascii(MemorySegment ram, long at, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, ram, at, b.length);
    }

    private static long align(long v) {
        return (v + 15) & ~15L;
    }
}

package io.ringway.vcpu.boot;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;

import io.ringway.vcpu.guest.Gdt;
import io.ringway.vcpu.guest.PageTables;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Puts a Linux kernel, its initrd, command line and boot data into guest memory (no KVM involved):
 * a bzImage through the 64-bit boot protocol (Documentation/arch/x86/boot.rst), or an uncompressed
 * vmlinux ELF (PVH entry when its note is present, else its 64-bit entry). Everything it writes lies
 * below the MMIO hole, in {@code lowRam} (guest-physical 0 at byte 0); the layout is {@link BootLayout}.
 */
public final class LinuxLoader {
    /** ISA IRQ overrides put in the MADT: IRQ 9 (the SCI's line by convention) level-triggered, active high. */
    public static final List<AcpiTables.InterruptOverride> OVERRIDES =
        List.of(new AcpiTables.InterruptOverride(9, 9, AcpiTables.INTI_ACTIVE_HIGH_LEVEL));
    /** The 64-bit code and data selectors boot.rst names: __BOOT_CS and __BOOT_DS. */
    public static final int BOOT_CS = 0x10;
    public static final int BOOT_DS = 0x18;
    /** A 32-bit flat code selector for the PVH entry. */
    public static final int BOOT_CS32 = 0x08;
    /** A 64-bit TSS (KVM wants a usable TR), base 0. */
    public static final int BOOT_TSS = 0x20;
    /** Bytes of the boot GDT. */
    public static final int GDT_SIZE = 6 * 8;

    private LinuxLoader() {
    }

    /**
     * Loads {@code kernel} (a bzImage or a vmlinux ELF) and the rest for a guest of {@code memory}
     * bytes and {@code cpus} vCPUs. {@code initrd} may be null. Errors name the file and the rule.
     */
    public static BootEntry load(MemorySegment lowRam, long memory, int cpus, MemorySegment kernel, String kernelName,
                                 MemorySegment initrd, String initrdName, String cmdline) {
        List<E820Entry> e820 = BootLayout.e820(memory);
        long low = BootLayout.lowRam(memory);
        if (lowRam.byteSize() < low) {
            throw new IllegalArgumentException("low RAM segment has " + lowRam.byteSize() + " bytes, the layout needs " + low);
        }
        byte[] cmd = cmdline.getBytes(StandardCharsets.US_ASCII);
        if (cmd.length + 1 > BootLayout.CMDLINE_MAX) {
            throw new BadKernelException("command line is " + cmd.length + " bytes, at most " + (BootLayout.CMDLINE_MAX - 1) + " fit");
        }
        for (byte b : cmd) {
            if (b == 0) {
                throw new BadKernelException("command line contains a NUL byte");
            }
        }
        lowRam.asSlice(BootLayout.CMDLINE, cmd.length + 1).fill((byte) 0);
        MemorySegment.copy(MemorySegment.ofArray(cmd), 0, lowRam, BootLayout.CMDLINE, cmd.length);
        AcpiTables.Layout acpi = AcpiTables.write(lowRam, BootLayout.ACPI_TABLES, cpus, OVERRIDES);
        writeGdt(lowRam, BootLayout.GDT);

        if (ElfKernel.isElf(kernel)) {
            return loadElf(lowRam, low, e820, kernel, kernelName, initrd, initrdName, acpi);
        }
        check(kernel, kernelName);
        SetupHeader header = SetupHeader.parse(kernel, kernelName);
        if (cmd.length > header.cmdlineSize()) {
            throw new BadKernelException("command line is " + cmd.length + " bytes, " + kernelName + " takes at most "
                + header.cmdlineSize() + " (cmdline_size)");
        }
        long pmOffset = header.protectedModeOffset();
        long pmSize = kernel.byteSize() - pmOffset;
        long load = BootLayout.KERNEL_LOAD;
        // A relocatable kernel decompresses itself to max(load, pref_address) rounded to kernel_alignment,
        // and needs init_size bytes from there (boot.rst, init_size).
        long runAt = header.relocatable() ? Math.max(load, header.prefAddress()) : header.prefAddress();
        long kernelEnd = Math.max(load + pmSize, alignUp(runAt, Math.max(header.kernelAlignment(), 4096)) + header.initSize());
        long initrdAddress = 0;
        long initrdSize = initrd == null ? 0 : initrd.byteSize();
        if (initrd != null) {
            long limit = Math.min(low, header.initrdAddrMax() + 1);
            initrdAddress = (limit - initrdSize) & ~0xfffL;
            if (initrdAddress < kernelEnd) {
                throw new BadKernelException("too little memory: " + (memory >> 20) + " MiB; " + kernelName + " needs up to 0x"
                    + Long.toHexString(kernelEnd) + " and " + initrdName + " (" + initrdSize + " bytes) must fit above it, below 0x"
                    + Long.toHexString(limit));
            }
            MemorySegment.copy(initrd, 0, lowRam, initrdAddress, initrdSize);
        } else if (kernelEnd > low) {
            throw new BadKernelException("too little memory: " + (memory >> 20) + " MiB; " + kernelName + " needs 0x"
                + Long.toHexString(kernelEnd) + " bytes (load address + init_size)");
        }
        MemorySegment.copy(kernel, pmOffset, lowRam, load, pmSize);
        BootParams.write(lowRam.asSlice(BootLayout.ZERO_PAGE, BootParams.SIZE), kernel, header, BootLayout.CMDLINE,
            initrdAddress, initrdSize, e820, acpi.rsdp());
        long cr3 = identityMap(lowRam);
        return new BootEntry(BootEntry.Mode.LONG_64, load + SetupHeader.ENTRY_64_OFFSET, BootLayout.ZERO_PAGE, cr3,
            load + pmSize, initrdAddress);
    }

    /**
     * Checks that {@code kernel} is a bootable bzImage (with a 64-bit entry) or x86-64 vmlinux,
     * without loading it: a command line calls this before it opens /dev/kvm, so a bad file is
     * reported as such on any machine.
     */
    public static void check(MemorySegment kernel, String kernelName) {
        if (ElfKernel.isElf(kernel)) {
            ElfKernel.parse(kernel, kernelName);
            return;
        }
        SetupHeader header = SetupHeader.parse(kernel, kernelName);
        if (!header.has64BitEntry()) {
            throw new BadKernelException(kernelName + ": no 64-bit entry point (protocol " + SetupHeader.versionString(header.version())
                + ", xloadflags 0x" + Integer.toHexString(header.xloadflags()) + " without XLF_KERNEL_64)");
        }
    }

    private static BootEntry loadElf(MemorySegment lowRam, long low, List<E820Entry> e820, MemorySegment kernel, String kernelName,
                                     MemorySegment initrd, String initrdName, AcpiTables.Layout acpi) {
        ElfKernel elf = ElfKernel.parse(kernel, kernelName);
        if (elf.lowest() < BootLayout.BIOS_END) {
            throw new BadKernelException(kernelName + ": ELF segment at 0x" + Long.toHexString(elf.lowest())
                + " lies below 1 MiB, over the boot data");
        }
        if (elf.highest() > low) {
            throw new BadKernelException("too little memory: " + kernelName + " loads up to 0x" + Long.toHexString(elf.highest())
                + " but guest RAM below the MMIO hole ends at 0x" + Long.toHexString(low));
        }
        elf.load(kernel, lowRam, kernelName);
        long initrdAddress = 0;
        long initrdSize = initrd == null ? 0 : initrd.byteSize();
        if (initrd != null) {
            initrdAddress = (low - initrdSize) & ~0xfffL;
            if (initrdAddress < alignUp(elf.highest(), 4096)) {
                throw new BadKernelException("too little memory: " + initrdName + " (" + initrdSize + " bytes) does not fit between "
                    + kernelName + " (end 0x" + Long.toHexString(elf.highest()) + ") and 0x" + Long.toHexString(low));
            }
            MemorySegment.copy(initrd, 0, lowRam, initrdAddress, initrdSize);
        }
        if (elf.pvhEntry() >= 0) {
            HvmStartInfo.write(lowRam, BootLayout.HVM_START_INFO, BootLayout.CMDLINE, acpi.rsdp(), initrdAddress, initrdSize, e820);
            return new BootEntry(BootEntry.Mode.PVH_32, elf.pvhEntry(), BootLayout.HVM_START_INFO, 0, elf.highest(), initrdAddress);
        }
        // 64-bit entry of a vmlinux: the same zero page as a bzImage, with a header of our own
        MemorySegment zeroPage = lowRam.asSlice(BootLayout.ZERO_PAGE, BootParams.SIZE);
        zeroPage.fill((byte) 0);
        MemorySegment header = minimalHeader();
        BootParams.write(zeroPage, header, SetupHeader.parse(header, "built-in header"), BootLayout.CMDLINE,
            initrdAddress, initrdSize, e820, acpi.rsdp());
        long cr3 = identityMap(lowRam);
        return new BootEntry(BootEntry.Mode.LONG_64, elf.entry64(), BootLayout.ZERO_PAGE, cr3, elf.highest(), initrdAddress);
    }

    /**
     * A setup header for a kernel that has none (a vmlinux): "HdrS", protocol 2.15, LOADED_HIGH,
     * XLF_KERNEL_64, and the 0xAA55 boot flag, as Firecracker and Cloud Hypervisor fill theirs.
     */
    static MemorySegment minimalHeader() {
        MemorySegment h = MemorySegment.ofArray(new byte[SetupHeader.INIT_SIZE + 4 + 2 * 512 + 512]);
        h.set(JAVA_BYTE, SetupHeader.SETUP_SECTS, (byte) 1);
        h.set(JAVA_SHORT_UNALIGNED, SetupHeader.BOOT_FLAG, (short) SetupHeader.BOOT_FLAG_MAGIC);
        h.set(JAVA_BYTE, SetupHeader.JUMP, (byte) 0xeb);
        h.set(JAVA_BYTE, SetupHeader.JUMP + 1, (byte) (SetupHeader.INIT_SIZE + 4 - SetupHeader.JUMP - 2));
        h.set(JAVA_INT_UNALIGNED, SetupHeader.HEADER, SetupHeader.HDRS_MAGIC);
        h.set(JAVA_SHORT_UNALIGNED, SetupHeader.VERSION, (short) 0x020f);
        h.set(JAVA_BYTE, SetupHeader.LOADFLAGS, (byte) SetupHeader.LOADED_HIGH);
        h.set(JAVA_SHORT_UNALIGNED, SetupHeader.XLOADFLAGS, (short) SetupHeader.XLF_KERNEL_64);
        h.set(JAVA_INT_UNALIGNED, SetupHeader.CMDLINE_SIZE, (int) (BootLayout.CMDLINE_MAX - 1));
        h.set(JAVA_INT_UNALIGNED, SetupHeader.INITRD_ADDR_MAX, 0x7fff_ffff);
        return h;
    }

    /**
     * The boot GDT at {@code at}: null, 32-bit code (0x08), 64-bit code (0x10 = __BOOT_CS), data
     * (0x18 = __BOOT_DS), a 64-bit TSS (0x20, two slots), all flat over 4 GiB (boot.rst: "both
     * descriptors must be 4G flat segment").
     */
    public static void writeGdt(MemorySegment ram, long at) {
        ram.set(JAVA_LONG, at, 0L);
        ram.set(JAVA_LONG, at + BOOT_CS32, Gdt.descriptor(0, 0xfffff, 0x9b, 0xc));
        ram.set(JAVA_LONG, at + BOOT_CS, Gdt.descriptor(0, 0xfffff, 0x9b, 0xa));
        ram.set(JAVA_LONG, at + BOOT_DS, Gdt.descriptor(0, 0xfffff, 0x93, 0xc));
        ram.set(JAVA_LONG, at + BOOT_TSS, Gdt.descriptor(0, 0x67, 0x8b, 0));
        ram.set(JAVA_LONG, at + BOOT_TSS + 8, 0L);
    }

    /** Identity-maps the first 4 GiB with 2 MiB pages; returns CR3. */
    static long identityMap(MemorySegment lowRam) {
        PageTables tables = new PageTables(lowRam, 0, BootLayout.PAGE_TABLES, BootLayout.PAGE_TABLES_SIZE);
        tables.identity(0, 4L << 30, PageTables.PAGE_2M, PageTables.WRITABLE);
        return tables.root();
    }

    static long alignUp(long v, long alignment) {
        return (v + alignment - 1) / alignment * alignment;
    }
}

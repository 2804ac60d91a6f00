package io.ringway.vcpu.boot;

import java.util.ArrayList;
import java.util.List;

/**
 * Where things go in guest-physical memory for a Linux boot, and the e820 map that describes it.
 *
 * <pre>
 * 0x0000_0500  GDT (boot selectors 0x10 code, 0x18 data, as boot.rst's 32/64-bit protocols want)
 * 0x0000_6000  hvm_start_info + module list + memory map (PVH entry only)
 * 0x0000_7000  zero page (boot_params)
 * 0x0000_8ff0  initial stack top
 * 0x0000_9000  identity page tables (PML4, PDPT, 4 PDs: the first 4 GiB in 2 MiB pages)
 * 0x0002_0000  command line
 * 0x0009_fc00  (end of low RAM: the EBDA would start here)
 * 0x000e_0000  ACPI tables (RSDP first, where a BIOS-area scan also finds it)
 * 0x0010_0000  the protected-mode kernel (bzImage) — or the vmlinux's own PT_LOAD addresses
 *   ...        initrd: page-aligned, as high as initrd_addr_max and low RAM allow
 * 0xc000_0000  end of low RAM at most: [3 GiB, 4 GiB) is the MMIO hole (IOAPIC, LAPIC, KVM's TSS pages)
 * 0x1_0000_0000 RAM above 3 GiB of guest memory continues here
 * </pre>
 */
public final class BootLayout {
    public static final long GDT = 0x500;
    public static final long HVM_START_INFO = 0x6000;
    public static final long ZERO_PAGE = 0x7000;
    public static final long STACK_TOP = 0x8ff0;
    public static final long PAGE_TABLES = 0x9000;
    public static final long PAGE_TABLES_SIZE = 7 * 4096;
    public static final long CMDLINE = 0x2_0000;
    /** Room for the command line, NUL included (the kernel's cmdline_size may allow less). */
    public static final long CMDLINE_MAX = 0x1_0000;
    public static final long EBDA_START = 0x9_fc00;
    public static final long ACPI_TABLES = 0xe_0000;
    public static final long BIOS_END = 0x10_0000;
    public static final long KERNEL_LOAD = 0x10_0000;
    public static final long MMIO_HOLE_START = 0xc000_0000L;
    public static final long HIGH_RAM_START = 0x1_0000_0000L;
    /** The least guest memory accepted at all (the kernel's own needs are checked when it is loaded). */
    public static final long MIN_MEMORY = 16L << 20;

    private BootLayout() {
    }

    /** Bytes of guest memory below the MMIO hole, for {@code memory} bytes in all. */
    public static long lowRam(long memory) {
        return Math.min(memory, MMIO_HOLE_START);
    }

    /** Bytes of guest memory from 4 GiB. */
    public static long highRam(long memory) {
        return Math.max(0, memory - MMIO_HOLE_START);
    }

    /**
     * The e820 map for {@code memory} bytes: RAM [0, EBDA), reserved [EBDA, 640 KiB) and the BIOS area
     * [0xE0000, 1 MiB) holding the ACPI tables, RAM [1 MiB, low end), RAM from 4 GiB for the rest.
     */
    public static List<E820Entry> e820(long memory) {
        if (memory < MIN_MEMORY || (memory & 0xfff) != 0) {
            throw new IllegalArgumentException("guest memory must be a multiple of 4 KiB and at least " + (MIN_MEMORY >> 20)
                + " MiB, got " + memory + " bytes");
        }
        List<E820Entry> map = new ArrayList<>();
        map.add(new E820Entry(0, EBDA_START, E820Entry.RAM));
        map.add(new E820Entry(EBDA_START, 0xa_0000 - EBDA_START, E820Entry.RESERVED));
        map.add(new E820Entry(ACPI_TABLES, BIOS_END - ACPI_TABLES, E820Entry.RESERVED));
        map.add(new E820Entry(BIOS_END, lowRam(memory) - BIOS_END, E820Entry.RAM));
        if (highRam(memory) > 0) {
            map.add(new E820Entry(HIGH_RAM_START, highRam(memory), E820Entry.RAM));
        }
        return List.copyOf(map);
    }
}

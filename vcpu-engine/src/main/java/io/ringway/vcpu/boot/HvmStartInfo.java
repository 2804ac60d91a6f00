package io.ringway.vcpu.boot;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The PVH boot information, {@code struct hvm_start_info} version 1 (xen/include/public/arch-x86/hvm/start_info.h),
 * passed in EBX to a PVH entry point:
 *
 * <pre>
 * hvm_start_info (56 bytes):      0 u32 magic 0x336ec578, 4 u32 version, 8 u32 flags, 12 u32 nr_modules,
 *                                 16 u64 modlist_paddr, 24 u64 cmdline_paddr, 32 u64 rsdp_paddr,
 *                                 40 u64 memmap_paddr, 48 u32 memmap_entries, 52 u32 reserved
 * hvm_modlist_entry (32 bytes):   0 u64 paddr, 8 u64 size, 16 u64 cmdline_paddr, 24 u64 reserved
 * hvm_memmap_table_entry (24 B):  0 u64 addr, 8 u64 size, 16 u32 type (e820 types), 20 u32 reserved
 * </pre>
 */
public final class HvmStartInfo {
    public static final int MAGIC = 0x336e_c578;
    public static final int VERSION = 1;
    public static final int SIZE = 56;
    public static final int MODLIST_ENTRY_SIZE = 32;
    public static final int MEMMAP_ENTRY_SIZE = 24;

    private HvmStartInfo() {
    }

    /**
     * Writes the start info at {@code at} of {@code ram} (guest-physical 0 at byte 0), followed by the
     * module list (the initrd, when {@code ramdiskSize} is not 0) and the memory map. Returns the bytes used.
     */
    public static long write(MemorySegment ram, long at, long cmdlineAddress, long rsdpAddress,
                             long ramdiskAddress, long ramdiskSize, List<E820Entry> memmap) {
        int modules = ramdiskSize == 0 ? 0 : 1;
        long modlist = at + SIZE;
        long map = modlist + (long) modules * MODLIST_ENTRY_SIZE;
        long end = map + (long) memmap.size() * MEMMAP_ENTRY_SIZE;
        ram.asSlice(at, end - at).fill((byte) 0);
        ram.set(JAVA_INT_UNALIGNED, at, MAGIC);
        ram.set(JAVA_INT_UNALIGNED, at + 4, VERSION);
        ram.set(JAVA_INT_UNALIGNED, at + 12, modules);
        ram.set(JAVA_LONG_UNALIGNED, at + 16, modules == 0 ? 0 : modlist);
        ram.set(JAVA_LONG_UNALIGNED, at + 24, cmdlineAddress);
        ram.set(JAVA_LONG_UNALIGNED, at + 32, rsdpAddress);
        ram.set(JAVA_LONG_UNALIGNED, at + 40, map);
        ram.set(JAVA_INT_UNALIGNED, at + 48, memmap.size());
        if (modules == 1) {
            ram.set(JAVA_LONG_UNALIGNED, modlist, ramdiskAddress);
            ram.set(JAVA_LONG_UNALIGNED, modlist + 8, ramdiskSize);
        }
        for (int i = 0; i < memmap.size(); i++) {
            E820Entry e = memmap.get(i);
            long m = map + (long) i * MEMMAP_ENTRY_SIZE;
            ram.set(JAVA_LONG_UNALIGNED, m, e.address());
            ram.set(JAVA_LONG_UNALIGNED, m + 8, e.size());
            ram.set(JAVA_INT_UNALIGNED, m + 16, e.type());
        }
        return end - at;
    }
}

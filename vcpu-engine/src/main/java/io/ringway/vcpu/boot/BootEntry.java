package io.ringway.vcpu.boot;

/**
 * How the boot CPU starts, as the loader left guest memory.
 *
 * @param mode      64-bit long mode (the bzImage and vmlinux 64-bit entry) or 32-bit protected mode without paging (PVH)
 * @param rip       the entry point
 * @param bootInfo  RSI for the 64-bit entry (the zero page), EBX for PVH (hvm_start_info)
 * @param cr3       the identity page tables (long mode only)
 * @param kernelEnd end of the loaded kernel image (for reports)
 * @param initrd    guest-physical address of the initrd, 0 without one
 */
public record BootEntry(Mode mode, long rip, long bootInfo, long cr3, long kernelEnd, long initrd) {
    /** The CPU mode at entry. */
    public enum Mode {
        /** boot.rst "64-bit boot protocol": long mode, paging with an identity map, RSI = boot_params. */
        LONG_64,
        /** Xen PVH: 32-bit protected mode, paging off, EBX = hvm_start_info. */
        PVH_32
    }
}

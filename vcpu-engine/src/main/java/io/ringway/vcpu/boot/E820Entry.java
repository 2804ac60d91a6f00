package io.ringway.vcpu.boot;

/**
 * One entry of the e820 memory map ({@code struct boot_e820_entry}: u64 addr, u64 size, u32 type;
 * 20 bytes, packed). Types as the ACPI spec's address range types (ACPI 6.5, 15.1 Table 15.1).
 */
public record E820Entry(long address, long size, int type) {
    /** Usable RAM. */
    public static final int RAM = 1;
    /** Reserved: not to be used by the OS. */
    public static final int RESERVED = 2;
    /** ACPI reclaimable: holds ACPI tables, usable once they are read. */
    public static final int ACPI = 3;
    /** ACPI NVS: firmware memory to keep across sleep. */
    public static final int NVS = 4;
    /** Bytes of one entry in boot_params.e820_table. */
    public static final int SIZE = 20;

    public E820Entry {
        if (size <= 0 || address < 0 || address + size < address) {
            throw new IllegalArgumentException("e820 entry must have a positive size and not wrap, got address=0x"
                + Long.toHexString(address) + " size=0x" + Long.toHexString(size));
        }
    }

    /** Guest-physical end, exclusive. */
    public long end() {
        return address + size;
    }
}

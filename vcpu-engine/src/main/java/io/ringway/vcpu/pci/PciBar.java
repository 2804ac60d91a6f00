package io.ringway.vcpu.pci;

/**
 * One base address register of a type-0 function (PCI Local Bus 3.0, 6.2.5.1): its kind and size.
 * The low bits the guest reads are fixed by the kind — I/O: bit 0 = 1; memory: bits 2:1 = 00
 * (32-bit) or 10 (64-bit), bit 3 = prefetchable — and the address bits below the size are read-only
 * zeros, which is what makes size probing (write all ones, read back {@code ~(size - 1) | flags}) work.
 * A 64-bit BAR takes two slots, {@code index} and {@code index + 1}.
 *
 * @param index        0..5 (0..4 for a 64-bit BAR)
 * @param kind         the address space and width
 * @param size         a power of 2: I/O 4..256 bytes, memory at least 16 bytes (at most 2 GiB for 32-bit)
 * @param prefetchable memory only: reads have no side effects
 */
public record PciBar(int index, Kind kind, long size, boolean prefetchable) {
    /** The address space a BAR decodes. */
    public enum Kind {
        /** I/O space, 32-bit register. */
        IO,
        /** Memory space below 4 GiB. */
        MEMORY32,
        /** Memory space anywhere, two registers. */
        MEMORY64
    }

    /** Number of BAR slots in a type-0 header. */
    public static final int COUNT = 6;
    /** I/O BAR bit 0: I/O space indicator. */
    public static final int IO_SPACE = 0x1;
    /** Memory BAR bits 2:1 = 10: 64-bit. */
    public static final int MEMORY_64BIT = 0x4;
    /** Memory BAR bit 3. */
    public static final int PREFETCHABLE = 0x8;

    public PciBar {
        if (kind == null) {
            throw new IllegalArgumentException("BAR " + index + ": kind must be given");
        }
        int last = kind == Kind.MEMORY64 ? COUNT - 2 : COUNT - 1;
        if (index < 0 || index > last) {
            throw new IllegalArgumentException("BAR index must be 0.." + last + " for a " + kind + " BAR, got " + index);
        }
        if (size <= 0 || Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("BAR " + index + " size must be a power of 2, got " + size);
        }
        switch (kind) {
            case IO -> {
                if (size < 4 || size > 256) {
                    throw new IllegalArgumentException("I/O BAR " + index + " size must be 4..256 bytes (PCI 3.0, 6.2.5.1), got " + size);
                }
                if (prefetchable) {
                    throw new IllegalArgumentException("I/O BAR " + index + " cannot be prefetchable");
                }
            }
            case MEMORY32 -> {
                if (size < 16 || size > 1L << 31) {
                    throw new IllegalArgumentException("32-bit memory BAR " + index + " size must be 16 B..2 GiB, got " + size);
                }
            }
            case MEMORY64 -> {
                if (size < 16) {
                    throw new IllegalArgumentException("64-bit memory BAR " + index + " size must be at least 16 B, got " + size);
                }
            }
        }
    }

    /** The read-only low bits of the (lower) register. */
    public int flags() {
        return switch (kind) {
            case IO -> IO_SPACE;
            case MEMORY32 -> prefetchable ? PREFETCHABLE : 0;
            case MEMORY64 -> MEMORY_64BIT | (prefetchable ? PREFETCHABLE : 0);
        };
    }

    /** The writable bits of the whole BAR (both registers of a 64-bit one): address bits at and above the size. */
    public long addressMask() {
        long mask = ~(size - 1);
        return switch (kind) {
            case IO -> mask & 0xffff_fffcL;
            case MEMORY32 -> mask & 0xffff_fff0L;
            case MEMORY64 -> mask & ~0xfL;
        };
    }
}

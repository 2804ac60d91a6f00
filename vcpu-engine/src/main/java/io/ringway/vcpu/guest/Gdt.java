package io.ringway.vcpu.guest;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A flat 64-bit global descriptor table with kernel and user (DPL 3) code and data segments and a
 * 64-bit TSS, and the TSS itself (Intel SDM vol. 3A, 3.4.5 and 8.7).
 *
 * <pre>
 * selector  descriptor
 *   0x00    null
 *   0x08    kernel code, 64-bit   (access 0x9b, flags G L)     0x00af9b000000ffff
 *   0x10    kernel data           (access 0x93, flags G D/B)   0x00cf93000000ffff
 *   0x18    user code, 64-bit, DPL 3  (selector with RPL 3: 0x1b)  0x00affb000000ffff
 *   0x20    user data, DPL 3          (selector with RPL 3: 0x23)  0x00cff3000000ffff
 *   0x28    64-bit TSS, available (16 bytes: access 0x89, limit 0x2068)
 * </pre>
 *
 * The TSS carries a full I/O permission bitmap with every port allowed (SDM vol. 1, 19.5.2):
 * CPL-3 guests do port I/O through it. IOPL 3 in RFLAGS would do on hardware KVM, but PVM runs the
 * guest with IOPL 0 whatever KVM_SET_REGS said and consults the bitmap (seen on these machines:
 * without the bitmap, {@code out} from CPL 3 raises #GP).
 */
public final class Gdt {
    public static final int KERNEL_CODE = 0x08;
    public static final int KERNEL_DATA = 0x10;
    /** User code selector with RPL 3. */
    public static final int USER_CODE = 0x18 | 3;
    /** User data selector with RPL 3. */
    public static final int USER_DATA = 0x20 | 3;
    public static final int TSS = 0x28;
    /** Bytes of the table (7 slots of 8: the TSS takes two). */
    public static final int SIZE = 7 * 8;
    /** Offset of the I/O permission bitmap in the TSS: right after the 104-byte 64-bit TSS. */
    public static final int IO_BITMAP_OFFSET = 0x68;
    /** Bytes of the TSS: 104, a bitmap of 65536 port bits, and the 0xff byte that must end it. */
    public static final int TSS_SIZE = IO_BITMAP_OFFSET + 0x2000 + 1;

    private Gdt() {
    }

    /** An 8-byte code/data segment descriptor. {@code flags} is the high nibble: G, D/B, L, AVL. */
    public static long descriptor(long base, long limit, int access, int flags) {
        return (limit & 0xffffL)
            | (base & 0xffffffL) << 16
            | (long) (access & 0xff) << 40
            | ((limit >>> 16) & 0xfL) << 48
            | (long) (flags & 0xf) << 52
            | ((base >>> 24) & 0xffL) << 56;
    }

    /**
     * Writes the table at {@code gdtOffset} of {@code memory} and a TSS at {@code tssOffset}, whose
     * guest address is {@code tssGpa}; {@code rsp0} is the stack the CPU switches to on an interrupt
     * from CPL 3 (0 when the guest takes none).
     */
    public static void writeFlat64(MemorySegment memory, long gdtOffset, long tssOffset, long tssGpa, long rsp0) {
        memory.set(JAVA_LONG, gdtOffset, 0L);
        memory.set(JAVA_LONG, gdtOffset + KERNEL_CODE, descriptor(0, 0xfffff, 0x9b, 0xa));
        memory.set(JAVA_LONG, gdtOffset + KERNEL_DATA, descriptor(0, 0xfffff, 0x93, 0xc));
        memory.set(JAVA_LONG, gdtOffset + (USER_CODE & ~3), descriptor(0, 0xfffff, 0xfb, 0xa));
        memory.set(JAVA_LONG, gdtOffset + (USER_DATA & ~3), descriptor(0, 0xfffff, 0xf3, 0xc));
        memory.set(JAVA_LONG, gdtOffset + TSS, descriptor(tssGpa, TSS_SIZE - 1, 0x89, 0));
        memory.set(JAVA_LONG, gdtOffset + TSS + 8, tssGpa >>> 32);

        memory.asSlice(tssOffset, TSS_SIZE).fill((byte) 0);
        memory.set(JAVA_INT, tssOffset + 4, (int) rsp0);          // RSP0, unaligned u64 at 4
        memory.set(JAVA_INT, tssOffset + 8, (int) (rsp0 >>> 32));
        memory.set(JAVA_SHORT, tssOffset + 0x66, (short) IO_BITMAP_OFFSET); // bitmap all 0: every port allowed
        memory.set(JAVA_BYTE, tssOffset + TSS_SIZE - 1, (byte) 0xff);
    }
}

package io.ringway.vcpu.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The general-purpose registers of a vCPU, {@code struct kvm_regs} (144 bytes: 18 u64 in the
 * order rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8..r15, rip, rflags; offsets checked with gcc).
 * A control-plane value object: read with {@link Vcpu#getRegs()}, written with {@link Vcpu#setRegs}.
 */
public final class KvmRegs {
    /** {@code sizeof(struct kvm_regs)}. */
    public static final long SIZE = 144;
    /** RFLAGS bit 1 is reserved and always 1. */
    public static final long RFLAGS_RESERVED = 0x2;
    /** RFLAGS.IF: maskable interrupts enabled. */
    public static final long RFLAGS_IF = 0x200;
    /** RFLAGS.IOPL = 3: CPL 3 code may use in/out/cli/sti. */
    public static final long RFLAGS_IOPL3 = 0x3000;

    private static final String[] NAMES = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};
    private static final int RSP = 6;
    private static final int RIP = 16;
    private static final int RFLAGS = 17;

    /** struct kvm_regs index of each register in encoding order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..). */
    private static final int[] BY_ENCODING = {0, 2, 3, 1, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15};

    private final long[] values = new long[NAMES.length];

    /** The value of general-purpose register {@code index} in the instruction-encoding order (0 = rax, 1 = rcx, 2 = rdx, 3 = rbx ... 15 = r15; {@code Reg.code()}). */
    public long gpr(int index) {
        return values[BY_ENCODING[checkGpr(index)]];
    }

    /** Sets general-purpose register {@code index} (0 = rax ... 15 = r15). */
    public KvmRegs gpr(int index, long value) {
        values[BY_ENCODING[checkGpr(index)]] = value;
        return this;
    }

    private static int checkGpr(int index) {
        if (index < 0 || index > 15) {
            throw new IllegalArgumentException("register index must be 0..15, got " + index);
        }
        return index;
    }

    public long rip() {
        return values[RIP];
    }

    public KvmRegs rip(long value) {
        values[RIP] = value;
        return this;
    }

    public long rsp() {
        return values[RSP];
    }

    public KvmRegs rsp(long value) {
        values[RSP] = value;
        return this;
    }

    public long rflags() {
        return values[RFLAGS];
    }

    public KvmRegs rflags(long value) {
        values[RFLAGS] = value;
        return this;
    }

    /** Reads a {@code struct kvm_regs}. */
    public static KvmRegs read(MemorySegment struct) {
        KvmRegs regs = new KvmRegs();
        for (int i = 0; i < regs.values.length; i++) {
            regs.values[i] = struct.get(JAVA_LONG, i * 8L);
        }
        return regs;
    }

    /** Writes this as a {@code struct kvm_regs}. */
    public void write(MemorySegment struct) {
        for (int i = 0; i < values.length; i++) {
            struct.set(JAVA_LONG, i * 8L, values[i]);
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < NAMES.length; i++) {
            if (i > 0) {
                sb.append(i % 6 == 0 ? "\n" : " ");
            }
            sb.append(NAMES[i]).append("=0x").append(Long.toHexString(values[i]));
        }
        return sb.toString();
    }
}

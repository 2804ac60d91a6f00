package io.ringway.vcpu.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

/**
 * A vCPU's in-kernel local APIC registers, {@code struct kvm_lapic_state} (1024 bytes: the APIC
 * register page as the guest sees it at 0xfee00000, registers at 16-byte strides; SDM vol. 3A,
 * table 11-1). Read with {@link Vcpu#getLapic()}, written with {@link Vcpu#setLapic}.
 */
public final class KvmLapicState {
    /** {@code sizeof(struct kvm_lapic_state)}. */
    public static final int SIZE = 1024;
    /** The guest-physical address of the local APIC page (the reset value of IA32_APIC_BASE). */
    public static final long DEFAULT_BASE = 0xfee0_0000L;
    public static final int ID = 0x20;
    public static final int TPR = 0x80;
    public static final int EOI = 0xb0;
    /** Spurious interrupt vector register: bit 8 is the APIC software enable. */
    public static final int SVR = 0xf0;
    public static final int ISR = 0x100;
    public static final int IRR = 0x200;
    public static final int ESR = 0x280;
    public static final int LVT_LINT0 = 0x350;
    public static final int LVT_LINT1 = 0x360;
    /** SVR bit 8: the APIC accepts fixed interrupts only when set (it is 0 after reset). */
    public static final int SVR_APIC_ENABLED = 0x100;

    private final byte[] regs;

    KvmLapicState(byte[] regs) {
        this.regs = regs;
    }

    static KvmLapicState read(MemorySegment struct) {
        return new KvmLapicState(struct.asSlice(0, SIZE).toArray(JAVA_BYTE));
    }

    void write(MemorySegment struct) {
        MemorySegment.copy(regs, 0, struct, JAVA_BYTE, 0, SIZE);
    }

    /** The 32-bit register at {@code offset} (a multiple of 16 below 0x400). */
    public int register(int offset) {
        return MemorySegment.ofArray(regs).get(JAVA_INT_UNALIGNED, check(offset));
    }

    /** Sets the 32-bit register at {@code offset}. */
    public KvmLapicState register(int offset, int value) {
        MemorySegment.ofArray(regs).set(JAVA_INT_UNALIGNED, check(offset), value);
        return this;
    }

    /** Software-enables the APIC (SVR bit 8) with spurious vector {@code spuriousVector}, the state an OS leaves it in after boot. */
    public KvmLapicState softwareEnable(int spuriousVector) {
        if (spuriousVector < 16 || spuriousVector > 255) {
            throw new IllegalArgumentException("spurious vector must be 16..255, got " + spuriousVector);
        }
        return register(SVR, SVR_APIC_ENABLED | spuriousVector);
    }

    /** Whether {@code vector}'s bit is set in the 256-bit register array at {@code base} (ISR, IRR, TMR). */
    public boolean bit(int base, int vector) {
        if (vector < 0 || vector > 255) {
            throw new IllegalArgumentException("vector must be 0..255, got " + vector);
        }
        return (register(base + 16 * (vector >>> 5)) & 1 << (vector & 31)) != 0;
    }

    private static int check(int offset) {
        if (offset < 0 || offset >= SIZE || (offset & 0xf) != 0) {
            throw new IllegalArgumentException("APIC register offset must be a multiple of 16 below 0x400, got 0x" + Integer.toHexString(offset));
        }
        return offset;
    }
}

package io.ringway.vcpu.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * A vCPU's x87/SSE state, {@code struct kvm_fpu} (x86-64, 416 bytes). Offsets printed with gcc
 * offsetof against the installed {@code <linux/kvm.h>}: fpr[8][16] at 0, fcw 128, fsw 130, ftwx 132
 * (the abridged tag byte of FXSAVE), pad1 133, last_opcode 134, last_ip 136, last_dp 144,
 * xmm[16][16] at 152, mxcsr 408, pad2 412. Read with {@link Vcpu#getFpu()}, written with
 * {@link Vcpu#setFpu}; the setters change this copy only.
 *
 * <p>KVM_GET_FPU and KVM_SET_FPU ignore {@code mxcsr} (arch/x86/kvm/x86.c copies every field but
 * that one; seen on 6.18: set 0x9f80, read 0), and KVM_SET_FPU leaves XSTATE_BV alone, so state
 * written into a vCPU still in the init state is dropped by the guest's XRSTOR (the guest read
 * XMM0 = 0). {@link Vcpu} therefore goes through the XSAVE image where KVM has one.
 */
public final class KvmFpu {
    /** {@code sizeof(struct kvm_fpu)}. */
    public static final int SIZE = 416;
    static final int FPR = 0;
    static final int FCW = 128;
    static final int FSW = 130;
    static final int FTWX = 132;
    static final int LAST_OPCODE = 134;
    static final int LAST_IP = 136;
    static final int LAST_DP = 144;
    static final int XMM = 152;
    static final int MXCSR = 408;
    /** Registers XMM0..XMM15. */
    public static final int XMM_COUNT = 16;
    /** x87 registers ST0..ST7 (80 bits each in a 16-byte slot). */
    public static final int FPR_COUNT = 8;
    /** MXCSR after reset: all exceptions masked, round to nearest (SDM vol. 1, 10.2.3). */
    public static final int MXCSR_DEFAULT = 0x1f80;

    /** {@code sizeof(struct kvm_xsave)}: the 4096-byte XSAVE image of KVM_GET_XSAVE. */
    static final int XSAVE_SIZE = 4096;
    // The legacy region of the XSAVE image is the FXSAVE layout (SDM vol. 1, table 10-2), not kvm_fpu's.
    private static final int FX_FCW = 0;
    private static final int FX_FSW = 2;
    private static final int FX_FTW = 4;
    private static final int FX_FOP = 6;
    private static final int FX_FIP = 8;
    private static final int FX_FDP = 16;
    static final int FX_MXCSR = 24;
    private static final int FX_ST = 32;
    private static final int FX_XMM = 160;
    /** XSAVE header XSTATE_BV: components with live state; a clear bit means "init state" and XRSTOR zeroes it. */
    static final int XSTATE_BV = 512;
    /** XSTATE_BV bits of x87 (0) and SSE (1). */
    static final long XSTATE_X87_SSE = 0x3;

    private final byte[] bytes;

    KvmFpu(byte[] bytes) {
        this.bytes = bytes;
    }

    static KvmFpu read(MemorySegment struct) {
        return new KvmFpu(struct.asSlice(0, SIZE).toArray(JAVA_BYTE));
    }

    void write(MemorySegment struct) {
        MemorySegment.copy(bytes, 0, struct, JAVA_BYTE, 0, SIZE);
    }

    /**
     * Writes this state into the legacy region of an XSAVE image (FXSAVE layout) and marks x87 and
     * SSE live in XSTATE_BV, so the guest's XRSTOR loads them instead of the init state.
     */
    void writeXsave(MemorySegment xsave) {
        MemorySegment v = view();
        xsave.set(JAVA_SHORT_UNALIGNED, FX_FCW, v.get(JAVA_SHORT_UNALIGNED, FCW));
        xsave.set(JAVA_SHORT_UNALIGNED, FX_FSW, v.get(JAVA_SHORT_UNALIGNED, FSW));
        xsave.set(JAVA_BYTE, FX_FTW, bytes[FTWX]);
        xsave.set(JAVA_SHORT_UNALIGNED, FX_FOP, v.get(JAVA_SHORT_UNALIGNED, LAST_OPCODE));
        xsave.set(JAVA_LONG_UNALIGNED, FX_FIP, lastIp());
        xsave.set(JAVA_LONG_UNALIGNED, FX_FDP, lastDp());
        xsave.set(JAVA_INT_UNALIGNED, FX_MXCSR, mxcsr());
        MemorySegment.copy(v, FPR, xsave, FX_ST, 16L * FPR_COUNT);
        MemorySegment.copy(v, XMM, xsave, FX_XMM, 16L * XMM_COUNT);
        xsave.set(JAVA_LONG_UNALIGNED, XSTATE_BV, xsave.get(JAVA_LONG_UNALIGNED, XSTATE_BV) | XSTATE_X87_SSE);
    }

    private MemorySegment view() {
        return MemorySegment.ofArray(bytes);
    }

    /** MXCSR: SSE control and status. */
    public int mxcsr() {
        return view().get(JAVA_INT_UNALIGNED, MXCSR);
    }

    /** Sets MXCSR. KVM_SET_FPU fails with EINVAL for bits the CPU reserves (MXCSR_MASK). */
    public KvmFpu mxcsr(int value) {
        view().set(JAVA_INT_UNALIGNED, MXCSR, value);
        return this;
    }

    /** x87 control word. */
    public int fcw() {
        return Short.toUnsignedInt(view().get(JAVA_SHORT_UNALIGNED, FCW));
    }

    public KvmFpu fcw(int value) {
        view().set(JAVA_SHORT_UNALIGNED, FCW, (short) value);
        return this;
    }

    /** x87 status word. */
    public int fsw() {
        return Short.toUnsignedInt(view().get(JAVA_SHORT_UNALIGNED, FSW));
    }

    /** The abridged x87 tag byte (FXSAVE format: one bit per register, 1 = valid). */
    public int ftwx() {
        return Byte.toUnsignedInt(bytes[FTWX]);
    }

    public int lastOpcode() {
        return Short.toUnsignedInt(view().get(JAVA_SHORT_UNALIGNED, LAST_OPCODE));
    }

    public long lastIp() {
        return view().get(JAVA_LONG_UNALIGNED, LAST_IP);
    }

    public long lastDp() {
        return view().get(JAVA_LONG_UNALIGNED, LAST_DP);
    }

    /** The low 64 bits of XMM{@code n}. */
    public long xmmLow(int n) {
        return view().get(JAVA_LONG_UNALIGNED, xmmOffset(n));
    }

    /** The high 64 bits of XMM{@code n}. */
    public long xmmHigh(int n) {
        return view().get(JAVA_LONG_UNALIGNED, xmmOffset(n) + 8);
    }

    /** Sets XMM{@code n} to {@code high:low}. */
    public KvmFpu xmm(int n, long low, long high) {
        int at = xmmOffset(n);
        view().set(JAVA_LONG_UNALIGNED, at, low);
        view().set(JAVA_LONG_UNALIGNED, at + 8, high);
        return this;
    }

    /** The 16 bytes of x87 register slot {@code n} (the low 10 hold the 80-bit value). */
    public byte[] fpr(int n) {
        if (n < 0 || n >= FPR_COUNT) {
            throw new IllegalArgumentException("x87 register must be 0..7, got " + n);
        }
        byte[] slot = new byte[16];
        System.arraycopy(bytes, FPR + 16 * n, slot, 0, 16);
        return slot;
    }

    private static int xmmOffset(int n) {
        if (n < 0 || n >= XMM_COUNT) {
            throw new IllegalArgumentException("XMM register must be 0..15, got " + n);
        }
        return XMM + 16 * n;
    }

    @Override
    public String toString() {
        return "KvmFpu[fcw=0x" + Integer.toHexString(fcw()) + ", fsw=0x" + Integer.toHexString(fsw())
            + ", mxcsr=0x" + Integer.toHexString(mxcsr()) + "]";
    }
}

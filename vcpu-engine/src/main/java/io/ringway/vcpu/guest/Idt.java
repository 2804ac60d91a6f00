package io.ringway.vcpu.guest;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** 64-bit interrupt descriptor table gates (Intel SDM vol. 3A, 6.14.1): 16 bytes each. */
public final class Idt {
    /** Bytes of one gate. */
    public static final int GATE_SIZE = 16;
    /** Gate type: interrupt gate (clears IF on entry). */
    public static final int INTERRUPT_GATE = 0xE;
    /** Gate type: trap gate (leaves IF). */
    public static final int TRAP_GATE = 0xF;

    private Idt() {
    }

    /** Writes gate {@code vector} of the IDT at {@code idtOffset} of {@code memory}. */
    public static void setGate(MemorySegment memory, long idtOffset, int vector, long handler, int selector, int dpl, int ist, int type) {
        if (vector < 0 || vector > 255) {
            throw new IllegalArgumentException("vector must be 0..255, got " + vector);
        }
        long low = (handler & 0xffffL)
            | (long) (selector & 0xffff) << 16
            | (long) (ist & 0x7) << 32
            | (long) (0x80 | (dpl & 3) << 5 | (type & 0xf)) << 40
            | ((handler >>> 16) & 0xffffL) << 48;
        memory.set(JAVA_LONG, idtOffset + vector * (long) GATE_SIZE, low);
        memory.set(JAVA_LONG, idtOffset + vector * (long) GATE_SIZE + 8, handler >>> 32);
    }
}

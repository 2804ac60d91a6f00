package io.ringway.vcpu.asm;

/** The 64-bit general-purpose registers, in encoding order (the low 3 bits go in ModRM, bit 3 in REX). */
public enum Reg {
    RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15;

    /** The 4-bit register number. */
    public int code() {
        return ordinal();
    }

    int low3() {
        return ordinal() & 7;
    }

    int ext() {
        return ordinal() >> 3;
    }
}

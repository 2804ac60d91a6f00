package io.ringway.vcpu.asm;

/** Condition codes of {@code jcc} (the low nibble of 0F 8x). */
public enum Cond {
    O(0x0), NO(0x1), B(0x2), AE(0x3), E(0x4), NE(0x5), BE(0x6), A(0x7),
    S(0x8), NS(0x9), P(0xA), NP(0xB), L(0xC), GE(0xD), LE(0xE), G(0xF);

    /** Aliases in the field's words. */
    public static final Cond Z = E;
    public static final Cond NZ = NE;

    final int code;

    Cond(int code) {
        this.code = code;
    }
}

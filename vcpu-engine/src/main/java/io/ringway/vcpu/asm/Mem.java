package io.ringway.vcpu.asm;

/**
 * A memory operand: {@code [base + disp]}, or {@code [rip + label]} (RIP-relative, for code that
 * runs at any address).
 */
public final class Mem {
    final Reg base;
    final int disp;
    final Label label;

    private Mem(Reg base, int disp, Label label) {
        this.base = base;
        this.disp = disp;
        this.label = label;
    }

    /** {@code [base]}. */
    public static Mem at(Reg base) {
        return new Mem(base, 0, null);
    }

    /** {@code [base + disp]}. */
    public static Mem at(Reg base, int disp) {
        return new Mem(base, disp, null);
    }

    /** {@code [rip + label]}. */
    public static Mem rip(Label label) {
        return new Mem(null, 0, label);
    }

    @Override
    public String toString() {
        return label != null ? "[rip+" + label + "]" : "[" + base + (disp != 0 ? "+" + disp : "") + "]";
    }
}

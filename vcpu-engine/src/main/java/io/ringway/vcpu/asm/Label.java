package io.ringway.vcpu.asm;

/** A position in the code, bound once with {@link X86Assembler#bind}; jumps to it may come before or after. */
public final class Label {
    int position = -1;
    private final String name;

    Label(String name) {
        this.name = name;
    }

    /** Whether {@link X86Assembler#bind} has placed it. */
    public boolean bound() {
        return position >= 0;
    }

    /** Its offset from the start of the code; fails when not bound. */
    public int position() {
        if (position < 0) {
            throw new IllegalStateException("label " + name + " is not bound");
        }
        return position;
    }

    @Override
    public String toString() {
        return "Label[" + name + (position >= 0 ? " @" + position : "") + "]";
    }
}

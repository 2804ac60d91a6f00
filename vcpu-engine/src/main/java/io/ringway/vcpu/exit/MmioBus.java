package io.ringway.vcpu.exit;

/** Guest-physical addresses outside memory slots: where MMIO exits are dispatched. */
public final class MmioBus extends AddressBus {
    public MmioBus() {
        super("MMIO", 1L << 52);
    }
}

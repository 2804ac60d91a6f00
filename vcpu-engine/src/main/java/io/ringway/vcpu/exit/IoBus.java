package io.ringway.vcpu.exit;

/** The x86 I/O port space (ports 0..0xffff): where {@code in}/{@code out} exits are dispatched. */
public final class IoBus extends AddressBus {
    public IoBus() {
        super("port I/O", 0x1_0000L);
    }
}

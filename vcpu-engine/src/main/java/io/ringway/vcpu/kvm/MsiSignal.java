package io.ringway.vcpu.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.ringway.runtime.sys.LibC;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * One message signalled interrupt, injected with KVM_SIGNAL_MSI (api.rst 4.71) from a struct
 * prepared at creation, so {@link #signal()} does not allocate. Made by {@link Vm#msiSignal};
 * one per thread (the struct is not shared state, but keep it simple).
 */
public final class MsiSignal implements AutoCloseable {
    private final int vmFd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment msi;

    MsiSignal(int vmFd, long address, int data) {
        this.vmFd = vmFd;
        // struct kvm_msi: u32 address_lo, u32 address_hi, u32 data, u32 flags, u32 devid, u8 pad[12] (32 bytes)
        this.msi = arena.allocate(32, 8);
        msi.set(JAVA_INT, 0, (int) address);
        msi.set(JAVA_INT, 4, (int) (address >>> 32));
        msi.set(JAVA_INT, 8, data);
    }

    /**
     * Injects the message: &gt; 0 when delivered, 0 when the guest blocked it (APIC disabled, no such
     * destination), {@code -errno} on failure. Does not allocate.
     */
    public int signal() {
        return LibC.tryIoctl(vmFd, KvmApi.KVM_SIGNAL_MSI, msi);
    }

    @Override
    public void close() {
        arena.close();
    }
}

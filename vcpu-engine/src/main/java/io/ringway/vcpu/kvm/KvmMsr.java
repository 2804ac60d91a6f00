package io.ringway.vcpu.kvm;

/**
 * One model-specific register and its value, a {@code struct kvm_msr_entry} (index u32, reserved
 * u32, data u64: 16 bytes) of {@link Vcpu#getMsrs} and {@link Vcpu#setMsrs}.
 */
public record KvmMsr(int index, long data) {
    /** {@code sizeof(struct kvm_msr_entry)}. */
    static final int SIZE = 16;
    /** {@code sizeof(struct kvm_msrs)} before entries[] (nmsrs u32, pad u32). */
    static final int HEADER_SIZE = 8;

    /** IA32_TSC_AUX: what rdtscp and rdpid return in ECX (SDM vol. 4, table 2-2). */
    public static final int IA32_TSC_AUX = 0xC000_0103;
    /** IA32_KERNEL_GS_BASE: the GS base swapgs swaps in. */
    public static final int IA32_KERNEL_GS_BASE = 0xC000_0102;
    /** IA32_EFER. */
    public static final int IA32_EFER = 0xC000_0080;
    /** IA32_TSC. */
    public static final int IA32_TSC = 0x10;

    @Override
    public String toString() {
        return "KvmMsr[0x" + Integer.toHexString(index) + "=0x" + Long.toHexString(data) + "]";
    }
}

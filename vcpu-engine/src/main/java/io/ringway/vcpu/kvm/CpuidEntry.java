package io.ringway.vcpu.kvm;

/**
 * One {@code struct kvm_cpuid_entry2} (40 bytes: function, index, flags, eax, ebx, ecx, edx,
 * padding[3], all u32; checked with gcc).
 *
 * @param function the CPUID leaf (EAX input)
 * @param index    the sub-leaf (ECX input) when {@code flags} has KVM_CPUID_FLAG_SIGNIFCANT_INDEX
 */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** {@code sizeof(struct kvm_cpuid_entry2)}. */
    public static final long SIZE = 40;
    /** {@code sizeof(struct kvm_cpuid2)}: nent and padding, entries follow. */
    static final long HEADER_SIZE = 8;

    @Override
    public String toString() {
        return String.format("cpuid 0x%x.%d: eax=0x%08x ebx=0x%08x ecx=0x%08x edx=0x%08x", function, index, eax, ebx, ecx, edx);
    }
}

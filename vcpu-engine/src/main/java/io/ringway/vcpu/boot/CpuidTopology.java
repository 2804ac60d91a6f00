package io.ringway.vcpu.boot;

import java.util.ArrayList;
import java.util.List;

import io.ringway.vcpu.kvm.CpuidEntry;

/**
 * The CPUID a vCPU of an SMP guest sees, from KVM_GET_SUPPORTED_CPUID: one package of {@code cpus}
 * cores with one thread each, vCPU {@code i} with APIC id {@code i} — the ids the MADT lists
 * ({@link AcpiTables}). Pure: no KVM involved, so every leaf is unit-tested.
 *
 * <p>What Linux (6.1) reads, and what is set here so that its "smpboot" and /proc/cpuinfo topology
 * agree with the MADT and it prints no "[Firmware Bug]: CPU<n>: APIC id mismatch":
 * <pre>
 * leaf         field                                   value
 * 0x0          EAX max basic leaf                      raised to 0xB when lower (0xB is added)
 * 0x1          EBX[31:24] initial APIC id              apicId
 *              EBX[23:16] addressable logical CPUs     cpus
 *              EDX[28] HTT                             cpus &gt; 1
 *              ECX[31] hypervisor, ECX[24] TSC-deadline set (KVM emulates the timer but leaves the bit out)
 * 0x4 (Intel)  EAX[31:26] cores per package - 1        2^coreBits - 1
 *              EAX[25:14] CPUs sharing the cache - 1   0 (one thread per core), L3: 2^coreBits - 1
 * 0xB, 0x1F    sub-leaf 0: SMT level                   EAX shift 0, EBX 1, ECX type 1
 *              sub-leaf 1: core level                  EAX shift coreBits, EBX cpus, ECX type 2
 *              sub-leaf 2: invalid (ends the list)     ECX type 0;  EDX x2APIC id = apicId in all
 * 0x8000_0001  ECX[1] CmpLegacy (AMD)                  cpus &gt; 1 (Linux then skips leaf 1's HT count)
 *              ECX[22] TopoExt (AMD)                   cleared: no 0x8000_001D/1E cache and core ids to keep consistent
 * 0x8000_0008  ECX[7:0] NC, cores - 1 (AMD)            cpus - 1
 *              ECX[15:12] ApicIdCoreIdSize (AMD)       coreBits
 * 0x8000_001D, 0x8000_001E                             removed (TopoExt is off)
 * </pre>
 * {@code coreBits} = ceil(log2(cpus)): the core id is the APIC id's low coreBits bits and the package
 * id the rest (0), as Linux's amd_detect_cmp and detect_extended_topology derive them.
 */
public final class CpuidTopology {
    /** kvm_cpuid_entry2.flags: the sub-leaf (ECX) selects the entry. */
    static final int KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;
    static final int LEAF_EXTENDED_TOPOLOGY = 0xb;
    static final int LEAF_EXTENDED_TOPOLOGY_V2 = 0x1f;
    static final int LEAF_AMD_FEATURES = 0x8000_0001;
    static final int LEAF_AMD_SIZES = 0x8000_0008;
    static final int LEAF_AMD_CACHE_TOPOLOGY = 0x8000_001d;
    static final int LEAF_AMD_EXTENDED_APIC_ID = 0x8000_001e;
    static final int CPUID_1_EDX_HTT = 1 << 28;
    static final int CPUID_1_ECX_TSC_DEADLINE = 1 << 24;
    static final int CPUID_1_ECX_HYPERVISOR = 1 << 31;
    static final int CPUID_8000_0001_ECX_CMP_LEGACY = 1 << 1;
    static final int CPUID_8000_0001_ECX_TOPOEXT = 1 << 22;
    /** Leaf 0xB/0x1F level types (ECX[15:8]). */
    static final int LEVEL_INVALID = 0;
    static final int LEVEL_SMT = 1;
    static final int LEVEL_CORE = 2;

    private CpuidTopology() {
    }

    /**
     * The entries for the vCPU with APIC id {@code apicId} of a {@code cpus}-vCPU guest.
     *
     * @param supported   KVM_GET_SUPPORTED_CPUID
     * @param tscDeadline whether KVM emulates the TSC-deadline timer (KVM_CAP_TSC_DEADLINE_TIMER)
     */
    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int cpus, int apicId, boolean tscDeadline) {
        if (cpus < 1 || cpus > LinuxVm.MAX_CPUS) {
            throw new IllegalArgumentException("cpus must be 1.." + LinuxVm.MAX_CPUS + ", got " + cpus);
        }
        if (apicId < 0 || apicId >= cpus) {
            throw new IllegalArgumentException("APIC id must be 0.." + (cpus - 1) + " for " + cpus + " vCPUs, got " + apicId);
        }
        CpuidEntry leaf0 = find(supported, 0);
        if (leaf0 == null) {
            throw new IllegalArgumentException("the supported CPUID has no leaf 0 (" + supported.size() + " entries)");
        }
        boolean amd = isAmd(leaf0);
        int coreBits = coreBits(cpus);
        int maxBasic = Math.max(leaf0.eax(), LEAF_EXTENDED_TOPOLOGY);
        boolean v2 = maxBasic >= LEAF_EXTENDED_TOPOLOGY_V2 && find(supported, LEAF_EXTENDED_TOPOLOGY_V2) != null;
        List<CpuidEntry> out = new ArrayList<>(supported.size() + 3);
        for (CpuidEntry e : supported) {
            int f = e.function();
            if (f == LEAF_EXTENDED_TOPOLOGY || f == LEAF_EXTENDED_TOPOLOGY_V2
                || amd && (f == LEAF_AMD_CACHE_TOPOLOGY || f == LEAF_AMD_EXTENDED_APIC_ID)) {
                continue; // rewritten below, or dropped with TopoExt
            }
            out.add(switch (f) {
                case 0 -> with(e, maxBasic, e.ebx(), e.ecx(), e.edx());
                case 1 -> with(e, e.eax(),
                    (e.ebx() & 0x0000_ffff) | cpus << 16 | apicId << 24,
                    e.ecx() | CPUID_1_ECX_HYPERVISOR | (tscDeadline ? CPUID_1_ECX_TSC_DEADLINE : 0),
                    cpus > 1 ? e.edx() | CPUID_1_EDX_HTT : e.edx() & ~CPUID_1_EDX_HTT);
                case 4 -> amd || (e.eax() & 0x1f) == 0 ? e : with(e, intelCacheEax(e.eax(), coreBits), e.ebx(), e.ecx(), e.edx());
                case LEAF_AMD_FEATURES -> amd
                    ? with(e, e.eax(), e.ebx(), (cpus > 1 ? e.ecx() | CPUID_8000_0001_ECX_CMP_LEGACY : e.ecx() & ~CPUID_8000_0001_ECX_CMP_LEGACY)
                        & ~CPUID_8000_0001_ECX_TOPOEXT, e.edx())
                    : e;
                case LEAF_AMD_SIZES -> amd ? with(e, e.eax(), e.ebx(), (e.ecx() & ~0xffff) | coreBits << 12 | (cpus - 1), e.edx()) : e;
                default -> e;
            });
        }
        out.addAll(extendedTopology(LEAF_EXTENDED_TOPOLOGY, cpus, apicId));
        if (v2) {
            out.addAll(extendedTopology(LEAF_EXTENDED_TOPOLOGY_V2, cpus, apicId));
        }
        return out;
    }

    /** ceil(log2(cpus)): the APIC-id bits of the core level (0 for one vCPU). */
    public static int coreBits(int cpus) {
        return cpus <= 1 ? 0 : 32 - Integer.numberOfLeadingZeros(cpus - 1);
    }

    /** Leaf 0xB (or 0x1F) sub-leaves 0 (SMT), 1 (core), 2 (invalid: the end), as the SDM's "V2 Extended Topology Enumeration Leaf". */
    static List<CpuidEntry> extendedTopology(int leaf, int cpus, int apicId) {
        int flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
        return List.of(
            new CpuidEntry(leaf, 0, flags, 0, 1, LEVEL_SMT << 8, apicId), // one thread per core: shift 0
            new CpuidEntry(leaf, 1, flags, coreBits(cpus), cpus, LEVEL_CORE << 8 | 1, apicId),
            new CpuidEntry(leaf, 2, flags, 0, 0, LEVEL_INVALID << 8 | 2, apicId));
    }

    /** Intel leaf 4: cores per package in EAX[31:26], CPUs sharing the cache in EAX[25:14] (all cores for L3). */
    private static int intelCacheEax(int eax, int coreBits) {
        int level = eax >>> 5 & 0x7;
        int sharing = level >= 3 ? (1 << coreBits) - 1 : 0;
        return (eax & 0x3fff) | sharing << 14 | ((1 << coreBits) - 1) << 26;
    }

    /** "AuthenticAMD" or "HygonGenuine" in leaf 0 (EBX, EDX, ECX). */
    static boolean isAmd(CpuidEntry leaf0) {
        return leaf0.ebx() == 0x6874_7541 && leaf0.edx() == 0x6974_6e65 && leaf0.ecx() == 0x444d_4163 // "Auth" "enti" "cAMD"
            || leaf0.ebx() == 0x6f67_7948 && leaf0.edx() == 0x6e65_476e && leaf0.ecx() == 0x656e_6975; // "Hygo" "nGen" "uine"
    }

    private static CpuidEntry find(List<CpuidEntry> entries, int function) {
        for (CpuidEntry e : entries) {
            if (e.function() == function) {
                return e;
            }
        }
        return null;
    }

    private static CpuidEntry with(CpuidEntry e, int eax, int ebx, int ecx, int edx) {
        return new CpuidEntry(e.function(), e.index(), e.flags(), eax, ebx, ecx, edx);
    }
}

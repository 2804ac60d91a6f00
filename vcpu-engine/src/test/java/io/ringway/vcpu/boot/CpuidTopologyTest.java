package io.ringway.vcpu.boot;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import io.ringway.vcpu.kvm.CpuidEntry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPUID each vCPU of an SMP guest sees: leaves 1, 0xB, the AMD leaves and Intel's leaf 4, one rule
 * per test, on supported-CPUID lists shaped like the nested test's (AuthenticAMD with TopoExt offered,
 * a one-CPU host topology in 0xB) and an Intel one; and Linux's own derivation of package and core ids
 * from them matches the MADT's APIC ids.
 */
class CpuidTopologyTest {
    private static final int SIG = CpuidTopology.KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

    /** An AMD list as KVM gives it on a one-CPU host: max basic leaf 0xD, host values in 1, 0xB, 0x8000_0008, TopoExt on. */
    static List<CpuidEntry> amd(int maxBasic) {
        List<CpuidEntry> l = new ArrayList<>();
        l.add(new CpuidEntry(0, 0, 0, maxBasic, 0x6874_7541, 0x444d_4163, 0x6974_6e65));
        l.add(new CpuidEntry(1, 0, 0, 0x000f_06b1, 0x0000_0800 | 1 << 16, 0x0000_2001, 0x0780_8141));
        if (maxBasic >= 0xb) {
            l.add(new CpuidEntry(0xb, 0, SIG, 0, 1, 0x100, 0));
            l.add(new CpuidEntry(0xb, 1, SIG, 0, 1, 0x201, 0));
        }
        l.add(new CpuidEntry(0x8000_0000, 0, 0, 0x8000_001e, 0, 0, 0));
        l.add(new CpuidEntry(0x8000_0001, 0, 0, 0x000f_06b1, 0, 0x0040_0001 | 1 << 22, 0x2fd3_fbff));
        l.add(new CpuidEntry(0x8000_0008, 0, 0, 0x3028, 0, 0x0003_0000, 0));
        l.add(new CpuidEntry(0x8000_001d, 0, SIG, 0x121, 0, 0, 0));
        l.add(new CpuidEntry(0x8000_001e, 0, 0, 0, 0x100, 0, 0));
        return l;
    }

    /** An Intel list: max basic leaf 0x1F, leaf 4 with L1d and L3, 0xB and 0x1F with a host topology. */
    static List<CpuidEntry> intel() {
        List<CpuidEntry> l = new ArrayList<>();
        l.add(new CpuidEntry(0, 0, 0, 0x1f, 0x756e_6547, 0x6c65_746e, 0x4965_6e69)); // "Genu" "ntel" "ineI"
        l.add(new CpuidEntry(1, 0, 0, 0x0005_0657, 0x0010_0800, 0x7ffa_fbff, 0xbfeb_fbff));
        l.add(new CpuidEntry(4, 0, SIG, 0x1c00_4121, 0, 0, 0)); // L1d: level 1, type 1, host says 8 cores, 2 sharing
        l.add(new CpuidEntry(4, 1, SIG, 0x1c03_c163, 0, 0, 0)); // L3: level 3, type 3
        l.add(new CpuidEntry(4, 2, SIG, 0, 0, 0, 0)); // no more caches
        l.add(new CpuidEntry(0xb, 0, SIG, 1, 2, 0x100, 3));
        l.add(new CpuidEntry(0xb, 1, SIG, 4, 16, 0x201, 3));
        l.add(new CpuidEntry(0x1f, 0, SIG, 1, 2, 0x100, 3));
        l.add(new CpuidEntry(0x8000_0000, 0, 0, 0x8000_0008, 0, 0, 0));
        l.add(new CpuidEntry(0x8000_0001, 0, 0, 0, 0, 0x121, 0x2c10_0800));
        l.add(new CpuidEntry(0x8000_0008, 0, 0, 0x3027, 0, 0, 0));
        return l;
    }

    private static CpuidEntry leaf(List<CpuidEntry> l, int function, int index) {
        CpuidEntry found = null;
        for (CpuidEntry e : l) {
            if (e.function() == function && ((e.flags() & SIG) == 0 || e.index() == index)) {
                assertNull(found, "one entry per leaf/sub-leaf: " + e + " and " + found);
                found = e;
            }
        }
        return found;
    }

    private static int bits(int v, int hi, int lo) {
        return v >>> lo & (int) ((1L << (hi - lo + 1)) - 1);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void leaf1CarriesTheInitialApicIdAndTheLogicalCpuCount(int cpus) {
        for (int id = 0; id < cpus; id++) {
            CpuidEntry e = leaf(CpuidTopology.forVcpu(amd(0xd), cpus, id, true), 1, 0);
            assertEquals(id, bits(e.ebx(), 31, 24), "EBX[31:24] initial APIC id of vCPU " + id);
            assertEquals(cpus, bits(e.ebx(), 23, 16), "EBX[23:16] logical processors per package");
            assertEquals(0x0800, e.ebx() & 0xffff, "EBX[15:0] (CLFLUSH size, brand) kept");
            assertEquals(cpus > 1, (e.edx() & CpuidTopology.CPUID_1_EDX_HTT) != 0, "EDX[28] HTT iff more than one logical CPU");
        }
    }

    @Test
    void leaf1AddsHypervisorAndTscDeadlineOnlyWhenKvmEmulatesIt() {
        CpuidEntry with = leaf(CpuidTopology.forVcpu(amd(0xd), 1, 0, true), 1, 0);
        CpuidEntry without = leaf(CpuidTopology.forVcpu(amd(0xd), 1, 0, false), 1, 0);
        assertTrue((with.ecx() & CpuidTopology.CPUID_1_ECX_HYPERVISOR) != 0 && (without.ecx() & CpuidTopology.CPUID_1_ECX_HYPERVISOR) != 0);
        assertTrue((with.ecx() & CpuidTopology.CPUID_1_ECX_TSC_DEADLINE) != 0);
        assertFalse((without.ecx() & CpuidTopology.CPUID_1_ECX_TSC_DEADLINE) != 0);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 16})
    void leafBDescribesOneThreadPerCoreAndCpusCoresWithTheX2ApicIdInEdx(int cpus) {
        int coreBits = CpuidTopology.coreBits(cpus);
        assertTrue((1 << coreBits) >= cpus && (coreBits == 0 || 1 << (coreBits - 1) < cpus), "coreBits " + coreBits + " for " + cpus);
        for (int id = 0; id < cpus; id++) {
            List<CpuidEntry> l = CpuidTopology.forVcpu(amd(0xd), cpus, id, false);
            CpuidEntry smt = leaf(l, 0xb, 0);
            CpuidEntry core = leaf(l, 0xb, 1);
            CpuidEntry end = leaf(l, 0xb, 2);
            assertEquals(0, smt.eax() & 0x1f, "SMT level: shift 0 (one thread per core)");
            assertEquals(1, smt.ebx() & 0xffff, "SMT level: one logical CPU per core");
            assertEquals(0x100, smt.ecx() & 0xffff, "SMT level: type 1, sub-leaf 0");
            assertEquals(coreBits, core.eax() & 0x1f, "core level: shift to the package id");
            assertEquals(cpus, core.ebx() & 0xffff, "core level: logical CPUs per package");
            assertEquals(0x201, core.ecx() & 0xffff, "core level: type 2, sub-leaf 1");
            assertEquals(0x002, end.ecx() & 0xffff, "sub-leaf 2: type 0 ends the enumeration");
            for (CpuidEntry e : List.of(smt, core, end)) {
                assertEquals(id, e.edx(), "EDX x2APIC id in every sub-leaf: " + e);
                assertEquals(SIG, e.flags() & SIG, "0xB entries are indexed: " + e);
            }
        }
    }

    @Test
    void leafBIsAddedAndTheMaxBasicLeafRaisedWhenKvmOffersNone() {
        List<CpuidEntry> l = CpuidTopology.forVcpu(amd(7), 2, 1, false);
        assertEquals(0xb, leaf(l, 0, 0).eax(), "leaf 0 EAX raised to 0xB");
        assertEquals(2, leaf(l, 0xb, 1).ebx() & 0xffff);
        assertEquals(0xd, leaf(CpuidTopology.forVcpu(amd(0xd), 2, 1, false), 0, 0).eax(), "a higher max basic leaf is kept");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void amdCmpLegacyIsSetForSmpTopoExtIsClearedAndItsLeavesRemoved(int cpus) {
        List<CpuidEntry> l = CpuidTopology.forVcpu(amd(0xd), cpus, 0, false);
        CpuidEntry ext = leaf(l, 0x8000_0001, 0);
        assertEquals(cpus > 1, (ext.ecx() & CpuidTopology.CPUID_8000_0001_ECX_CMP_LEGACY) != 0, "CmpLegacy iff several cores");
        assertEquals(0, ext.ecx() & CpuidTopology.CPUID_8000_0001_ECX_TOPOEXT, "TopoExt cleared");
        assertEquals(0x0000_0001, ext.ecx() & 0x1, "other bits (LAHF) kept");
        assertNull(leaf(l, 0x8000_001d, 0), "no 0x8000_001D without TopoExt");
        assertNull(leaf(l, 0x8000_001e, 0), "no 0x8000_001E without TopoExt");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 6})
    void amdLeaf80000008HasTheCoreCountAndApicIdCoreIdSize(int cpus) {
        CpuidEntry e = leaf(CpuidTopology.forVcpu(amd(0xd), cpus, 0, false), 0x8000_0008, 0);
        assertEquals(cpus - 1, bits(e.ecx(), 7, 0), "NC = cores - 1");
        assertEquals(CpuidTopology.coreBits(cpus), bits(e.ecx(), 15, 12), "ApicIdCoreIdSize");
        assertEquals(0x0003_0000, e.ecx() & 0xffff_0000, "ECX[31:16] kept");
        assertEquals(0x3028, e.eax(), "address sizes kept");
    }

    /**
     * Linux's AMD path (early_init_amd_mc, amd_detect_cmp): max cores = NC + 1, core id = APIC id's low
     * ApicIdCoreIdSize bits, package = the rest; and with CmpLegacy its leaf-1 HT count is not used.
     * Every vCPU must land in package 0 with its own core id, equal to its MADT APIC id.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 7, 8})
    void linuxsAmdDerivationGivesOnePackageAndTheMadtIdsAsCoreIds(int cpus) {
        Set<Integer> cores = new HashSet<>();
        for (int id = 0; id < cpus; id++) {
            List<CpuidEntry> l = CpuidTopology.forVcpu(amd(0xd), cpus, id, false);
            int apicId = bits(leaf(l, 1, 0).ebx(), 31, 24);
            int ecx = leaf(l, 0x8000_0008, 0).ecx();
            int maxCores = (ecx & 0xff) + 1;
            int coreBits = bits(ecx, 15, 12);
            if (coreBits == 0) {
                while (1 << coreBits < maxCores) {
                    coreBits++;
                }
            }
            assertEquals(cpus, maxCores);
            assertEquals(id, apicId, "initial APIC id = MADT LAPIC id");
            assertEquals(0, apicId >> coreBits, "package id of vCPU " + id);
            assertTrue(cores.add(apicId & ((1 << coreBits) - 1)), "core ids are distinct");
        }
    }

    /** Linux's detect_extended_topology: package id = x2APIC id >> the core level's shift; siblings per package = its EBX. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 5})
    void linuxsLeafBDerivationGivesOnePackage(int cpus) {
        for (int id = 0; id < cpus; id++) {
            List<CpuidEntry> l = CpuidTopology.forVcpu(intel(), cpus, id, false);
            CpuidEntry core = leaf(l, 0xb, 1);
            assertEquals(0, leaf(l, 0xb, 0).edx() >> (core.eax() & 0x1f), "package of vCPU " + id);
            assertEquals(id, leaf(l, 0xb, 0).edx() & ((1 << (core.eax() & 0x1f)) - 1), "core id of vCPU " + id);
        }
    }

    @Test
    void intelGetsNoAmdBitsAndItsLeaf4CoreAndSharingCounts() {
        List<CpuidEntry> l = CpuidTopology.forVcpu(intel(), 4, 2, false);
        assertEquals(0x121, leaf(l, 0x8000_0001, 0).ecx(), "no CmpLegacy on Intel");
        assertEquals(0, leaf(l, 0x8000_0008, 0).ecx(), "0x8000_0008 ECX untouched on Intel");
        CpuidEntry l1 = leaf(l, 4, 0);
        CpuidEntry l3 = leaf(l, 4, 1);
        assertEquals(3, bits(l1.eax(), 31, 26), "cores per package - 1");
        assertEquals(0, bits(l1.eax(), 25, 14), "L1 shared by one thread");
        assertEquals(3, bits(l3.eax(), 25, 14), "L3 shared by every core");
        assertEquals(0x163, l3.eax() & 0x3fff, "cache type and level kept");
        assertEquals(0, leaf(l, 4, 2).eax(), "the terminating sub-leaf stays 0");
        assertEquals(2, leaf(l, 0x1f, 1).edx(), "0x1F is rewritten like 0xB when KVM offers it");
        assertEquals(4, leaf(l, 0x1f, 1).ebx());
        assertEquals(0x1f, leaf(l, 0, 0).eax());
    }

    @Test
    void badCountsAreRejectedByName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CpuidTopology.forVcpu(amd(0xd), 2, 2, false))
            .getMessage().contains("APIC id must be 0..1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CpuidTopology.forVcpu(amd(0xd), 0, 0, false))
            .getMessage().contains("cpus must be"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CpuidTopology.forVcpu(List.of(), 1, 0, false))
            .getMessage().contains("no leaf 0"));
    }
}

package io.ringway.vcpu.kvm;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.ringway.runtime.sys.LinuxException;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.guest.LongMode;
import io.ringway.vcpu.guest.MicroGuest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** KVM_GET/SET_FPU, KVM_GET/SET_MSRS and KVM_GET_MSR_INDEX_LIST on this machine's KVM. */
class VcpuFpuMsrTest {
    private static final int REPORT_PORT = 0x20;
    /** CPUID 0x8000_0001 EDX bit 27: rdtscp (and IA32_TSC_AUX) present. */
    private static final int RDTSCP_BIT = 1 << 27;

    @Test
    void mxcsrAndAnXmmRegisterSetAreReadBack() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20);
             Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE)) {
            KvmFpu fpu = vcpu.getFpu();
            assertEquals(0x37f, fpu.fcw(), "x87 control word after reset: " + fpu);
            assertEquals(KvmFpu.MXCSR_DEFAULT, fpu.mxcsr(), "MXCSR after reset: " + fpu);
            int mxcsr = KvmFpu.MXCSR_DEFAULT | 0x6000 | 0x8000; // round toward zero, flush to zero
            fpu.mxcsr(mxcsr).fcw(0x27f).xmm(5, 0x1122_3344_5566_7788L, 0x99aa_bbcc_ddee_ff00L).xmm(15, -1L, 7L);
            vcpu.setFpu(fpu);

            KvmFpu back = vcpu.getFpu();
            assertEquals(mxcsr, back.mxcsr());
            assertEquals(0x27f, back.fcw());
            assertEquals(0x1122_3344_5566_7788L, back.xmmLow(5));
            assertEquals(0x99aa_bbcc_ddee_ff00L, back.xmmHigh(5));
            assertEquals(-1L, back.xmmLow(15));
            assertEquals(7L, back.xmmHigh(15));
            assertEquals(0L, back.xmmLow(4), "a neighbour register is untouched");
        }
    }

    @Test
    void anMxcsrWithReservedBitsIsRefusedWithTheValueNamed() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20);
             Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE)) {
            assumeTrue(kvm.checkExtension(KvmApi.KVM_CAP_XSAVE) > 0, "skipped, needs KVM_CAP_XSAVE (MXCSR is set through the XSAVE image)");
            KvmFpu fpu = vcpu.getFpu().mxcsr(0xffff_0000 | KvmFpu.MXCSR_DEFAULT);
            LinuxException e = assertThrows(LinuxException.class, () -> vcpu.setFpu(fpu));
            assertTrue(e.getMessage().contains("KVM_SET_XSAVE mxcsr=0xffff1f80"), e.getMessage());
            assertEquals(KvmFpu.MXCSR_DEFAULT, vcpu.getFpu().mxcsr(), "the refused value did not stick");
        }
    }

    @Test
    void theMsrIndexListNamesTscAuxAndKernelGsBase() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            int[] list = kvm.msrIndexList();
            assertTrue(list.length > 10, "only " + list.length + " MSRs");
            assertTrue(Arrays.stream(list).anyMatch(i -> i == KvmMsr.IA32_KERNEL_GS_BASE), "KERNEL_GS_BASE in " + list.length);
            assertTrue(Arrays.stream(list).anyMatch(i -> i == KvmMsr.IA32_EFER) || Arrays.stream(list).anyMatch(i -> i == KvmMsr.IA32_TSC),
                "EFER or TSC in the list");
        }
    }

    @Test
    void msrsWrittenAreReadBackAndAnUnknownOneIsNamed() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20);
             Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE)) {
            vcpu.setMsrs(List.of(new KvmMsr(KvmMsr.IA32_KERNEL_GS_BASE, 0xffff_8000_1234_5000L)));
            assertEquals(0xffff_8000_1234_5000L, vcpu.getMsr(KvmMsr.IA32_KERNEL_GS_BASE));
            long efer = vcpu.getMsr(KvmMsr.IA32_EFER);
            assertEquals(vcpu.getSregs().efer(), efer, "EFER through KVM_GET_MSRS is the sregs' EFER");

            LinuxException bad = assertThrows(LinuxException.class, () -> vcpu.getMsrs(KvmMsr.IA32_KERNEL_GS_BASE, 0x4000_1234));
            assertTrue(bad.getMessage().contains("MSR 0x40001234 (entry 1 of 2)"), bad.getMessage());
            LinuxException nonCanonical = assertThrows(LinuxException.class,
                () -> vcpu.setMsr(KvmMsr.IA32_KERNEL_GS_BASE, 0x8000_0000_0000_0000L));
            assertTrue(nonCanonical.getMessage().contains("0xc0000102=0x8000000000000000"), nonCanonical.getMessage());
            assertThrows(IllegalArgumentException.class, () -> vcpu.getMsrs());
        }
    }

    @Test
    void aCpl0GuestReadsTheMsrSetFromTheHost() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20)) {
            X86Assembler a = new X86Assembler();
            a.mov(Reg.RCX, KvmMsr.IA32_KERNEL_GS_BASE & 0xffff_ffffL);
            a.bytes((byte) 0x0F, (byte) 0x32);                                        // rdmsr: edx:eax
            a.shl(Reg.RDX, 32).or(Reg.RAX, Reg.RDX);
            a.outImm(REPORT_PORT, 4);
            guest.load(MicroGuest.CODE, a.assemble());
            try (Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE)) {
                KvmSregs sregs = vcpu.getSregs();
                LongMode.enter(sregs, 0, guest.cr3(), MicroGuest.GDT, MicroGuest.IDT, 0, MicroGuest.TSS);
                vcpu.setSregs(sregs);
                vcpu.setMsr(KvmMsr.IA32_KERNEL_GS_BASE, 0xffff_8000_00c0_ffeeL);

                KvmRegs regs = runToReport(vcpu);
                assertEquals(0xffff_8000_00c0_ffeeL, regs.gpr(Reg.RAX.code()), "rdmsr sees the KERNEL_GS_BASE set from the host");
            }
        }
    }

    @Test
    void aCpl3GuestSeesXmm0AndMxcsrSetFromTheHost() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20)) {
            X86Assembler a = new X86Assembler();
            a.bytes((byte) 0x66, (byte) 0x48, (byte) 0x0F, (byte) 0x7E, (byte) 0xC3); // movq rbx, xmm0
            a.mov(Reg.RSI, MicroGuest.DATA);
            a.bytes((byte) 0x0F, (byte) 0xAE, (byte) 0x1E);                           // stmxcsr [rsi]
            a.load32(Reg.RAX, Mem.at(Reg.RSI));
            a.outImm(REPORT_PORT, 4);
            guest.load(MicroGuest.CODE, a.assemble());
            try (Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE)) {
                vcpu.setFpu(vcpu.getFpu().xmm(0, 0x0bad_cafe_f00d_d00dL, 0).mxcsr(KvmFpu.MXCSR_DEFAULT | 0x8000));

                KvmRegs regs = runToReport(vcpu);
                assertEquals(0x0bad_cafe_f00d_d00dL, regs.gpr(Reg.RBX.code()), "xmm0 set from the host");
                assertEquals(KvmFpu.MXCSR_DEFAULT | 0x8000, regs.gpr(Reg.RAX.code()), "stmxcsr: the MXCSR set from the host");
            }
        }
    }

    @Test
    void aCpl3GuestSeesTscAuxThroughRdtscp() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20)) {
            boolean rdtscp = kvm.supportedCpuid().stream()
                .anyMatch(e -> e.function() == 0x8000_0001 && (e.edx() & RDTSCP_BIT) != 0);
            assumeTrue(rdtscp, "skipped, needs rdtscp in KVM's supported CPUID (0x80000001 EDX bit 27)");
            X86Assembler a = new X86Assembler();
            a.bytes((byte) 0x0F, (byte) 0x01, (byte) 0xF9);                        // rdtscp: ecx = TSC_AUX
            a.outImm(REPORT_PORT, 4);
            guest.load(MicroGuest.CODE, a.assemble());
            try (Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE)) {
                vcpu.setMsr(KvmMsr.IA32_TSC_AUX, 0x00c0_ffeeL);
                assertEquals(0x00c0_ffeeL, runToReport(vcpu).gpr(Reg.RCX.code()), "rdtscp's ECX is the TSC_AUX set from the host");
            }
        }
    }

    private static KvmRegs runToReport(Vcpu vcpu) {
        assertEquals(0, vcpu.run());
        assertEquals(KvmApi.KVM_EXIT_IO, vcpu.exitReason(), () -> KvmApi.exitName(vcpu.exitReason()) + " at rip=0x"
            + Long.toHexString(vcpu.getRegs().rip()) + " suberror=" + vcpu.kvmRun().get(java.lang.foreign.ValueLayout.JAVA_INT, 32));
        assertEquals(REPORT_PORT, vcpu.ioPort());
        return vcpu.getRegs();
    }
}

package io.ringway.vcpu.exit;

import java.time.Duration;

import org.junit.jupiter.api.Test;

import io.ringway.runtime.sys.EventFd;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.guest.InterruptGuest;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmTestSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A guest that faults with no handler for the exception, or never finishes, ends its run with a
 * report naming the exit reason and where the guest was, within a deadline: never a hang.
 */
class GuestFaultTest {
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    /** Runs {@code code} at CPL 3 in a guest whose IDT has the interrupt gates of {@link InterruptGuest} and no exception handler. */
    private static RunResult runWithInterruptIdt(byte[] code, Duration deadline) {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20);
             EventFd irq = EventFd.create(true)) {
            InterruptGuest ig = InterruptGuest.install(guest, irq, 0);
            guest.load(MicroGuest.CODE, code);
            var vcpu = ig.createVcpu(0, MicroGuest.CODE, 3);
            return VcpuWatchdog.run(new VcpuRunner(vcpu, new IoBus(), new MmioBus(), new ExitStats()), "vcpu-0", deadline);
        }
    }

    @Test
    void aGeneralProtectionFaultWithNoHandlerEndsTheRunWithTheExitReasonAndRip() {
        X86Assembler a = new X86Assembler();
        a.nop().hlt(); // hlt at CPL 3: #GP; gate 13 absent -> #NP -> #DF, gate 8 absent -> triple fault

        RunResult result = runWithInterruptIdt(a.assemble(), DEADLINE);

        assertEquals(RunResult.Outcome.FAULT, result.outcome(), result.report());
        assertEquals(KvmApi.KVM_EXIT_SHUTDOWN, result.exitReason(), result.report());
        assertTrue(result.report().startsWith("vCPU 0 ended by KVM_EXIT_SHUTDOWN"), result.report());
        assertTrue(result.report().contains("rip=0x10001"), "the report names the faulting instruction: " + result.report());
    }

    @Test
    void aPageFaultWithNoHandlerEndsTheRunWithTheExitReasonRipAndFaultingAddress() {
        X86Assembler a = new X86Assembler();
        a.mov(Reg.RBX, 0x2_0000_0000L).store32(Mem.at(Reg.RBX), 1); // above the 4 GiB identity map: #PF
        int faulting = new X86Assembler().mov(Reg.RBX, 0x2_0000_0000L).assemble().length;

        RunResult result = runWithInterruptIdt(a.assemble(), DEADLINE);

        assertEquals(RunResult.Outcome.FAULT, result.outcome(), result.report());
        assertEquals(KvmApi.KVM_EXIT_SHUTDOWN, result.exitReason(), result.report());
        assertTrue(result.report().contains("rip=0x" + Long.toHexString(MicroGuest.CODE + faulting)), result.report());
        assertTrue(result.report().contains("cr2=0x200000000"), "CR2 names the address: " + result.report());
    }

    @Test
    void aGuestThatNeverFinishesIsStoppedAtItsDeadlineWithItsRip() {
        X86Assembler a = new X86Assembler();
        Label self = a.newLabel("self");
        a.bind(self).jmp(self);
        long t0 = System.nanoTime();

        RunResult result = runWithInterruptIdt(a.assemble(), Duration.ofMillis(500));

        long tookMs = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(RunResult.Outcome.DEADLINE_PASSED, result.outcome(), result.report());
        assertTrue(result.report().startsWith("vCPU 0 did not finish within its deadline of 500 ms"), result.report());
        assertTrue(result.report().contains("stopped at rip=0x10000"), result.report());
        assertTrue(tookMs < 10_000, "the watchdog returned after " + tookMs + " ms");
    }
}

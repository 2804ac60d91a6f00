package io.ringway.vcpu.bench;

import org.junit.jupiter.api.Test;

import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmTestSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The interrupt entries of the exit-cost suite: every interrupt reaches the handler once, none exits to userspace. */
class InterruptCostTest {
    private static void check(ExitCostSuite.Result r, int n, Kvm kvm) {
        assertEquals(n, r.eventfdCount(), r.kind().label() + ": interrupts the guest handler acknowledged");
        assertEquals(0, r.userspaceExits(), r.kind().label() + ": exits to userspace besides the done port");
        assertEquals(n, r.hostExitNanos().getTotalCount(), "host samples");
        assertEquals(n, r.guestNanos().getTotalCount(), "guest samples");
        assertTrue(r.hostExitNanos().getValueAtPercentile(50) > 0);
        if (kvm.checkExtension(KvmApi.KVM_CAP_BINARY_STATS_FD) > 0) {
            assertTrue(r.kvmStats().get("irq_injections") >= n, "KVM irq_injections moved by at least " + n + ": " + r.kvmStats());
        }
    }

    @Test
    void theIrqfdRoundTripTakesOneInterruptPerOperation() {
        int n = 300;
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            check(ExitCostSuite.run(kvm, ExitCostSuite.Kind.IRQ_ROUND_TRIP, n), n, kvm);
        }
    }

    @Test
    void theHltWakeupTakesOneInterruptPerOperation() {
        int n = 100;
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            ExitCostSuite.Result r = ExitCostSuite.run(kvm, ExitCostSuite.Kind.HLT_WAKEUP, n);
            check(r, n, kvm);
            if (kvm.checkExtension(KvmApi.KVM_CAP_BINARY_STATS_FD) > 0) {
                assertTrue(r.kvmStats().get("halt_exits") + r.kvmStats().get("halt_wakeup") > 0, "the guest halted: " + r.kvmStats());
            }
        }
    }

    @Test
    void withHltExitsDisabledAHaltedGuestStillWakesOnItsInterrupt() {
        int n = 50;
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            int offered = Math.max(0, kvm.checkExtension(KvmApi.KVM_CAP_X86_DISABLE_EXITS));
            org.junit.jupiter.api.Assumptions.assumeTrue((offered & KvmApi.KVM_X86_DISABLE_EXITS_HLT) != 0,
                "skipped, KVM_CAP_X86_DISABLE_EXITS does not offer HLT here");
            ExitCostSuite.Result r = ExitCostSuite.run(kvm, ExitCostSuite.Kind.HLT_WAKEUP, n, null, KvmApi.KVM_X86_DISABLE_EXITS_HLT);
            check(r, n, kvm);
            if (KvmFlavour.detect() != KvmFlavour.PVM && r.kvmStats().containsKey("halt_exits")) {
                // hardware KVM: hlt no longer exits, the CPU halts in the guest until the interrupt
                assertEquals(0, r.kvmStats().get("halt_exits"), "halt exits with HLT exiting disabled: " + r.kvmStats());
            }
            // PVM accepts the capability but emulates the CPL-0 hlt anyway: halt_exits still counts every halt (seen: 50 of 50)
        }
    }
}

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
        int n = 500;
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
}

package io.ringway.vcpu.bench;

import org.junit.jupiter.api.Test;

import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmTestSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The doorbell-seen entries of the exit-cost suite: every guest kick reaches the data-plane thread
 * once (polling or asleep in epoll), each is answered before the next, none exits to userspace.
 */
class DoorbellSeenCostTest {
    private static void check(ExitCostSuite.Result r, int n) {
        assertEquals(n, r.eventfdCount(), r.kind().label() + ": kicks the data-plane thread read");
        assertEquals(0, r.userspaceExits(), r.kind().label() + ": exits to userspace besides the done port");
        assertEquals(n, r.hostExitNanos().getTotalCount(), "host samples");
        assertEquals(n, r.guestNanos().getTotalCount(), "guest samples");
        assertSame(r.guestNanos(), r.primary(), "the table shows the guest's round trip");
        assertTrue(r.guestNanos().getValueAtPercentile(50) > 0);
        // the guest's round trip contains the host's part: a median below the host's would mean a broken clock
        assertTrue(r.guestNanos().getValueAtPercentile(50) >= r.hostExitNanos().getValueAtPercentile(50) / 2,
            "guest median " + r.guestNanos().getValueAtPercentile(50) + " ns vs host part " + r.hostExitNanos().getValueAtPercentile(50) + " ns");
    }

    @Test
    void aPollingDataPlaneThreadSeesEveryKickOnce() {
        int n = 300;
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            check(ExitCostSuite.run(kvm, ExitCostSuite.Kind.DOORBELL_SEEN_POLLING, n), n);
        }
    }

    @Test
    void aSleepingDataPlaneThreadWakesForEveryKick() {
        int n = 200;
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            check(ExitCostSuite.run(kvm, ExitCostSuite.Kind.DOORBELL_SEEN_SLEEPING, n), n);
        }
    }
}

package io.ringway.vcpu.workload;

import org.junit.jupiter.api.Test;

import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmTestSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A CPL-3 guest sends frames through a Ringway net device in loopback and checks what comes back. */
class NetLoopWorkloadTest {

    @Test
    void aGuestDriverGets20000FramesBackCheckedWithoutKickExits() {
        int frames = 20_000;
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            DriverLoop.Result r = NetLoopWorkload.run(kvm, DriverLoop.Options.requests(frames, 128));

            assertNull(r.error(), r.error());
            assertEquals(RunResult.Outcome.FINISHED, r.run().outcome(), r.run().report());
            assertEquals(frames, r.completed(), "frames sent and received back");
            assertEquals(frames, r.kicks());
            assertEquals(r.negotiationMmioAccesses(), r.mmioExits(), "MMIO exits to userspace");
            assertEquals(0, r.notifyExits());
            assertTrue(r.interrupts() > 0, "completions raised the irqfd");
        }
    }
}

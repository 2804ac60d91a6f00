package io.ringway.vcpu.workload;

import org.junit.jupiter.api.Test;

import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.storage.bdev.NullBlockDevice;
import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmTestSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A CPL-3 guest driver loop against a Ringway blk device over virtio-mmio, kicks through an ioeventfd. */
class BlkDriverWorkloadTest {

    @Test
    void aGuestDriverMoves100000CheckedRequestsThroughAMallocBdevWithoutKickExits() {
        int requests = 100_000;
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             MallocBlockDevice bdev = new MallocBlockDevice("malloc0", 1 << 20, 512, false)) {
            BlkDriverWorkload.Result r = BlkDriverWorkload.run(kvm, bdev, BlkDriverWorkload.Options.requests(requests));

            assertNull(r.error(), r.error());
            assertEquals(RunResult.Outcome.FINISHED, r.run().outcome(), r.run().report());
            assertEquals(requests, r.completed(), "requests completed");
            assertEquals(requests, r.kicks(), "kicks written by the guest");
            // Every MMIO exit is a negotiation register access: the 100 000 kicks never left KVM.
            assertEquals(r.negotiationMmioAccesses(), r.mmioExits(), "MMIO exits to userspace");
            assertEquals(0, r.notifyExits(), "QueueNotify writes that reached userspace");
            assertTrue(r.interrupts() > 0, "completions raised the irqfd");
            assertEquals(Math.min(requests, 1 << 20), r.guestNanos().getTotalCount(), "a latency sample per request");
            assertNull(BlkDriverWorkload.checkMallocContents(bdev.memory(), r), "bdev contents");
        }
    }

    @Test
    void aNullBdevRunsForADurationWithoutDataChecks() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             NullBlockDevice bdev = new NullBlockDevice("null0", 64L << 20, 512, false)) {
            BlkDriverWorkload.Options o = new BlkDriverWorkload.Options(0, 300, 16L << 20, 4096, false,
                io.ringway.runtime.poll.IdlePolicy.adaptive(), -1, 5_000, false);
            BlkDriverWorkload.Result r = BlkDriverWorkload.run(kvm, bdev, o);

            assertNull(r.error(), r.error());
            assertTrue(r.completed() > 0, "requests completed in 300 ms: " + r.completed());
            assertEquals(r.completed(), r.kicks());
            assertEquals(r.negotiationMmioAccesses(), r.mmioExits(), "MMIO exits to userspace");
        }
    }
}

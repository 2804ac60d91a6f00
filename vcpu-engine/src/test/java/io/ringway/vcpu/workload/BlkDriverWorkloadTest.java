package io.ringway.vcpu.workload;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;

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
            DriverLoop.Result r = BlkDriverWorkload.run(kvm, bdev, DriverLoop.Options.requests(requests, 512));

            assertNull(r.error(), r.error());
            assertEquals(RunResult.Outcome.FINISHED, r.run().outcome(), r.run().report());
            assertEquals(requests, r.completed(), "requests completed");
            assertEquals(requests, r.kicks(), "kicks written by the guest");
            // Every MMIO exit is a negotiation register access: the 100 000 kicks never left KVM.
            assertEquals(r.negotiationMmioAccesses(), r.mmioExits(), "MMIO exits to userspace");
            assertEquals(0, r.notifyExits(), "QueueNotify writes that reached userspace");
            assertTrue(r.interrupts() > 0, "completions raised the irqfd");
            assertEquals(Math.min(requests, 1 << 20), r.guestNanos().getTotalCount(), "a latency sample per request");
            assertNull(BlkDriverWorkload.checkDiskContents(bdev.memory(), r), "bdev contents");
            // Flip the byte (a fixed value would match the random pattern one time in 256).
            byte before = bdev.memory().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 5 * 512 + 7);
            bdev.memory().set(java.lang.foreign.ValueLayout.JAVA_BYTE, 5 * 512 + 7, (byte) ~before);
            String corrupted = BlkDriverWorkload.checkDiskContents(bdev.memory(), r);
            assertTrue(corrupted != null && corrupted.startsWith("block 5 qword 0:"), "the host check sees a changed byte: " + corrupted);
        }
    }

    @Test
    void aGuestDriverMovesCheckedRequestsThroughAVhostUserBackendWithoutKickExits(@TempDir Path dir) {
        int requests = 20_000;
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             MallocBlockDevice bdev = new MallocBlockDevice("malloc0", 1 << 20, 512, false);
             VirtioBlkDevice blk = VirtioBlkDevice.builder(bdev).name("vhost-test").build()) {
            Lcore lcore = Lcore.builder("vhost-test").idlePolicy(IdlePolicy.adaptive()).start();
            try (VhostUserBackend backend = VhostUserBackend.builder(blk, lcore).name("vhost-test").listen(dir.resolve("blk.sock"))) {
                DriverLoop.Result r = BlkDriverWorkload.runVhost(kvm, dir.resolve("blk.sock"), DriverLoop.Options.requests(requests, 512));

                assertNull(r.error(), r.error());
                assertEquals(requests, r.completed());
                assertEquals(requests, r.kicks());
                assertEquals(r.negotiationMmioAccesses(), r.mmioExits(), "MMIO exits to userspace");
                assertEquals(0, r.notifyExits());
                assertNull(BlkDriverWorkload.checkDiskContents(bdev.memory(), r), "bdev contents");
            } finally {
                lcore.close();
            }
        }
    }

    @Test
    void aReadThatDoesNotReturnTheWrittenDataIsReportedByTheGuest() {
        // the null bdev drops writes and leaves read buffers alone: the first read-back must fail
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             NullBlockDevice bdev = new NullBlockDevice("null0", 1 << 20, 512, false)) {
            DriverLoop.Result r = BlkDriverWorkload.run(kvm, bdev, DriverLoop.Options.requests(1_000, 512));

            assertEquals(RunResult.Outcome.FINISHED, r.run().outcome(), r.run().report());
            assertEquals(1, r.completed(), "the write completed, the read did not pass");
            assertTrue(r.error() != null && r.error().contains("data read back differs"), r.error());
        }
    }

    @Test
    void aDeviceThatNeverCompletesEndsTheRunWithAReportNotAHang() {
        VirtioDevice silent = new VirtioDevice() {
            @Override public int deviceType() { return 2; }
            @Override public long deviceFeatures() { return VirtioFeatures.mask(VirtioFeatures.VERSION_1); }
            @Override public int queueCount() { return 1; }
            @Override public int maxQueueSize() { return 256; }
            @Override public byte[] readConfig(int offset, int length) { return new byte[length]; }
            @Override public void writeConfig(int offset, byte[] data) { }
            @Override public void activate(long features, GuestMemory memory, List<Virtqueue> queues) { }
            @Override public void reset() { }
            @Override public int process(int queueIndex) { return 0; }
        };
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            DriverLoop.Options o = new DriverLoop.Options(10, 0, 16L << 20, 512, true, IdlePolicy.adaptive(), -1, -1, 300, false, true);
            long t0 = System.nanoTime();
            DriverLoop.Result r = DriverLoop.run(kvm, silent, BlkDriverProgram.build(MicroGuest.MMIO_BASE, 512), o, 0);
            long ms = (System.nanoTime() - t0) / 1_000_000;

            assertEquals(0, r.completed());
            assertTrue(r.error() != null && r.error().contains("stopped by the host while waiting for a completion"), r.error());
            assertTrue(ms < 10_000, "ended after " + ms + " ms");
        }
    }

    @Test
    void aNullBdevRunsForADurationWithoutDataChecksOrInterrupts() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             NullBlockDevice bdev = new NullBlockDevice("null0", 64L << 20, 512, false)) {
            DriverLoop.Options o = new DriverLoop.Options(0, 300, 16L << 20, 4096, false,
                IdlePolicy.adaptive(), -1, -1, 5_000, false, false);
            DriverLoop.Result r = BlkDriverWorkload.run(kvm, bdev, o);

            assertNull(r.error(), r.error());
            assertTrue(r.completed() > 0, "requests completed in 300 ms: " + r.completed());
            assertEquals(r.completed(), r.kicks());
            assertEquals(r.negotiationMmioAccesses(), r.mmioExits(), "MMIO exits to userspace");
            assertEquals(0, r.interrupts(), "VRING_AVAIL_F_NO_INTERRUPT: the device never signalled");
        }
    }
}

package io.ringway.vcpu.workload;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmTestSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The blk-driver guest on several vCPUs: one multi-queue virtio-blk device, a queue and a disk range per vCPU. */
class BlkDriverSmpTest {

    @Test
    void twoVcpusEachMove20000CheckedRequestsOnTheirOwnQueueWithoutKickExits() {
        int requests = 20_000;
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             MallocBlockDevice bdev = new MallocBlockDevice("malloc0", 1 << 20, 512, false)) {
            DriverLoop.SmpResult smp = BlkDriverWorkload.runSmp(kvm, bdev, DriverLoop.Options.requests(requests, 512), 2);

            assertNull(smp.error(), smp.error());
            assertEquals(2, smp.vcpus().size());
            assertEquals(1024, smp.blocksPerVcpu(), "1 MiB of 512 B blocks split between 2 vCPUs");
            int negotiation = smp.vcpus().get(0).negotiationMmioAccesses();
            assertTrue(negotiation > 0, "vCPU 0 negotiates");
            assertEquals(0, smp.vcpus().get(1).negotiationMmioAccesses(), "vCPU 1 only waits for GO");
            for (int k = 0; k < 2; k++) {
                DriverLoop.Result r = smp.vcpus().get(k);
                assertEquals(RunResult.Outcome.FINISHED, r.run().outcome(), "vCPU " + k + ": " + r.run().report());
                assertEquals(requests, r.completed(), "vCPU " + k + " completed its share");
                assertEquals(requests, r.kicks(), "vCPU " + k + " kicks");
                assertEquals(requests, r.guestNanos().getTotalCount(), "vCPU " + k + ": a latency sample per request");
                // vCPU 0's MMIO exits are its negotiation's; vCPU 1 has none: no kick left KVM.
                assertEquals(k == 0 ? negotiation : 0, r.mmioExits(), "vCPU " + k + " MMIO exits to userspace");
                assertEquals(0, r.notifyExits(), "QueueNotify writes that reached userspace");
            }
            assertNotEquals(smp.vcpus().get(0).seed(), smp.vcpus().get(1).seed(), "each vCPU writes its own pattern");
            assertEquals(2L * requests, smp.completed());
            assertTrue(smp.requestsPerSecond() > 0);

            MemorySegment disk = bdev.memory();
            assertNull(BlkDriverWorkload.checkDiskContents(disk, smp), "bdev contents, both ranges");
            // A byte changed in vCPU 1's range (block 1024 + 3) is found and blamed on vCPU 1.
            long at = (1024 + 3) * 512L + 9;
            byte before = disk.get(ValueLayout.JAVA_BYTE, at);
            disk.set(ValueLayout.JAVA_BYTE, at, (byte) ~before);
            String corrupted = BlkDriverWorkload.checkDiskContents(disk, smp);
            assertTrue(corrupted != null && corrupted.startsWith("vCPU 1 (from block 1024): block 3 qword 1:"), corrupted);
            disk.set(ValueLayout.JAVA_BYTE, at, before);
            // vCPU 0's pattern copied over vCPU 1's range (a request on the wrong range) fails the check.
            MemorySegment.copy(disk, 3 * 512L, disk, (1024 + 3) * 512L, 512);
            assertTrue(BlkDriverWorkload.checkDiskContents(disk, smp).startsWith("vCPU 1"), "vCPU 0's data in vCPU 1's range");
        }
    }

    @Test
    void aDeviceWithFewerQueuesThanVcpusIsRefusedByName() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             MallocBlockDevice bdev = new MallocBlockDevice("malloc0", 1 << 20, 512, false);
             var device = io.ringway.storage.blk.VirtioBlkDevice.builder(bdev).name("one-queue").build()) {
            var programs = java.util.List.of(BlkDriverProgram.build(0xd000_0000L, 512, 0, 2), BlkDriverProgram.build(0xd000_0000L, 512, 1, 2));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DriverLoop.runSmp(kvm, device, programs, DriverLoop.Options.requests(10, 512), 0, 1));
            assertTrue(e.getMessage().contains("1 queue(s), fewer than the 2 vCPUs"), e.getMessage());
        }
    }

    @Test
    void aDeviceWithoutMqFailsVcpu0ByNameAndTheWaitingVcpuIsReleasedNotHung() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             MallocBlockDevice bdev = new MallocBlockDevice("malloc0", 1 << 20, 512, false);
             var blk = io.ringway.storage.blk.VirtioBlkDevice.builder(bdev).name("no-mq").queues(2).build()) {
            io.ringway.vhost.virtio.VirtioDevice noMq = new io.ringway.vhost.virtio.VirtioDevice() {
                @Override public int deviceType() { return blk.deviceType(); }
                @Override public long deviceFeatures() { return blk.deviceFeatures() & ~(1L << 12); }
                @Override public int queueCount() { return blk.queueCount(); }
                @Override public int maxQueueSize() { return blk.maxQueueSize(); }
                @Override public byte[] readConfig(int offset, int length) { return blk.readConfig(offset, length); }
                @Override public void writeConfig(int offset, byte[] data) { blk.writeConfig(offset, data); }
                @Override public void activate(long f, io.ringway.vhost.virtio.GuestMemory m, java.util.List<io.ringway.vhost.virtio.Virtqueue> q) {
                    blk.activate(f, m, q);
                }
                @Override public void reset() { blk.reset(); }
                @Override public int process(int queueIndex) { return blk.process(queueIndex); }
            };
            var programs = java.util.List.of(BlkDriverProgram.build(0xd000_0000L, 512, 0, 2), BlkDriverProgram.build(0xd000_0000L, 512, 1, 2));
            DriverLoop.Options o = new DriverLoop.Options(100, 0, 16L << 20, 512, true, IdlePolicy.adaptive(), -1, -1, 300, false, true);
            long t0 = System.nanoTime();
            DriverLoop.SmpResult smp = DriverLoop.runSmp(kvm, noMq, programs, o, 1023, 1024);
            assertTrue(System.nanoTime() - t0 < 30_000_000_000L, "the run ended");
            assertTrue(smp.vcpus().get(0).error().contains("does not offer VIRTIO_BLK_F_MQ"), smp.vcpus().get(0).error());
            assertTrue(smp.vcpus().get(1).error().contains("waiting for vCPU 0 to set the device up"), smp.vcpus().get(1).error());
            assertEquals(0, smp.completed());
            assertTrue(smp.error().startsWith("vCPU 0: ") && smp.error().contains("; vCPU 1: "), smp.error());
        }
    }

    @Test
    void vcpuCountsOutsideOneToEightAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> BlkDriverProgram.build(0xd000_0000L, 512, 0, 9));
        assertThrows(IllegalArgumentException.class, () -> BlkDriverProgram.build(0xd000_0000L, 512, 2, 2));
    }

    @Test
    void oneVcpuBuildsExactlyTheSingleQueueProgram() {
        assertTrue(java.util.Arrays.equals(BlkDriverProgram.build(0xd000_0000L, 512).code(),
            BlkDriverProgram.build(0xd000_0000L, 512, 0, 1).code()));
        // The multi-queue vCPU 0 also reads DeviceFeatures word 0 (F_MQ) and num_queues.
        assertEquals(BlkDriverProgram.build(0xd000_0000L, 512).negotiationMmioAccesses() + 3 + 11,
            BlkDriverProgram.build(0xd000_0000L, 512, 0, 2).negotiationMmioAccesses(), "+ F_MQ check, num_queues, a second queue");
    }

    @Test
    void sharedCpusAreNamedAndSeparateOnesAreNot() {
        assertNull(DriverLoop.sharingNote(new int[] {0, 1}, 2, 4, IdlePolicy.adaptive()));
        String note = DriverLoop.sharingNote(new int[] {0, 1}, 1, 2, IdlePolicy.adaptive());
        assertTrue(note != null && note.contains("vCPU 1 on CPU 1") && note.contains("lcore on CPU 1") && note.contains("on 2 CPU(s)"), note);
        assertTrue(DriverLoop.sharingNote(new int[] {0, 0}, 2, 4, IdlePolicy.adaptive()) != null, "two vCPUs on CPU 0");
    }
}

package io.ringway.storage.blk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.DelayBlockDevice;
import io.ringway.storage.bdev.LatencyDistribution;
import io.ringway.storage.bdev.MallocBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link VirtioBlkDevice#drain}: what was taken is answered, nothing new is taken, and resuming takes it. */
class VirtioBlkDrainTest {
    @TempDir
    Path dir;

    @Test
    void drainingAnswersTakenRequestsAndTakesNoNewOnes() throws Exception {
        Lcore lcore = Lcore.builder("blk-drain").idlePolicy(IdlePolicy.backoff()).start();
        try (MallocBlockDevice ram = new MallocBlockDevice("m0", 1 << 20, 512, false)) {
            DelayBlockDevice slow = new DelayBlockDevice(ram, LatencyDistribution.parse("fixed:300ms"));
            drain(new BlkRig(lcore, dir.resolve("blk.sock"), slow, VirtioBlkDevice.builder(slow), false, 1));
        } finally {
            lcore.close();
        }
    }

    private static void drain(BlkRig r) throws Exception {
        try (BlkRig rig = r) {
            BlkDriver d = rig.driver(0);
            d.postRequest(0, VirtioBlk.T_OUT, 0, 4096, 1, false);
            awaitInFlight(rig.device, 1);
            rig.device.drain(true);
            // Taken before the drain: still answered.
            d.awaitUsed();
            assertEquals(0, d.statusByte(0));
            awaitInFlight(rig.device, 0);
            // Posted while draining: not taken.
            d.postRequest(1, VirtioBlk.T_IN, 0, 4096, 1, true);
            TimeUnit.MILLISECONDS.sleep(500);
            assertEquals(-1, d.pollUsedOnce(), "a request was taken while draining");
            assertEquals(0, rig.device.inFlight());
            rig.device.drain(false);
            d.awaitUsed();
            assertEquals(0, d.statusByte(1));
        }
    }

    private static void awaitInFlight(VirtioBlkDevice device, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (device.inFlight() != n) {
            assertTrue(System.nanoTime() < deadline, "in flight stayed " + device.inFlight() + ", expected " + n);
            TimeUnit.MILLISECONDS.sleep(1);
        }
    }
}

package io.ringway.storage.blk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.LibC;
import io.ringway.storage.bdev.DelayBlockDevice;
import io.ringway.storage.bdev.LatencyDistribution;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.VirtioFeatures;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One ring of a multi-queue device stopped (GET_VRING_BASE) and started again while its requests
 * are still in the block device and the other ring keeps running, with in-flight tracking: the
 * restarted ring resubmits what it held, and each request completes exactly once (the copy the
 * earlier run of the ring submitted is dropped, not completed a second time).
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class RingRestartTest {
    private static final long DISK = 8L << 20;
    private static final int WRITE = 4096;
    private static final int PER_QUEUE = 4;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void aRingRestartedWhileTheOtherRunsCompletesEachRequestExactlyOnce(boolean packed) throws Exception {
        restartRingZeroMidFlight(packed, true);
    }

    /**
     * Without in-flight tracking nothing is resubmitted: the requests the earlier run took complete
     * on the new run (split ring: SET_VRING_BASE is the front-end's avail position, the used index
     * is read from the ring).
     */
    @Test
    void withoutTrackingTheEarlierRunsRequestsCompleteOnTheRestartedRing() throws Exception {
        restartRingZeroMidFlight(false, false);
    }

    private void restartRingZeroMidFlight(boolean packed, boolean tracking) throws Exception {
        Lcore lcore = Lcore.builder("blk-restart").idlePolicy(IdlePolicy.backoff()).start();
        MallocBlockDevice ram = new MallocBlockDevice("m0", DISK, 512, false);
        DelayBlockDevice slow = new DelayBlockDevice(ram, LatencyDistribution.parse("fixed:300ms"));
        VirtioBlkDevice device = VirtioBlkDevice.builder(slow).queues(2).build();
        VhostUserBackend backend = VhostUserBackend.builder(device, lcore).name("blk-restart").listen(dir.resolve("r.sock"));
        FrontendMemory memory = FrontendMemory.create("guest", BlkDriver.MEMORY_SIZE);
        VhostUserFrontend f = VhostUserFrontend.connect(dir.resolve("r.sock"), Duration.ofSeconds(5));
        VhostUserFrontend.Inflight inflight = null;
        BlkDriver q0 = null;
        BlkDriver q1 = null;
        try {
            long wanted = device.deviceFeatures() & ~VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);
            if (!packed) {
                wanted &= ~VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
            }
            f.negotiate(wanted, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
            if (tracking) {
                inflight = f.getInflightFd(2, 128);
                f.setInflightFd(inflight.description(), inflight.fd());
            }
            f.setMemTable(memory);
            q0 = new BlkDriver(f, memory, 0, 128);
            q1 = new BlkDriver(f, memory, 1, 128);
            Map<Integer, Integer> slotOfId0 = new HashMap<>();
            Map<Integer, Integer> slotOfId1 = new HashMap<>();
            for (int s = 0; s < PER_QUEUE; s++) {
                slotOfId0.put(write(q0, s), s);
                slotOfId1.put(write(q1, s), s);
            }
            // The writes are now held in the block device for 300 ms: stop ring 0 and start it again.
            TimeUnit.MILLISECONDS.sleep(50);
            assertEquals(-1, q0.pollUsedOnce(), "ring 0 completed before its restart: the test proves nothing");
            int base = f.getVringBase(0);
            q0.restart(f, memory, tracking ? 0 : base);

            boolean[] done0 = new boolean[PER_QUEUE];
            boolean[] done1 = new boolean[PER_QUEUE];
            for (int i = 0; i < PER_QUEUE; i++) {
                markDone(q0, slotOfId0, done0, q0.awaitUsed());
                markDone(q1, slotOfId1, done1, q1.awaitUsed());
            }
            // Both copies of a request would have completed by now (300 ms each, resubmitted at once).
            TimeUnit.MILLISECONDS.sleep(900);
            assertEquals(-1, q0.pollUsedOnce(), "a request of the restarted ring completed twice");
            assertEquals(-1, q1.pollUsedOnce(), "a request of the running ring completed twice");
            for (int s = 0; s < PER_QUEUE; s++) {
                assertTrue(done0[s] && done1[s], "write " + s + " completed on both rings");
                assertArrayEquals(pattern(0, s), ram.memory().asSlice(sector(0, s) * 512L, WRITE).toArray(ValueLayout.JAVA_BYTE));
                assertArrayEquals(pattern(1, s), ram.memory().asSlice(sector(1, s) * 512L, WRITE).toArray(ValueLayout.JAVA_BYTE));
            }
            assertEquals(tracking ? PER_QUEUE : 0, device.metrics().get(0).staleDropped(),
                    tracking ? "the earlier run's copies were dropped" : "nothing resubmitted, nothing dropped");
            assertEquals(0, device.metrics().get(1).staleDropped(), "the running ring lost nothing");
            // The ring goes on serving after the restart.
            int id = write(q0, 0);
            assertEquals(id, (int) (q0.awaitUsed() >>> 32));
            assertEquals(VirtioBlk.S_OK, q0.statusByte(0));
        } finally {
            for (AutoCloseable c : List.<AutoCloseable>of(f, backend, memory, device, slow, lcore)) {
                c.close();
            }
            if (q0 != null) {
                q0.close();
            }
            if (q1 != null) {
                q1.close();
            }
            if (inflight != null) {
                LibC.closeQuietly(inflight.fd());
            }
        }
    }

    private static long sector(int queue, int slot) {
        return 64 + (queue * PER_QUEUE + slot) * 16L;
    }

    private static byte[] pattern(int queue, int slot) {
        byte[] b = new byte[WRITE];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (queue * 101 + slot * 31 + i * 7 + 1);
        }
        return b;
    }

    private static int write(BlkDriver d, int slot) {
        MemorySegment data = d.gpa(d.data(slot), WRITE);
        data.copyFrom(MemorySegment.ofArray(pattern(d.index, slot)));
        return d.postRequest(slot, VirtioBlk.T_OUT, sector(d.index, slot), WRITE, 1, false);
    }

    private static void markDone(BlkDriver d, Map<Integer, Integer> slotOfId, boolean[] done, long used) {
        int id = (int) (used >>> 32);
        Integer slot = slotOfId.remove(id);
        assertTrue(slot != null, "queue " + d.index + ": used id " + id + " was not submitted or completed twice");
        assertEquals(VirtioBlk.S_OK, d.statusByte(slot), "status of write " + slot);
        done[slot] = true;
    }
}

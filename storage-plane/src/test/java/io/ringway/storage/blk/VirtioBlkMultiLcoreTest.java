package io.ringway.storage.blk;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.MallocBlockDevice;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static io.ringway.storage.blk.VirtioBlkDeviceTest.fill;
import static io.ringway.storage.blk.VirtioBlkDeviceTest.transfer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** VirtioBlkDevice with its two queues on two lcores, both queues driven at once. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class VirtioBlkMultiLcoreTest {
    static final long DISK = 8L << 20;
    static Lcore lcore0;
    static Lcore lcore1;

    @TempDir
    Path dir;

    @BeforeAll
    static void startLcores() {
        lcore0 = Lcore.builder("blk-mq-0").idlePolicy(IdlePolicy.backoff()).start();
        lcore1 = Lcore.builder("blk-mq-1").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void stopLcores() {
        lcore0.close();
        lcore1.close();
    }

    /** Runs one task per queue on its own thread at once; rethrows the first failure. */
    static void perQueue(int queues, java.util.function.IntConsumer task) throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int q = 0; q < queues; q++) {
            int queue = q;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    task.accept(queue);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        if (failure.get() != null) {
            throw new AssertionError("queue traffic failed", failure.get());
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void twoQueuesOnTwoLcoresWriteAndReadBackByteExact(boolean packed) throws Exception {
        int queues = 2;
        try (MallocBlockDevice bdev = new MallocBlockDevice("m0", DISK, 512, false);
             BlkRig rig = new BlkRig(List.of(lcore0, lcore1), dir.resolve("blk-mq.sock"), bdev,
                     VirtioBlkDevice.builder(bdev), packed, queues)) {
            assertSame(lcore0, rig.backend.lcoreOf(0));
            assertSame(lcore1, rig.backend.lcoreOf(1));
            long region = DISK / queues;
            byte[][] expected = new byte[queues][];
            for (int q = 0; q < queues; q++) {
                MemorySegment pattern = MemorySegment.ofArray(new byte[(int) Math.min(region, 2L << 20)]);
                fill(pattern, 42 + q);
                expected[q] = pattern.toArray(ValueLayout.JAVA_BYTE);
            }
            byte[][] back = new byte[queues][];
            for (int round = 0; round < 3; round++) {
                int r = round;
                perQueue(queues, q -> transfer(rig.driver(q), VirtioBlk.T_OUT, q * region, expected[q], 7 + q + 100 * r));
                perQueue(queues, q -> {
                    back[q] = new byte[expected[q].length];
                    transfer(rig.driver(q), VirtioBlk.T_IN, q * region, back[q], 13 + q + 100 * r);
                });
                for (int q = 0; q < queues; q++) {
                    assertTrue(Arrays.equals(expected[q], back[q]), "round " + r + ": queue " + q + " read back what it wrote");
                    byte[] onDisk = bdev.memory().asSlice(q * region, back[q].length).toArray(ValueLayout.JAVA_BYTE);
                    assertTrue(Arrays.equals(expected[q], onDisk), "queue " + q + " data is on the RAM disk");
                }
            }
            for (int q = 0; q < queues; q++) {
                BlkMetrics m = rig.device.metrics().get(q);
                assertTrue(m.writes() > 0 && m.reads() > 0, "queue " + q + " served requests");
                assertEquals(0, m.errors(), "queue " + q + " errors");
            }
        }
    }
}

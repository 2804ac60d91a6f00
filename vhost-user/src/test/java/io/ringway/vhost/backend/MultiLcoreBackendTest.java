package io.ringway.vhost.backend;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static io.ringway.vhost.backend.VhostUserBackendTest.ALL_PROTOCOL;
import static io.ringway.vhost.backend.VhostUserBackendTest.SPLIT;
import static io.ringway.vhost.backend.VhostUserBackendTest.open;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One device's vrings spread over two lcores. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class MultiLcoreBackendTest {
    static Lcore lcore0;
    static Lcore lcore1;

    @TempDir
    Path dir;

    @BeforeAll
    static void startLcores() {
        lcore0 = Lcore.builder("mq-0").idlePolicy(IdlePolicy.backoff()).start();
        lcore1 = Lcore.builder("mq-1").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void stopLcores() {
        lcore0.close();
        lcore1.close();
    }

    /** Runs each driver's transfer on its own thread at once; rethrows the first failure. */
    static void transferAll(List<LoopbackDriver> drivers, int count) throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (LoopbackDriver d : drivers) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    d.transfer(count, 60_000);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        if (failure.get() != null) {
            throw new AssertionError("traffic failed", failure.get());
        }
    }

    @Test
    void twoQueuesOnTwoLcoresEchoEachOnItsOwnLcore() throws Exception {
        EchoDevice device = new EchoDevice(2, 1024);
        Path socket = dir.resolve("mq.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, List.of(lcore0, lcore1)).name("mq").listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             VhostUserFrontend f = open(socket, mem, SPLIT, ALL_PROTOCOL)) {
            assertSame(lcore0, backend.lcoreOf(0));
            assertSame(lcore1, backend.lcoreOf(1));
            List<LoopbackDriver> drivers = new ArrayList<>();
            for (int q = 0; q < 2; q++) {
                drivers.add(new LoopbackDriver(f, mem, q, 256, false));
            }
            transferAll(drivers, 50_000);
            for (int q = 0; q < 2; q++) {
                assertEquals(50_000, f.stopVring(q), "GET_VRING_BASE of queue " + q);
            }
            drivers.forEach(LoopbackDriver::close);
            assertEquals(Set.of("lcore-mq-0"), device.threadsOf(0), "queue 0 ran on lcore 0 only");
            assertEquals(Set.of("lcore-mq-1"), device.threadsOf(1), "queue 1 ran on lcore 1 only");
            assertEquals(1, device.activations.get());
        }
    }

    @Test
    void netLikeDeviceKeepsAQueuePairOnOneLcore() throws Exception {
        EchoDevice device = new EchoDevice(4, 1024);
        device.vringsPerGroup = 2;
        Path socket = dir.resolve("pairs.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore0).lcores(List.of(lcore0, lcore1))
                .listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             VhostUserFrontend f = open(socket, mem, SPLIT, ALL_PROTOCOL)) {
            List<LoopbackDriver> drivers = new ArrayList<>();
            for (int q = 0; q < 4; q++) {
                drivers.add(new LoopbackDriver(f, mem, q, 128, false));
            }
            transferAll(drivers, 10_000);
            drivers.forEach(LoopbackDriver::close);
            for (int q = 0; q < 4; q++) {
                Lcore expected = q < 2 ? lcore0 : lcore1;
                assertSame(expected, backend.lcoreOf(q), "vring " + q);
                assertEquals(Set.of("lcore-" + expected.name()), device.threadsOf(q), "vring " + q);
            }
        }
    }

    @Test
    void aPlacementOutsideTheLcoreListIsRefused() {
        EchoDevice device = new EchoDevice(2, 1024);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                VhostUserBackend.builder(device, List.of(lcore0, lcore1)).placement(q -> q * 2).listen(dir.resolve("bad.sock")));
        assertTrue(e.getMessage().contains("vring 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> VhostUserBackend.builder(device, List.of()));
    }

    @Test
    void memoryTableSwapWaitsForBothLcoresBeforeOldRegionsAreUnmapped() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        MemoryTableObserver observer = new MemoryTableObserver() {
            @Override
            public void lcoreAcknowledged(io.ringway.vhost.virtio.GuestMemory memory) {
                events.add("ack:" + Thread.currentThread().getName());
            }

            @Override
            public void oldRegionsUnmapped(int count) {
                events.add("unmapped:" + count);
            }
        };
        EchoDevice device = new EchoDevice(2, 1024);
        Path socket = dir.resolve("swap.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, List.of(lcore0, lcore1))
                .memoryObserver(observer).listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             SharedRegion extra = SharedRegion.create("hotplug", 1 << 20);
             VhostUserFrontend f = open(socket, mem, SPLIT, ALL_PROTOCOL)) {
            List<LoopbackDriver> drivers = List.of(new LoopbackDriver(f, mem, 0, 256, false),
                    new LoopbackDriver(f, mem, 1, 256, false));
            events.clear();
            int changesBefore = device.memoryChanges.get();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread traffic = Thread.ofPlatform().start(() -> {
                try {
                    transferAll(drivers, 30_000);
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            FrontendMemory.Region hotplug = new FrontendMemory.Region(extra, 0x4000_0000L);
            int swaps = 0;
            for (int i = 0; i < 10 && (i < 2 || traffic.isAlive()); i++) {
                f.setMemTable(mem); // the same memory again: new mappings, old ones unmapped
                f.addMemReg(hotplug);
                f.remMemReg(hotplug.tableEntry());
                swaps += 3;
            }
            traffic.join();
            if (failure.get() != null) {
                throw new AssertionError("traffic failed during memory table swaps", failure.get());
            }
            drivers.forEach(LoopbackDriver::close);
            List<String> seen = List.copyOf(events);
            assertEquals(3 * swaps, seen.size(), "two acks and one unmap per swap: " + seen);
            for (int i = 0; i < seen.size(); i += 3) {
                Set<String> acks = new HashSet<>(seen.subList(i, i + 2));
                assertEquals(Set.of("ack:lcore-mq-0", "ack:lcore-mq-1"), acks, "both lcores acknowledge first: " + seen);
                assertTrue(seen.get(i + 2).startsWith("unmapped:"), "then old regions are unmapped: " + seen);
            }
            assertEquals(swaps, device.memoryChanges.get() - changesBefore,
                    "the one-argument hook runs once per swap (on vring 0's lcore)");
            assertEquals(1, backend.currentMemory().regionCount());
            assertEquals(Set.of("lcore-mq-0"), device.threadsOf(0));
            assertEquals(Set.of("lcore-mq-1"), device.threadsOf(1));
        }
    }
}

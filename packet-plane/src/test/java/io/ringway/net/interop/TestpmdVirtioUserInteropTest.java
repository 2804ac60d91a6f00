package io.ringway.net.interop;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.device.VirtioNetMetrics;
import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.stats.StatsRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DPDK's virtio-user PMD ({@code dpdk-testpmd --vdev net_virtio_user0,path=SOCK}) as the driver of
 * Ringway's vhost-user-net back-end, in server mode in this JVM. Each run is bounded and testpmd's
 * forward statistics must match the device's counters exactly. Skips without testpmd or hugepages.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TestpmdVirtioUserInteropTest {
    @TempDir
    Path dir;

    private ForwardingEngine engine(StatsRegistry stats, Path socket, ForwardingMode mode, int queues) {
        return engine(stats, socket, mode, queues, 1);
    }

    /** With {@code lcores} unpinned lcores (queue pairs spread over them when there are several pairs). */
    private ForwardingEngine engine(StatsRegistry stats, Path socket, ForwardingMode mode, int queues, int lcores) {
        int[] cpus = new int[lcores];
        java.util.Arrays.fill(cpus, -1);
        return ForwardingEngine.start(new ForwardingEngine.Config(List.of(socket), false, queues, mode, cpus,
                IdlePolicy.backoff(), 64, 16384, true, true, stats));
    }

    private static String vdev(Path socket, boolean packed, boolean mergeable, int queues) {
        return "net_virtio_user0,path=" + socket + ",queues=" + queues + (queues > 1 ? ",cq=1" : "")
                + ",packed_vq=" + (packed ? 1 : 0) + ",mrg_rxbuf=" + (mergeable ? 1 : 0);
    }

    /** Waits until {@code value} has not changed for 300 ms (20 s at most) and returns it. */
    static long settle(LongSupplier value) throws InterruptedException {
        long last = value.getAsLong();
        long stableSince = System.currentTimeMillis();
        long deadline = stableSince + 20_000;
        while (System.currentTimeMillis() - stableSince < 300) {
            Thread.sleep(20);
            long now = value.getAsLong();
            if (now != last) {
                last = now;
                stableSince = System.currentTimeMillis();
            }
            assertTrue(System.currentTimeMillis() < deadline, "counters never settled");
        }
        return last;
    }

    private static void awaitActive(VirtioNetDevice device) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 20_000;
        while (!device.isActive()) {
            assertTrue(System.currentTimeMillis() < deadline, "testpmd never started the device's queues");
            Thread.sleep(10);
        }
    }

    /**
     * A loop: testpmd io with tx_first sends into the device, Ringway macswap sends every packet
     * back. Then Ringway stops forwarding (the test drains the port), testpmd drains its rings,
     * and both sides' counts must agree exactly, both ways. With two lcores the two queue pairs run
     * on different lcores, each with its macswap stream, and both lcores must have done work.
     */
    @ParameterizedTest(name = "packed={0} mergeable={1} queues={2} lcores={3}")
    @CsvSource({"false,true,1,1", "false,false,1,1", "true,true,1,1", "true,false,1,1", "false,true,2,1", "true,true,2,1",
            "false,true,2,2", "true,true,2,2"})
    void macswapLoopCountsMatchTestpmdExactly(boolean packed, boolean mergeable, int queues, int lcores) throws Exception {
        Testpmd.assumeAvailable();
        Path socket = dir.resolve("net.sock");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("net.stats"), 512);
             ForwardingEngine engine = engine(stats, socket, ForwardingMode.MACSWAP, queues, lcores)) {
            VirtioNetDevice device = engine.devices().get(0);
            VhostUserPort port = engine.ports().get(0);
            var backend = engine.backends().get(0);
            for (int k = 0; k < queues; k++) {
                assertEquals(engine.lcores().get(k % lcores), backend.lcoreOf(2 * k), "receiveq of pair " + k);
                assertEquals(backend.lcoreOf(2 * k), backend.lcoreOf(2 * k + 1), "a queue pair shares one lcore");
            }
            long[] busyBefore = engine.lcores().stream().mapToLong(Lcore::busyIterations).toArray();
            try (Testpmd testpmd = new Testpmd(vdev(socket, packed, mergeable, queues), queues, dir.resolve("testpmd.log"))) {
                awaitActive(device);
                testpmd.send("set fwd io");
                int mark = testpmd.send("start tx_first 4");
                testpmd.awaitOutput("testpmd> ", mark, 10_000);
                Thread.sleep(500);
                engine.stopStreams();
                // The streams are off: this thread is now the only reader of the port.
                long[] burst = new long[32];
                VirtioNetMetrics m = device.metrics();
                settle(() -> {
                    long moved = 0;
                    for (int q = 0; q < queues; q++) {
                        int n;
                        while ((n = port.rxBurst(q, burst, 0, 32)) > 0) {
                            engine.pool().freeBulk(null, burst, 0, n);
                            moved += n;
                        }
                    }
                    return m.txPackets.get() + m.rxPackets.get() + moved;
                });
                Testpmd.PortStats s = testpmd.stop(0);
                long guestTx = m.txPackets.get();
                long guestRx = m.rxPackets.get();
                assertTrue(guestTx > 4 * 32 && guestRx > 0, "traffic flowed both ways: " + s + " tx " + guestTx + " rx " + guestRx);
                assertEquals(s.txPackets(), guestTx, "testpmd TX-packets = packets the device took from the guest");
                assertEquals(s.rxPackets(), guestRx, "testpmd RX-packets = packets the device wrote to the guest");
                assertEquals(0, m.txDropShortHeader.get() + m.txDropEmpty.get() + m.txDropOversize.get()
                        + m.rxDropBufferTooSmall.get());
                assertEquals(guestTx, port.counters().rxPackets.get());
                assertEquals(64L * guestTx, m.txBytes.get(), "64-byte frames");
                assertEquals(queues == 2, device.maxQueuePairs() == 2);
                for (int i = 0; i < lcores; i++) {
                    Lcore l = engine.lcores().get(i);
                    assertTrue(l.busyIterations() > busyBefore[i], l.name() + " served its queue pair");
                }
            }
        }
    }

    /** testpmd txonly into Ringway rxonly: every packet testpmd counts as sent is received. */
    @Test
    void testpmdTxonlyIntoRingwayRxonly() throws Exception {
        Testpmd.assumeAvailable();
        Path socket = dir.resolve("net.sock");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("net.stats"), 512);
             ForwardingEngine engine = engine(stats, socket, ForwardingMode.RXONLY, 1);
             Testpmd testpmd = new Testpmd(vdev(socket, false, true, 1), 1, dir.resolve("testpmd.log"))) {
            VirtioNetDevice device = engine.devices().get(0);
            awaitActive(device);
            testpmd.send("set fwd txonly");
            testpmd.send("start");
            Thread.sleep(1000);
            Testpmd.PortStats s = testpmd.stop(0);
            long got = settle(() -> engine.ports().get(0).counters().rxPackets.get());
            assertTrue(s.txPackets() > 10_000, "testpmd sent " + s);
            assertEquals(s.txPackets(), got, "every packet testpmd sent reached the rxonly stream");
            assertEquals(s.txPackets(), device.metrics().txPackets.get());
        }
    }

    /** Ringway txonly into testpmd rxonly: every packet the device wrote to the guest is counted by testpmd. */
    @Test
    void ringwayTxonlyIntoTestpmdRxonly() throws Exception {
        Testpmd.assumeAvailable();
        Path socket = dir.resolve("net.sock");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("net.stats"), 512);
             ForwardingEngine engine = engine(stats, socket, ForwardingMode.TXONLY, 1)) {
            // Generate only once testpmd forwards: it ignores what arrives before "start".
            engine.stopStreams();
            try (Testpmd testpmd = new Testpmd(vdev(socket, true, true, 1), 1, dir.resolve("testpmd.log"))) {
            VirtioNetDevice device = engine.devices().get(0);
            awaitActive(device);
            testpmd.send("set fwd rxonly");
            int mark = testpmd.send("start");
            testpmd.awaitOutput("testpmd> ", mark, 10_000);
            engine.startStreams();
            Thread.sleep(1000);
            engine.stopStreams();
            long delivered = settle(() -> device.metrics().rxPackets.get());
            Thread.sleep(200);
            Testpmd.PortStats s = testpmd.stop(0);
            assertTrue(delivered > 10_000, "delivered " + delivered);
            assertEquals(delivered, s.rxPackets(), "testpmd RX-packets = packets the device wrote to the guest");
            assertEquals(0, s.rxDropped());
            }
        }
    }
}

package io.ringway.net.interop;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.device.VirtioNetMetrics;
import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.net.l2switch.MacTable;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ringway's L2 learning switch ({@link ForwardingEngine} in switch mode, two vhost-user ports, in
 * this JVM) with ONE dpdk-testpmd owning both ends ({@code --vdev net_virtio_user0} and
 * {@code net_virtio_user1}) in {@code mac} forwarding: what arrives on one testpmd port leaves on
 * the other addressed to the first port's MAC, so after {@code start tx_first} the frames circulate
 * through the switch (the topology of packet-plane/bench/switch-race.sh). Skips without testpmd or
 * hugepages.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SwitchTestpmdInteropTest {
    static final String MAC0 = "02:52:57:00:5e:00";
    static final String MAC1 = "02:52:57:00:5e:01";
    static final int MBUFS = 4096;

    @TempDir
    Path dir;

    private static ForwardingEngine engine(StatsRegistry stats, Path s0, Path s1) {
        return ForwardingEngine.start(new ForwardingEngine.Config(List.of(s0, s1), false, 1, ForwardingMode.SWITCH,
                new int[] {-1}, IdlePolicy.backoff(), 64, MBUFS, true, true, stats));
    }

    private Testpmd loop(Path s0, Path s1, String log) throws Exception {
        Testpmd t = new Testpmd(List.of("net_virtio_user0,path=" + s0 + ",queues=1,mac=" + MAC0,
                "net_virtio_user1,path=" + s1 + ",queues=1,mac=" + MAC1), 1, dir.resolve(log));
        t.send("set fwd mac");
        t.send("set eth-peer 0 " + MAC1);
        t.send("set eth-peer 1 " + MAC0);
        return t;
    }

    private static void waitFor(String what, long millis, BooleanSupplier condition) throws InterruptedException {
        waitFor(() -> what, millis, condition);
    }

    /** Waits for {@code condition}; on timeout fails with {@code what}, evaluated then. */
    private static void waitFor(Supplier<String> what, long millis, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, () -> "timed out after " + millis + " ms waiting for " + what.get());
            Thread.sleep(10);
        }
    }

    private static long mac(String text) {
        return MacTable.mac(HexFormat.ofDelimiter(":").parseHex(text));
    }

    /**
     * The loop runs for half a second; then the switch stops, testpmd forwards what it still has
     * back into the ports (where it stays), and every count must agree exactly: what testpmd sent on
     * a port is what that device took from the guest and the switch received on it plus what is
     * left in the port; what the switch sent to a port is what the device wrote to the guest and
     * what testpmd received there. Both MACs are learned on their own ports.
     */
    @Test
    void loopThroughTheSwitchCountsMatchTestpmdExactly() throws Exception {
        Testpmd.assumeAvailable();
        Path s0 = dir.resolve("s0.sock");
        Path s1 = dir.resolve("s1.sock");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("net.stats"), 512);
             ForwardingEngine engine = engine(stats, s0, s1);
             Testpmd testpmd = loop(s0, s1, "testpmd.log")) {
            List<VirtioNetDevice> devices = engine.devices();
            waitFor("testpmd to start both devices", 20_000, () -> devices.get(0).isActive() && devices.get(1).isActive());
            int mark = testpmd.send("start tx_first");
            testpmd.awaitOutput("testpmd> ", mark, 10_000);
            L2Switch sw = engine.l2switch();
            waitFor("traffic through the switch", 20_000, () -> sw.counters(0).rx.get() > 10_000 && sw.counters(1).rx.get() > 10_000);
            Thread.sleep(500);
            engine.stopStreams();
            long[] left = new long[2];
            long[] burst = new long[32];
            TestpmdVirtioUserInteropTest.settle(() -> {
                long moved = 0;
                for (int p = 0; p < 2; p++) {
                    int n;
                    while ((n = engine.ports().get(p).rxBurst(0, burst, 0, burst.length)) > 0) {
                        engine.pool().freeBulk(null, burst, 0, n);
                        left[p] += n;
                        moved += n;
                    }
                }
                return devices.get(0).metrics().txPackets.get() + devices.get(1).metrics().txPackets.get() + moved;
            });
            Testpmd.PortStats[] t = testpmd.stopAll(2);
            long now = System.nanoTime();
            assertEquals(0, sw.macTable().lookup(mac(MAC0), now), "testpmd port 0's MAC learned on switch port 0");
            assertEquals(1, sw.macTable().lookup(mac(MAC1), now), "testpmd port 1's MAC learned on switch port 1");
            for (int p = 0; p < 2; p++) {
                VirtioNetMetrics m = devices.get(p).metrics();
                VhostUserPort port = engine.ports().get(p);
                String at = "port " + p + " (testpmd " + t[p] + ", switch " + sw.counters(p) + ", left " + left[p] + ")";
                assertEquals(t[p].txPackets(), m.txPackets.get(), "testpmd TX = packets the device took from the guest, " + at);
                assertEquals(m.txPackets.get(), sw.counters(p).rx.get() + left[p], "switch rx + left in the port = device tx, " + at);
                assertEquals(sw.counters(p).tx.get(), m.rxPackets.get(), "switch tx = packets the device wrote to the guest, " + at);
                assertEquals(m.rxPackets.get(), t[p].rxPackets(), "device rx = testpmd RX, " + at);
                assertEquals(0, sw.counters(p).txDropped.get() + sw.counters(p).dropped.get(), "nothing dropped, " + at);
                assertEquals(m.txPackets.get(), port.counters().rxPackets.get(), at);
            }
        }
    }

    /**
     * testpmd is killed (SIGKILL) while frames circulate through the switch: both devices reset,
     * every buffer comes back to the pool ({@code available()} back to full, the lcore caches
     * included), the process goes on, and a new testpmd connects and loops frames again.
     */
    @Test
    void frontendKilledUnderLoadReturnsEveryBufferAndANewOneLoopsAgain() throws Exception {
        Testpmd.assumeAvailable();
        Path s0 = dir.resolve("s0.sock");
        Path s1 = dir.resolve("s1.sock");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("net.stats"), 512);
             ForwardingEngine engine = engine(stats, s0, s1)) {
            List<VirtioNetDevice> devices = engine.devices();
            L2Switch sw = engine.l2switch();
            try (Testpmd first = loop(s0, s1, "testpmd-1.log")) {
                waitFor("testpmd to start both devices", 20_000, () -> devices.get(0).isActive() && devices.get(1).isActive());
                // Four bursts per port in flight: the rings and the pool are busy when the kill comes.
                int mark = first.send("start tx_first 4");
                first.awaitOutput("testpmd> ", mark, 10_000);
                waitFor("traffic through the switch", 20_000, () -> sw.counters(0).rx.get() > 50_000);
                first.kill();
            }
            waitFor("both devices to reset", 20_000, () -> !devices.get(0).isActive() && !devices.get(1).isActive());
            waitFor(() -> "every buffer back in the pool (" + engine.pool().available() + " of " + MBUFS + ")", 20_000,
                    () -> engine.pool().available() == MBUFS);
            long before = sw.counters(0).rx.get() + sw.counters(1).rx.get();
            try (Testpmd second = loop(s0, s1, "testpmd-2.log")) {
                waitFor("the new testpmd to start both devices", 20_000, () -> devices.get(0).isActive() && devices.get(1).isActive());
                int mark = second.send("start tx_first");
                second.awaitOutput("testpmd> ", mark, 10_000);
                waitFor("frames to loop again through the switch", 20_000,
                        () -> sw.counters(0).rx.get() + sw.counters(1).rx.get() > before + 10_000);
                Testpmd.PortStats s = second.stop(0);
                assertTrue(s.rxPackets() > 0 && s.txPackets() > 0, "the new testpmd's port 0 received and sent: " + s);
            }
            waitFor("both devices to reset after the second testpmd quit", 20_000,
                    () -> !devices.get(0).isActive() && !devices.get(1).isActive());
            waitFor(() -> "every buffer back in the pool after the second testpmd (" + engine.pool().available() + ")", 20_000,
                    () -> engine.pool().available() == MBUFS);
        }
    }
}

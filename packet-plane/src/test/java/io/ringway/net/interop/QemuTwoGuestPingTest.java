package io.ringway.net.interop;

import io.ringway.net.device.VirtioNetMetrics;
import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.net.l2switch.MacTable;
import io.ringway.net.l2switch.SwitchPortCounters;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Two Linux guests under QEMU (TCG), each with {@code -netdev vhost-user} and
 * {@code -device virtio-net-pci}, on two ports of Ringway's L2 learning switch (a
 * {@link ForwardingEngine} in switch mode in this JVM): guest A (10.214.0.1) pings guest B
 * (10.214.0.2). B configures its address and waits; A retries a single ping until B answers (B may
 * still be booting), then sends {@code ping -c 3}. Passes when all three replies came back and the
 * switch learned each guest's MAC address on its own port. Skips with a message when QEMU, a kernel,
 * busybox or cpio are missing (.ci/run installs them). Console logs: target/qemu-interop/ping-*.console.log.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class QemuTwoGuestPingTest {
    static final String MAC_A = "52:54:00:21:40:01";
    static final String MAC_B = "52:54:00:21:40:02";
    /** How long each guest tries (A: ping attempts of 1 s, B: seconds it stays up). */
    static final int WAIT_SECONDS = 60;

    @TempDir
    Path dir;

    @BeforeAll
    static void peers() throws Exception {
        Optional<String> missing = QemuNetGuest.missingPeers();
        missing.ifPresent(System.out::println);
        assumeTrue(missing.isEmpty(), missing.orElse(""));
        QemuNetGuest.initramfs();
    }

    private static long mac(String text) {
        return MacTable.mac(HexFormat.ofDelimiter(":").parseHex(text));
    }

    @Test
    void twoGuestsPingEachOtherThroughTheLearningSwitch() throws Exception {
        Files.createDirectories(QemuNetGuest.WORK);
        Path sockA = dir.resolve("a.sock");
        Path sockB = dir.resolve("b.sock");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("net.stats"), 512)) {
            run(stats, sockA, sockB);
        }
    }

    private void run(StatsRegistry stats, Path sockA, Path sockB) throws Exception {
        ForwardingEngine.Config config = new ForwardingEngine.Config(List.of(sockA, sockB), false, 1,
                ForwardingMode.SWITCH, new int[] {-1}, IdlePolicy.backoff(), 64, 4096, true, true, stats);
        try (ForwardingEngine engine = ForwardingEngine.start(config)) {
            String consoleA;
            String consoleB;
            long t0 = System.nanoTime();
            try (QemuNetGuest b = QemuNetGuest.start(sockB, MAC_B, "netping",
                    List.of("peers.ip=10.214.0.2/24", "peers.role=answer", "peers.wait=" + WAIT_SECONDS),
                    QemuNetGuest.WORK.resolve("ping-b.console.log"));
                 QemuNetGuest a = QemuNetGuest.start(sockA, MAC_A, "netping",
                         List.of("peers.ip=10.214.0.1/24", "peers.role=ping", "peers.peer=10.214.0.2",
                                 "peers.wait=" + WAIT_SECONDS),
                         QemuNetGuest.WORK.resolve("ping-a.console.log"))) {
                boolean aEnded = a.awaitExit(TimeUnit.SECONDS.toMillis(WAIT_SECONDS + 30));
                consoleA = a.console();
                consoleB = b.console();
                System.out.printf("two-guest ping: %d ms; consoles %s, %s%n", (System.nanoTime() - t0) / 1_000_000,
                        a.consoleLog(), b.consoleLog());
                String why = "\n--- guest A (" + a.consoleLog() + "):\n" + markers(consoleA)
                        + "\n--- guest B (" + b.consoleLog() + "):\n" + markers(consoleB);
                assertTrue(aEnded, "guest A did not power off in time" + why);
                assertTrue(consoleB.contains("RINGWAY_NET ready"), "guest B never configured eth0" + why);
                assertTrue(consoleA.contains("driver=virtio_net"), "guest A's eth0 is not virtio_net" + why);
                assertTrue(consoleA.contains("3 packets transmitted, 3 packets received, 0% packet loss"),
                        "guest A did not get 3 replies from guest B" + why);
                assertTrue(consoleA.contains("RINGWAY_PING rc=0"), "ping failed in guest A" + why);
            }
            // The switch no longer runs once its poller is removed: its table may then be read here.
            engine.stopStreams();
            L2Switch sw = engine.l2switch();
            MacTable table = sw.macTable();
            long now = System.nanoTime();
            SwitchPortCounters pa = sw.counters(0);
            SwitchPortCounters pb = sw.counters(1);
            String counters = "switch counters: A " + pa + ", B " + pb;
            assertAll(
                    () -> assertEquals(0, table.lookup(mac(MAC_A), now), "guest A's MAC learned on port 0; " + counters),
                    () -> assertEquals(1, table.lookup(mac(MAC_B), now), "guest B's MAC learned on port 1; " + counters),
                    () -> assertEquals(2, table.size(now), "only the two guests are in the MAC table; " + counters),
                    // At least the three echo requests and their replies crossed the switch.
                    () -> assertTrue(pa.rx.get() >= 3 && pb.tx.get() >= 3, "A -> B frames; " + counters),
                    () -> assertTrue(pb.rx.get() >= 3 && pa.tx.get() >= 3, "B -> A frames; " + counters),
                    () -> assertTrue(pa.learned.get() >= 1 && pb.learned.get() >= 1, counters),
                    () -> assertEquals(0, sw.macMoves(), "no address moved between ports"));
            for (int i = 0; i < 2; i++) {
                VirtioNetMetrics m = engine.devices().get(i).metrics();
                String name = engine.ports().get(i).name();
                assertEquals(0, m.txDropShortHeader.get() + m.txDropEmpty.get() + m.txDropOversize.get()
                        + m.rxDropBufferTooSmall.get(), name + ": the Linux driver's frames were well formed");
                assertTrue(m.txPackets.get() >= 3 && m.rxPackets.get() >= 3,
                        name + ": guest tx " + m.txPackets.get() + ", guest rx " + m.rxPackets.get());
            }
        }
    }

    /** The marker lines and kernel errors of a console, for failure messages. */
    private static String markers(String console) {
        StringBuilder b = new StringBuilder();
        console.lines().filter(l -> l.contains("RINGWAY_") || l.contains("PEERS_") || l.contains("packets")
                        || l.contains("rror") || l.contains("vhost") || l.contains("virtio") || l.contains("panic"))
                .limit(40).forEach(l -> b.append("  ").append(l).append('\n'));
        return b.toString();
    }
}

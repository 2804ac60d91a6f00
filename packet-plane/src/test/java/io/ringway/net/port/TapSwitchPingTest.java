package io.ringway.net.port;

import io.ringway.net.l2switch.L2Switch;
import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.stats.StatsRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two network namespaces of the test's own, each holding one of two taps, ping each other through
 * Ringway's {@link L2Switch} running on an lcore: host IP stack to tap to switch to tap to host IP
 * stack, and back.
 */
class TapSwitchPingTest {
    @TempDir
    Path dir;

    @Test
    void namespacesPingEachOtherThroughTheSwitch() throws Exception {
        HostNet.assumeNamespacesAllowed();
        HostNet.pingCommand(); // skips when there is no ping
        String ns1 = HostNet.uniqueName("rwns", 1);
        String ns2 = HostNet.uniqueName("rwns", 2);
        String tap1 = HostNet.uniqueName("rwt", 1);
        String tap2 = HostNet.uniqueName("rwt", 2);
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("tap.stats"), 256);
             Mempool pool = Mbuf.createPool(1024);
             HostNet host = new HostNet()) {
            TapPort a = TapPort.open(tap1, pool, stats, 0);
            TapPort b = TapPort.open(tap2, pool, stats, 1);
            L2Switch sw = L2Switch.builder(stats).port(a).port(b).build();
            Lcore lcore = Lcore.builder("tap-switch").idlePolicy(IdlePolicy.backoff()).stats(stats).start();
            try {
                lcore.addPoller(sw).get(10, TimeUnit.SECONDS);
                host.addNamespace(ns1);
                host.addNamespace(ns2);
                HostNet.moveAndConfigure(ns1, tap1, "10.213.0.1/24");
                HostNet.moveAndConfigure(ns2, tap2, "10.213.0.2/24");

                HostNet.Result r = HostNet.ping(ns1, "10.213.0.2");
                assertEquals(0, r.exit(), "ping through the switch failed:\n" + r.output());
                assertTrue(r.output().contains("3 packets received"), r.output());

                // 3 echo requests one way, 3 replies the other, plus ARP (broadcast, flooded) and whatever IPv6 sends.
                assertTrue(sw.counters(0).rx.get() >= 4, "switch rx from " + tap1 + ": " + sw.counters(0));
                assertTrue(sw.counters(1).rx.get() >= 4, "switch rx from " + tap2 + ": " + sw.counters(1));
                assertTrue(sw.counters(0).tx.get() >= 3 && sw.counters(1).tx.get() >= 3, sw.counters(0) + " / " + sw.counters(1));
                assertTrue(sw.counters(0).learned.get() >= 1 && sw.counters(1).learned.get() >= 1, "both MACs learned");
                assertTrue(sw.counters(0).flooded.get() >= 1, "the ARP request is flooded");
                assertTrue(a.counters().rxPackets.get() >= 4 && b.counters().txPackets.get() >= 3, a + " / " + b);
                assertTrue(b.counters().rxPackets.get() >= 4 && a.counters().txPackets.get() >= 3, a + " / " + b);
                assertEquals(0, a.ioErrors() + b.ioErrors(), "no read or write failed: errno " + a.lastErrno() + " / " + b.lastErrno());
            } finally {
                lcore.removePoller(sw).get(10, TimeUnit.SECONDS);
                lcore.close();
                sw.close();
                a.close();
                b.close();
            }
            assertFalse(HostNet.interfaceExists(tap1), "closed taps are gone");
            assertEquals(pool.count(), pool.available(), "every buffer back in the pool");
        }
    }
}

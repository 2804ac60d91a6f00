package io.ringway.net.port;

import io.ringway.net.capture.CaptureDescriptor;
import io.ringway.net.capture.CaptureJournal;
import io.ringway.net.capture.CaptureRecord;
import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.runtime.stats.StatsRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ringway net --mode switch --port tap:A --port tap:B --capture DIR} as the engine runs it:
 * the taps join the vhost-user port on the switch, namespaces ping through it, and the frames the
 * switch floods to the (idle) vhost-user port are in the capture.
 */
class EngineTapTest {
    @TempDir
    Path dir;

    @Test
    void tapsJoinTheSwitchAndFloodsToTheVhostPortAreCaptured() throws Exception {
        HostNet.assumeNamespacesAllowed();
        HostNet.pingCommand();
        String ns1 = HostNet.uniqueName("rwen", 1);
        String ns2 = HostNet.uniqueName("rwen", 2);
        String tap1 = HostNet.uniqueName("rwe", 1);
        String tap2 = HostNet.uniqueName("rwe", 2);
        Path journal = dir.resolve("capture");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("e.stats"), 512);
             HostNet host = new HostNet()) {
            ForwardingEngine.Config config = ForwardingEngine.Config.of(List.of(dir.resolve("vhost.sock")),
                    ForwardingMode.SWITCH, stats);
            try (ForwardingEngine engine = ForwardingEngine.start(config,
                    new ForwardingEngine.Attachments(List.of(tap1, tap2), journal, 32))) {
                assertEquals(List.of(tap1, tap2), engine.taps().stream().map(TapPort::name).toList());
                host.addNamespace(ns1);
                host.addNamespace(ns2);
                HostNet.moveAndConfigure(ns1, tap1, "10.213.1.1/24");
                HostNet.moveAndConfigure(ns2, tap2, "10.213.1.2/24");
                HostNet.Result r = HostNet.ping(ns2, "10.213.1.1");
                assertEquals(0, r.exit(), "ping through the engine's switch failed:\n" + r.output());
                L2Switch sw = engine.l2switch();
                assertEquals(3, sw.ports().size(), "vhost0 + two taps");
                assertTrue(sw.counters(1).rx.get() >= 4 && sw.counters(2).rx.get() >= 4, sw.counters(1) + " / " + sw.counters(2));
                assertTrue(engine.capture().captured() >= 1, "the flooded ARP request was offered to vhost0");
            }
            assertFalse(HostNet.interfaceExists(tap1), "the engine removed its taps");
        }
        List<CaptureRecord> records = new ArrayList<>();
        CaptureJournal.read(journal, records::add);
        assertTrue(records.stream().anyMatch(r -> r.port() == 0 && r.direction() == CaptureDescriptor.TX
                && r.data().length == 32 && r.originalLength() >= 42 && r.data()[12] == 0x08 && r.data()[13] == 0x06),
                "an ARP frame flooded to vhost0 is in the capture, cut at the 32-byte snap length: " + records.size()
                        + " records");
    }

    @Test
    void ioModeWithTapsNeedsOneQueue() {
        HostNet.assumeTapAllowed();
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("q.stats"), 512)) {
            ForwardingEngine.Config c = ForwardingEngine.Config.of(List.of(dir.resolve("q.sock")), ForwardingMode.IO, stats);
            ForwardingEngine.Config two = new ForwardingEngine.Config(c.sockets(), false, 2, ForwardingMode.IO, c.cpus(),
                    c.idle(), 64, 4096, true, true, stats);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ForwardingEngine.start(two,
                    new ForwardingEngine.Attachments(List.of(HostNet.uniqueName("rwq", 0)), null)));
            assertTrue(e.getMessage().contains("--queues 1"), e.getMessage());
        }
    }
}

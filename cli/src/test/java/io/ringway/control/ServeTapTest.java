package io.ringway.control;

import static io.ringway.control.ServeBed.m;
import static io.ringway.control.ServeBed.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.ringway.net.capture.CaptureDescriptor;
import io.ringway.net.capture.CaptureJournal;
import io.ringway.net.capture.CaptureRecord;
import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.HostNet;
import io.ringway.net.port.TapPort;
import io.ringway.runtime.mem.Mempool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tap ports of {@code ringway serve}: created and deleted over RPC (the device comes and goes),
 * refused with an error naming the problem, round-tripped through the config, and carrying a ping
 * between two network namespaces of the test's own through the switch while a capture records it.
 * Needs /dev/net/tun, CAP_NET_ADMIN, iproute2 and a ping (skips naming what is missing).
 */
class ServeTapTest {
    @TempDir
    Path dir;

    @Test
    void tapsAreCreatedRefusedRoundTrippedAndDeleted() throws Exception {
        HostNet.assumeTapAllowed();
        String t1 = HostNet.uniqueName("rwst", 1);
        String t2 = HostNet.uniqueName("rwst", 2);
        String t3 = HostNet.uniqueName("rwst", 3);
        try (ServeBed bed = new ServeBed(dir, 1)) {
            Map<?, ?> info = (Map<?, ?>) bed.ok("net_port_create", m("name", t1, "type", "tap"));
            assertEquals(t1, info.get("device"));
            assertEquals("tap", info.get("type"));
            assertTrue(HostNet.interfaceExists(t1), "tap device " + t1 + " exists");
            bed.ok("net_port_create", m("name", t2, "type", "tap"));
            bed.ok("net_switch_attach", m("port", t1));

            // A tap held by someone else is busy; an interface that is not a tap is refused.
            try (Mempool pool = Mbuf.createPool(64); TapPort held = TapPort.open(t3, pool)) {
                assertError(bed.error("net_port_create", m("name", held.name(), "type", "tap")), RpcException.IN_USE,
                        "tap " + t3 + " is busy");
            }
            assertError(bed.error("net_port_create", m("name", "lo", "type", "tap")), RpcException.ALREADY_EXISTS,
                    "exists and is not a tap device");
            assertError(bed.error("net_port_create", m("name", t1, "type", "tap")), RpcException.ALREADY_EXISTS,
                    "net port " + t1 + " already exists");

            // The config lists the taps; deleted and reloaded from it, they are back as they were.
            Object config = bed.ok("framework_get_config", Map.of());
            assertTrue(((List<?>) ((Map<?, ?>) config).get("net_ports")).contains(m("name", t1, "type", "tap")), "config: " + config);
            bed.ok("net_port_delete", m("name", t1));
            bed.ok("net_port_delete", m("name", t2));
            assertFalse(HostNet.interfaceExists(t1) || HostNet.interfaceExists(t2), "deleted taps' devices are gone");
            Map<?, ?> r = (Map<?, ?>) bed.ok("framework_reload", m("config", config));
            assertEquals(List.of("net port " + t1, "net port " + t2, "switch port " + t1), r.get("created"));
            assertEquals(config, bed.ok("framework_get_config", Map.of()), "the config recreates the same state");
            assertTrue(HostNet.interfaceExists(t1) && HostNet.interfaceExists(t2), "reloaded taps' devices exist");
        }
        assertFalse(HostNet.interfaceExists(t1) || HostNet.interfaceExists(t2), "the daemon's close removes its taps");
    }

    @Test
    void namespacesPingThroughTheSwitchWhileACaptureRecordsTheEchoes() throws Exception {
        HostNet.assumeNamespacesAllowed();
        HostNet.pingCommand(); // skips when there is no ping
        String ns1 = HostNet.uniqueName("rwsn", 1);
        String ns2 = HostNet.uniqueName("rwsn", 2);
        String t1 = HostNet.uniqueName("rwsp", 1);
        String t2 = HostNet.uniqueName("rwsp", 2);
        try (HostNet host = new HostNet(); ServeBed bed = new ServeBed(dir, 1)) {
            bed.ok("net_port_create", m("name", t1, "type", "tap"));
            bed.ok("net_port_create", m("name", t2, "type", "tap"));
            bed.ok("net_switch_attach", m("port", t1));
            bed.ok("net_switch_attach", m("port", t2));
            host.addNamespace(ns1);
            host.addNamespace(ns2);
            HostNet.moveAndConfigure(ns1, t1, "10.214.0.1/24");
            HostNet.moveAndConfigure(ns2, t2, "10.214.0.2/24");
            Path journal = dir.resolve("cap-" + t1);
            bed.ok("capture_start", m("port", t1, "dir", journal.toString()));

            HostNet.Result ping = HostNet.ping(ns1, "10.214.0.2");
            assertEquals(0, ping.exit(), "ping through the switch failed:\n" + ping.output());
            assertTrue(ping.output().contains("3 packets received"), ping.output());
            Map<?, ?> stopped = (Map<?, ?>) bed.ok("capture_stop", m("port", t1));
            assertEquals(stopped.get("captured"), stopped.get("written"), "capture_stop: " + stopped);

            // t1's rx is what ns1 sends (echo requests), its tx what the switch hands it (echo replies).
            List<CaptureRecord> records = new ArrayList<>();
            CaptureJournal.read(journal, records::add);
            assertEquals((long) records.size(), stopped.get("written"));
            assertTrue(icmp(records, CaptureDescriptor.RX, 8) >= 3, "echo requests captured on rx of " + t1);
            assertTrue(icmp(records, CaptureDescriptor.TX, 0) >= 3, "echo replies captured on tx of " + t1);

            Map<?, ?> p1 = (Map<?, ?>) ((List<?>) bed.ok("net_get_ports", m("name", t1))).get(0);
            assertTrue((Long) p1.get("rx_packets") >= 4 && (Long) p1.get("tx_packets") >= 3, "net_get_ports: " + p1);
            assertEquals(0L, p1.get("io_errors"), "net_get_ports: " + p1);
            assertEquals(null, p1.get("capture"), "the stopped capture is gone: " + p1);

            // Deleted while in another namespace: the device goes there too.
            bed.ok("net_port_delete", m("name", t1));
            assertNotEquals(0, HostNet.exec(30, "ip", "-n", ns1, "link", "show", t1).exit(), t1 + " still exists in " + ns1);
            bed.ok("net_port_delete", m("name", t2));
            assertNotEquals(0, HostNet.exec(30, "ip", "-n", ns2, "link", "show", t2).exit(), t2 + " still exists in " + ns2);
        }
    }

    /** Records of {@code direction} that are IPv4 ICMP messages of {@code type}. */
    private static long icmp(List<CaptureRecord> records, int direction, int type) {
        return records.stream().filter(r -> r.direction() == direction && r.data().length >= 35
                && r.data()[12] == 0x08 && r.data()[13] == 0x00 // IPv4
                && r.data()[23] == 1 // ICMP
                && r.data()[14 + 4 * (r.data()[14] & 0x0f)] == type).count();
    }
}

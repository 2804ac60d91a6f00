package io.ringway.control;

import static io.ringway.control.ServeBed.m;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import io.ringway.net.capture.CaptureDescriptor;
import io.ringway.net.capture.CaptureJournal;
import io.ringway.net.capture.CaptureRecord;
import io.ringway.net.capture.PcapWriter;
import io.ringway.net.port.Port;
import io.ringway.runtime.mem.Mempool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * capture_start / capture_stop on ring ports of the switch while frames cross it: the journal holds
 * the frames the port carried while the capture ran, unchanged and in order, and the traffic does
 * not stall while the switch is swapped for one polling the mirror and back.
 */
class ServeCaptureTest {
    @TempDir
    Path dir;

    @Test
    void aCaptureDuringTrafficJournalsTheFramesOfItsPortAndDirection() throws Exception {
        try (ServeBed bed = new ServeBed(dir, 2)) {
            bed.ok("net_port_create", m("name", "r0", "type", "ring"));
            bed.ok("net_port_create", m("name", "r1", "type", "ring"));
            bed.ok("net_switch_attach", m("port", "r0"));
            bed.ok("net_switch_attach", m("port", "r1"));
            long r0Id = (Long) ((Map<?, ?>) ((List<?>) bed.ok("net_get_ports", m("name", "r0"))).get(0)).get("port_id");
            long r1Id = (Long) ((Map<?, ?>) ((List<?>) bed.ok("net_get_ports", m("name", "r1"))).get(0)).get("port_id");

            ServeTrafficTest.NetTraffic net = new ServeTrafficTest.NetTraffic(bed.plane.ringPeer("r0"), bed.plane.ringPeer("r1"));
            Thread netThread = Thread.ofPlatform().name("net-traffic").start(net);
            Path both = dir.resolve("r0-both");
            Path txOnly = dir.resolve("r1-tx");
            Map<?, ?> stopped0;
            Map<?, ?> stopped1;
            try {
                ServeRpcTest.awaitTrue(() -> net.received > 100, "traffic flowing");
                bed.ok("capture_start", m("port", "r0", "dir", both.toString()));
                bed.ok("capture_start", m("port", "r1", "dir", txOnly.toString(), "direction", "tx", "snap", 20));
                long before = net.received;
                ServeRpcTest.awaitTrue(() -> net.received > before + 500, "traffic during the capture");
                Map<?, ?> live = capture((Map<?, ?>) bed.ok("stats_get", Map.of()), "r0");
                assertTrue((Long) live.get("captured") > 0, "stats_get shows the capture counting: " + live);
                stopped0 = (Map<?, ?>) bed.ok("capture_stop", m("port", "r0"));
                stopped1 = (Map<?, ?>) bed.ok("capture_stop", m("port", "r1"));
                long after = net.received;
                ServeRpcTest.awaitTrue(() -> net.received > after + 100, "traffic after the capture");
            } finally {
                net.stop.set(true);
                netThread.join(10_000);
            }
            assertEquals(0, net.corrupt, "frames corrupted on the way");
            assertTrue(net.maxGap < ServeTrafficTest.MAX_GAP_NANOS, "net: a gap of " + net.maxGap / 1_000_000
                    + " ms between frames while captures started and stopped");
            assertEquals(List.of(), ((Map<?, ?>) bed.ok("stats_get", Map.of())).get("captures"), "no capture left running");

            // r0, both directions: rx are A's frames to B, tx are B's to A, each with a rising sequence number.
            assertEquals(true, stopped0.get("complete"), "capture_stop r0: " + stopped0);
            assertEquals(stopped0.get("captured"), stopped0.get("written"), "everything captured is journaled: " + stopped0);
            List<CaptureRecord> records = read(both);
            assertEquals((long) records.size(), stopped0.get("written"), "journal vs capture_stop: " + stopped0);
            List<CaptureRecord> rx = checkFrames(records, r0Id, CaptureDescriptor.RX, ServeTrafficTest.NetTraffic.B,
                    ServeTrafficTest.NetTraffic.A, 60);
            List<CaptureRecord> tx = checkFrames(records, r0Id, CaptureDescriptor.TX, ServeTrafficTest.NetTraffic.A,
                    ServeTrafficTest.NetTraffic.B, 60);
            assertTrue(rx.size() > 100 && tx.size() > 100, "rx " + rx.size() + ", tx " + tx.size() + " frames captured");
            assertEquals(records.size(), rx.size() + tx.size(), "only r0's frames in r0's journal");

            // r1, tx only, snap 20: A's frames as the switch sent them to B, cut to 20 bytes.
            assertEquals(stopped1.get("captured"), stopped1.get("written"), "capture_stop r1: " + stopped1);
            List<CaptureRecord> r1 = read(txOnly);
            assertEquals(r1.size(), checkFrames(r1, r1Id, CaptureDescriptor.TX, ServeTrafficTest.NetTraffic.B,
                    ServeTrafficTest.NetTraffic.A, 20).size(), "only tx frames of r1");
            assertTrue(r1.size() > 100, "r1 tx frames captured: " + r1.size());

            // The pcap export of r0's journal holds its frames: 24-byte header, then 16 + 60 bytes each.
            Path pcap = dir.resolve("r0.pcap");
            assertEquals(records.size(), PcapWriter.export(both, pcap, (int) r0Id));
            assertEquals(PcapWriter.FILE_HEADER + (long) records.size() * (PcapWriter.RECORD_HEADER + 60), Files.size(pcap));
            ByteBuffer header = ByteBuffer.wrap(Files.readAllBytes(pcap), 0, PcapWriter.FILE_HEADER).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(PcapWriter.MAGIC_NANOSECONDS, header.getInt(0));
        }
    }

    @Test
    void aCaptureStartedBeforeTheAttachHoldsExactlyTheFramesSentAfterIt() throws Exception {
        try (ServeBed bed = new ServeBed(dir, 1)) {
            bed.ok("net_port_create", m("name", "r0", "type", "ring"));
            bed.ok("net_port_create", m("name", "r1", "type", "ring"));
            Path journal = dir.resolve("early");
            bed.ok("capture_start", m("port", "r0", "dir", journal.toString(), "direction", "rx"));
            bed.ok("net_switch_attach", m("port", "r0"));
            bed.ok("net_switch_attach", m("port", "r1"));
            Port a = bed.plane.ringPeer("r0");
            Port b = bed.plane.ringPeer("r1");
            Mempool pool = a.pool();
            for (int seq = 0; seq < 5; seq++) {
                ServeTrafficTest.NetTraffic.send(pool, a, ServeTrafficTest.NetTraffic.B, ServeTrafficTest.NetTraffic.A, seq);
            }
            long[] burst = new long[8];
            int[] received = new int[1];
            ServeRpcTest.awaitTrue(() -> {
                int n = b.rxBurst(0, burst, 0, burst.length);
                pool.freeBulk(null, burst, 0, n);
                received[0] += n;
                return received[0] >= 5;
            }, "5 frames across the switch");
            Map<?, ?> stopped = (Map<?, ?>) bed.ok("capture_stop", m("port", "r0"));
            assertEquals(5L, stopped.get("captured"), "capture_stop: " + stopped);
            assertEquals(5L, stopped.get("written"), "capture_stop: " + stopped);
            assertEquals(0L, stopped.get("dropped"), "capture_stop: " + stopped);
            List<CaptureRecord> records = read(journal);
            assertEquals(5, checkFrames(records, (Long) stopped.get("port_id"), CaptureDescriptor.RX, ServeTrafficTest.NetTraffic.B,
                    ServeTrafficTest.NetTraffic.A, 60).size(), "the 5 frames, in order");
            assertEquals(5, records.size(), "nothing else");
        }
    }

    private static Map<?, ?> capture(Map<?, ?> stats, String port) {
        for (Object o : (List<?>) stats.get("captures")) {
            if (port.equals(((Map<?, ?>) o).get("port"))) {
                return (Map<?, ?>) o;
            }
        }
        throw new AssertionError("no capture of " + port + " in stats_get: " + stats);
    }

    private static List<CaptureRecord> read(Path journal) throws IOException {
        List<CaptureRecord> out = new ArrayList<>();
        CaptureJournal.read(journal, out::add);
        return out;
    }

    /**
     * The records of {@code direction}: each on {@code port}, a 60-byte frame from {@code src} to
     * {@code dst} of which {@code kept} bytes were kept, sequence numbers (bytes 14-17) rising.
     */
    private static List<CaptureRecord> checkFrames(List<CaptureRecord> records, long port, int direction, byte[] dst,
            byte[] src, int kept) {
        List<CaptureRecord> out = new ArrayList<>();
        long lastSeq = -1;
        for (CaptureRecord r : records) {
            if (r.direction() != direction) {
                continue;
            }
            assertEquals(port, r.port(), "port id of " + r);
            assertEquals(60, r.originalLength(), "frame length");
            assertEquals(kept, r.data().length, "bytes kept");
            assertTrue(Arrays.equals(dst, Arrays.copyOfRange(r.data(), 0, 6))
                    && Arrays.equals(src, Arrays.copyOfRange(r.data(), 6, 12)), "addresses of a captured frame");
            long seq = ByteBuffer.wrap(r.data(), 14, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL;
            assertTrue(seq > lastSeq, "sequence " + seq + " after " + lastSeq + ": reordered or repeated");
            lastSeq = seq;
            out.add(r);
        }
        return out;
    }
}

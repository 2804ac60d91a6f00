package io.ringway.perf.bench;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchReportTest {
    @TempDir
    Path dir;

    @Test
    void medianAndRangeOfOddAndEvenSampleCounts() {
        Measurement odd = new Measurement("a", "ns/op", new double[] {3, 1, 2});
        assertEquals(2, odd.median());
        assertEquals(1, odd.min());
        assertEquals(3, odd.max());
        assertEquals(2.5, new Measurement("b", "ns/op", new double[] {4, 1, 2, 3}).median());
        assertThrows(IllegalArgumentException.class, () -> new Measurement("c", "ns/op", new double[0]));
    }

    @Test
    void ratioIsPeerTimeOverOursTime() {
        Measurement ours = new Measurement("ours", "ns/op", new double[] {1, 1, 1});
        Measurement peer = new Measurement("peer", "ns/op", new double[] {4, 4, 5});
        assertEquals(4.0, BenchReport.speedup(ours, peer));
    }

    @Test
    void ratioOfAThroughputUnitIsOursOverPeer() {
        Measurement ours = new Measurement("ours", "IOPS", new double[] {300_000, 310_000, 290_000});
        Measurement peer = new Measurement("peer", "IOPS", new double[] {100_000, 100_000, 100_000});
        assertEquals(3.0, BenchReport.speedup(ours, peer), 1e-9, "Ringway doing 3x the IOPS reads 3.00x");
        assertEquals("Ringway/peer", BenchReport.ratioBasis("IOPS"));
        assertEquals(0.5, BenchReport.speedup(new Measurement("o", "ops/s", new double[] {1}),
                new Measurement("p", "ops/s", new double[] {2})), 1e-9);
    }

    @Test
    void ratioOfALatencyIsPeerOverOurs() {
        Measurement ours = new Measurement("ours p99", "us", new double[] {10});
        Measurement peer = new Measurement("peer p99", "us", new double[] {25});
        assertEquals(2.5, BenchReport.speedup(ours, peer), 1e-9, "a 2.5x lower p99 reads 2.50x");
        assertEquals("peer/Ringway", BenchReport.ratioBasis("us"));
        assertEquals("peer/Ringway", BenchReport.ratioBasis("ns/op"));
    }

    @Test
    void tableAndJsonShowAThroughputRatioAsRingwayOverPeer() throws Exception {
        Scenario scenario = new JmhScenario("t", "iops", List.of("x"), Map.of(),
                List.of(new Comparison("QD32 IOPS", "ours IOPS", "peer IOPS", "qemu-storage-daemon")));
        Map<String, Measurement> r = new LinkedHashMap<>();
        r.put("ours IOPS", new Measurement("ours IOPS", "IOPS", new double[] {400_000}));
        r.put("peer IOPS", new Measurement("peer IOPS", "IOPS", new double[] {200_000}));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BenchReport.printTable(new PrintStream(bytes, true, StandardCharsets.UTF_8), scenario, r);
        String table = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(table.contains("2.00x  Ringway/peer"), table);
        Path json = dir.resolve("iops.json");
        BenchReport.writeJson(json, Map.of(), List.of(scenario), Map.of("t", new ScenarioResult(r, List.of())));
        String text = Files.readString(json);
        assertTrue(text.contains("\"ratio\": 2.0000, \"ratioBasis\": \"Ringway/peer\""), text);
    }

    @Test
    void tableAndJsonCarryTheComparisonAndAMissingPeerIsSaidSo() throws Exception {
        Scenario scenario = new JmhScenario("s", "test \"scenario\"", List.of("x"), Map.of(),
                List.of(new Comparison("c1", "ours", "peer", "Peer Q"), new Comparison("c2", "ours", "absent", "Nobody")));
        Map<String, Measurement> r = new LinkedHashMap<>();
        r.put("ours", new Measurement("ours", "ns/op", new double[] {2, 2, 2}));
        r.put("peer", new Measurement("peer", "ns/op", new double[] {4, 4, 4}));

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BenchReport.printTable(new PrintStream(bytes, true, StandardCharsets.UTF_8), scenario, r);
        String table = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(table.contains("2.00x"), table);
        assertTrue(table.contains("(not measured in this run)"), table);

        Path json = dir.resolve("out/r.json");
        BenchReport.writeJson(json, Map.of("cpu", "x\ny"), List.of(scenario), Map.of("s", new ScenarioResult(r, List.of())));
        String text = Files.readString(json);
        assertTrue(text.contains("\"ratio\": 2.0000"), text);
        assertTrue(text.contains("\"ratio\": null"), text);
        assertTrue(text.contains("\"cpu\": \"x\\ny\""), text);
        assertTrue(text.contains("\"description\": \"test \\\"scenario\\\"\""), text);
    }

    @Test
    void javaCoreToCoreProbeMeasuresAPositiveRoundTrip() {
        double ns = CoreToCoreProbe.javaProbe();
        if (io.ringway.runtime.sys.Cpu.onlineCpus() < 2) {
            assertTrue(Double.isNaN(ns));
        } else {
            assertTrue(ns > 1 && ns < 1_000_000, "round trip " + ns + " ns");
        }
    }
}

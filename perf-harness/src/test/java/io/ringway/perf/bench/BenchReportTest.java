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

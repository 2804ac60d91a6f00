package io.ringway.perf.bench;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.ringway.perf.net.NetLoadGenerator.Role;
import io.ringway.perf.net.TestpmdVhost;

class NetScenarioTest {
    private static final Scenario.Settings SHORT = new Scenario.Settings(1, 0.3, true);

    /**
     * Every role measured, and packets moved. NetLoadGenerator itself fails a role in which no packet
     * moves within 10 s; a measured window can still be empty when a loaded 2-core machine stalls
     * the back-end for longer than the window, so the sum over the roles is what must be positive.
     */
    private static void assertRolesMoved(Map<String, Measurement> ms, String target, int samplesPerRole) {
        double total = 0;
        for (Role role : Role.values()) {
            String k = NetScenario.mppsKey(target, role);
            Measurement m = ms.get(k);
            assertNotNull(m, k + " missing from " + ms.keySet());
            assertEquals("Mpps", m.unit(), k);
            assertEquals(samplesPerRole, m.samples().length, k);
            assertTrue(Double.isFinite(m.median()) && m.min() >= 0, k + " = " + m.median());
            total += m.median();
        }
        assertTrue(total > 0, target + ": no packet counted in any role's measured window");
        if (ms.get(NetScenario.mppsKey(target, Role.LOOP)).max() > 0) {
            Measurement p50 = ms.get(NetScenario.roundTripKey(target, "p50"));
            Measurement p99 = ms.get(NetScenario.roundTripKey(target, "p99"));
            assertNotNull(p50, "macswap round trip p50 of " + target);
            assertNotNull(p99, "macswap round trip p99 of " + target);
            assertTrue(p50.median() > 0 && p50.median() <= p99.median(), p50.median() + " us .. " + p99.median() + " us");
        }
    }

    @Test
    @Timeout(60)
    void ringwayMovesPacketsInEveryRoleAndTheReportShowsThem() throws Exception {
        NetScenario s = new NetScenario();
        assertTrue(s.comparisons().isEmpty(), "no peer, no comparisons");
        ScenarioResult r = s.run(SHORT);
        assertNull(r.note(), "every turn ran");
        assertRolesMoved(r.measurements(), NetScenario.RINGWAY, 1);
        assertTrue(r.measurements().size() >= 3, r.measurements().keySet().toString());
        assertEquals(1, r.latencies().size(), "one macswap round-trip curve");
        assertTrue(r.latencies().get(0).ours());

        String html = HtmlReport.render(new LinkedHashMap<>(Map.of("cpu", "test")), List.of(s), Map.of(s.name(), r));
        assertTrue(html.contains("id=\"scenario-net\""), "net section");
        assertTrue(html.contains("<svg class=\"bars\" data-scenario=\"net\""), "Mpps bars for the net scenario");
        assertTrue(html.contains("<svg class=\"latency\" data-scenario=\"net\""), "round-trip curve for the net scenario");
        for (Role role : Role.values()) {
            assertTrue(html.contains("<td>" + NetScenario.mppsKey(NetScenario.RINGWAY, role) + "</td>"), role + " row in the report");
        }
        Path json = java.nio.file.Files.createTempFile("net-bench", ".json");
        try {
            BenchReport.writeJson(json, Map.of("cpu", "test"), List.of(s), Map.of(s.name(), r));
            assertTrue(java.nio.file.Files.readString(json).contains(NetScenario.mppsKey(NetScenario.RINGWAY, Role.LOOP)));
        } finally {
            java.nio.file.Files.deleteIfExists(json);
        }
    }

    @Test
    @Timeout(120)
    void againstDpdkEveryComparisonHasBothSidesAndDpdkRanTwicePerRole() throws Exception {
        String why = TestpmdVhost.unavailableReason();
        assumeTrue(why == null, why + "; skipping the --vs dpdk run");
        Scenario s = new NetScenario().against("dpdk").orElseThrow();
        ScenarioResult r = s.run(SHORT);
        assertNull(r.note(), "every turn ran");
        assertRolesMoved(r.measurements(), NetScenario.RINGWAY, 1);
        assertRolesMoved(r.measurements(), NetScenario.DPDK, 2); // turns DPDK, Ringway, DPDK: two DPDK samples per repeat
        assertTrue(r.measurements().get(NetScenario.C2C_KEY).median() > 0, "c2c probe recorded");
        assertEquals(5, s.comparisons().size());
        for (Comparison c : s.comparisons().subList(0, 3)) {
            assertTrue(r.measurements().containsKey(c.ours()), c.ours());
            assertTrue(r.measurements().containsKey(c.peer()), c.peer());
        }
        assertEquals(List.of(true, false), r.latencies().stream().map(LatencySeries::ours).toList());
        String html = HtmlReport.render(new LinkedHashMap<>(Map.of("cpu", "test")), List.of(s), Map.of(s.name(), r));
        assertTrue(html.contains("DPDK vhost PMD (testpmd)"), "peer named in the report");
        assertEquals(0, hugepageFilesLeft(), "testpmd's hugepage files removed");
    }

    private static long hugepageFilesLeft() throws Exception {
        try (var files = java.nio.file.Files.list(Path.of("/dev/hugepages"))) {
            return files.filter(f -> f.getFileName().toString().startsWith("rwbench" + ProcessHandle.current().pid() + "x")).count();
        }
    }

    @Test
    void netIsInTheDefaultRunAndRacesOnlyDpdk() {
        assertTrue(Scenarios.all().stream().anyMatch(s -> s instanceof NetScenario));
        assertTrue(new NetScenario().against("dpdk").isPresent());
        assertTrue(new NetScenario().against("qsd").isEmpty());
    }

    @Test
    void testpmdRunsTheVhostPmdInTheRolesModeWithBothLcoresOnOneCpu() {
        List<String> cmd = io.ringway.perf.net.TestpmdVhostAccess.command(Path.of("/tmp/x.sock"), "macswap", 0, "rwbench1x1");
        String line = String.join(" ", cmd);
        assertEquals(List.of("stdbuf", "-o0", "-e0"), cmd.subList(0, 3), "unbuffered output on a pipe");
        assertTrue(line.contains("--lcores 0@0,1@0 --main-lcore 0"), line);
        assertTrue(line.contains("--vdev net_vhost0,iface=/tmp/x.sock,queues=1"), line);
        assertTrue(line.contains("--file-prefix=rwbench1x1"), line);
        assertTrue(line.contains(" -i ") && line.contains("--forward-mode=macswap") && line.contains("--txpkts=64"), line);
    }
}

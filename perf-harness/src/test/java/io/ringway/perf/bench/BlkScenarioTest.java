package io.ringway.perf.bench;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class BlkScenarioTest {
    private static final Scenario.Settings SHORT = new Scenario.Settings(1, 0.3, true);

    /** @param target "ringway null", "ringway ram", "qsd null" or "qsd ram-file" */
    private static List<String> keysOf(String target) {
        String p = target + " ";
        return List.of(p + "randread QD1 IOPS", p + "randread QD1 p50 us", p + "randread QD1 p99 us", p + "randread QD1 p99.9 us",
                p + "randread QD32 IOPS", p + "randread QD32 p99 us",
                p + "randwrite QD1 IOPS", p + "randwrite QD1 p50 us", p + "randwrite QD1 p99 us", p + "randwrite QD1 p99.9 us",
                p + "randwrite QD32 IOPS", p + "randwrite QD32 p99 us");
    }

    private static void assertMeasured(Map<String, Measurement> ms, String target) {
        double iops = 0;
        for (String k : keysOf(target)) {
            Measurement m = ms.get(k);
            assertNotNull(m, k + " missing from " + ms.keySet());
            assertEquals(1, m.samples().length, k);
            assertTrue(Double.isFinite(m.median()) && m.median() >= 0, k + " = " + m.median());
            assertEquals(k.endsWith("IOPS") ? "IOPS" : "us", m.unit(), k);
            if (k.endsWith("IOPS")) {
                iops += m.median();
            }
        }
        // A loaded 2-core machine can stall one short window; it cannot stall all four.
        assertTrue(iops > 0, target + " completed no request in any load");
    }

    @Test
    @Timeout(30)
    void ringwayAloneProducesEveryLoadsKeysAndAQd1LatencyCurve() throws Exception {
        BlkScenario s = new BlkScenario();
        assertTrue(s.comparisons().isEmpty(), "no peer, no comparisons");
        ScenarioResult r = s.run(SHORT);
        assertMeasured(r.measurements(), "ringway null");
        assertMeasured(r.measurements(), "ringway ram");
        assertEquals(keysOf("ringway null").size() + keysOf("ringway ram").size(), r.measurements().size(),
                r.measurements().keySet().toString());
        assertEquals(2, r.latencies().size(), "a QD1 curve for the null bdev and one for malloc");
        for (LatencySeries qd1 : r.latencies()) {
            assertTrue(qd1.ours());
            assertTrue(qd1.label().contains("QD1"), qd1.label());
        }
    }

    @Test
    @Timeout(60)
    void againstQemuStorageDaemonEveryComparisonHasBothSides() throws Exception {
        Path qsd = BlkScenario.findQsd();
        assumeTrue(qsd != null, "qemu-storage-daemon is not installed (" + BlkScenario.QSD_INSTALL + "); skipping the --vs qsd run");
        Scenario s = new BlkScenario().against("qsd").orElseThrow();
        ScenarioResult r = s.run(SHORT);
        for (String t : List.of("ringway null", "qsd null", "ringway ram", "qsd ram-file")) {
            assertMeasured(r.measurements(), t);
        }
        assertEquals(4 * keysOf("ringway null").size(), r.measurements().size(), r.measurements().keySet().toString());
        assertFalse(s.comparisons().isEmpty());
        for (Comparison c : s.comparisons()) {
            assertTrue(r.measurements().containsKey(c.ours()), c.ours());
            assertTrue(r.measurements().containsKey(c.peer()), c.peer());
        }
        assertTrue(s.comparisons().stream().anyMatch(c -> c.peer().equals("qsd ram-file randread QD32 IOPS")));
        assertTrue(s.comparisons().stream().anyMatch(c -> c.peer().equals("qsd ram-file randwrite QD1 p99 us")));
        assertEquals(4, r.latencies().size(), "QD1 curves for Ringway and qemu-storage-daemon, null and RAM");
        assertEquals(List.of(true, false, true, false), r.latencies().stream().map(LatencySeries::ours).toList());
    }

    @Test
    void blkIsInTheDefaultRunAndRacesOnlyQsd() {
        assertTrue(Scenarios.all().stream().anyMatch(s -> s instanceof BlkScenario));
        assertTrue(new BlkScenario().against("qsd").isPresent());
        assertTrue(new BlkScenario().against("dpdk").isEmpty());
    }

    @Test
    void qsdIsPinnedToTheBackEndCpuAndExportsANullNodeInBytes() {
        List<String> cmd = BlkScenario.qsdCommand(Path.of("/usr/bin/qemu-storage-daemon"), Path.of("/tmp/x.sock"), true, null);
        assertTrue(String.join(" ", cmd).contains("driver=null-co,node-name=n0,size=1073741824"), cmd.toString());
        assertTrue(String.join(" ", cmd).contains("addr.path=/tmp/x.sock,writable=on"), cmd.toString());
        if (java.nio.file.Files.isExecutable(Path.of("/usr/bin/taskset"))) {
            assertEquals(List.of("/usr/bin/taskset", "-c", "0"), cmd.subList(0, 3));
        }
    }

    @Test
    void qsdRamFileIsARawNodeOnAFileThroughThePageCache() {
        List<String> cmd = BlkScenario.qsdCommand(Path.of("/usr/bin/qemu-storage-daemon"), Path.of("/tmp/x.sock"), false,
                Path.of("/dev/shm/ringway-qsd-1.raw"));
        String line = String.join(" ", cmd);
        assertFalse(line.contains("taskset"), line);
        assertTrue(line.contains("--blockdev driver=file,node-name=f0,filename=/dev/shm/ringway-qsd-1.raw,cache.direct=off"), line);
        assertTrue(line.contains("--blockdev driver=raw,node-name=n0,file=f0"), line);
        assertTrue(line.contains("type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=/tmp/x.sock,writable=on"), line);
    }

    @Test
    void ringwayRamIsAMallocBdevOf1GiBAndQsdsIsA1GiBFileInDevShm() throws Exception {
        assertEquals("null:1073741824", BlkScenario.NULL_SPEC);
        assertEquals("malloc:1073741824", BlkScenario.RAM_SPEC);
        Path f = BlkScenario.createRamFile(false);
        try {
            assertEquals(1L << 30, java.nio.file.Files.size(f));
            assertTrue(f.startsWith("/dev/shm") && f.getFileName().toString().startsWith("ringway-qsd-"), f.toString());
        } finally {
            java.nio.file.Files.deleteIfExists(f);
        }
    }
}

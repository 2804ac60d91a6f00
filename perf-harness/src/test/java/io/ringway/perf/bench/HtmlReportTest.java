package io.ringway.perf.bench;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HtmlReportTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    @TempDir
    Path dir;

    private static Map<String, ScenarioResult> results(Scenario s) {
        Map<String, Measurement> ms = new LinkedHashMap<>();
        ms.put("ours", new Measurement("ours", "ns/op", new double[] {1.0, 1.1, 0.9}));
        ms.put("peer", new Measurement("peer", "ns/op", new double[] {4.0, 4.4, 3.9}));
        Histogram a = new Histogram(3);
        Histogram b = new Histogram(3);
        for (int i = 1; i <= 10_000; i++) {
            a.recordValue(1_000 + i);
            b.recordValue(2_000 + 3L * i);
        }
        return Map.of(s.name(), new ScenarioResult(ms,
                List.of(LatencySeries.of("ringway <lcore>", true, a), LatencySeries.of("peer", false, b))));
    }

    private static Scenario scenario() {
        return new JmhScenario("demo", "demo scenario & friends", List.of(), Map.of(),
                List.of(new Comparison("ring burst", "ours", "peer", "JCTools")));
    }

    private static final Map<String, String> SETUP = Map.of("cpu", "Test CPU <1>", "kvm", "kvm_pvm");

    @Test
    void reportHasSetupTableBarsWithPeerBesideOursAndLatencyCurves() {
        Scenario s = scenario();
        String html = HtmlReport.render(new LinkedHashMap<>(SETUP), List.of(s), results(s));
        assertTrue(html.contains("<table class=\"setup\" id=\"setup\">"));
        assertTrue(html.contains("Test CPU &lt;1&gt;"), "setup values are escaped");
        assertEquals(2, count(html, "<rect class=\"bar\""), "one bar for Ringway, one for the peer");
        assertEquals(2, count(html, "<polyline class=\"curve\""), "one latency curve per series");
        assertTrue(html.contains("ringway &lt;lcore&gt;"));
        assertTrue(html.contains("<td class=\"num\">4.00x</td>"), "ratio peer/ours in the comparison table");
        assertFalse(html.contains("<script"), "the report is static");
        assertFalse(html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "").matches("(?s).*(https?:|src=|href=).*"),
                "no external resources");
    }

    @Test
    void throughputBarsAreHigherIsBetterAndLatencyGetsItsOwnChart() {
        Scenario s = new JmhScenario("blkdemo", "iops and latency", List.of(), Map.of(),
                List.of(new Comparison("QD32 IOPS", "o iops", "p iops", "QSD"), new Comparison("QD1 p99", "o p99", "p p99", "QSD")));
        Map<String, Measurement> ms = new LinkedHashMap<>();
        ms.put("o iops", new Measurement("o iops", "IOPS", new double[] {300_000}));
        ms.put("p iops", new Measurement("p iops", "IOPS", new double[] {100_000}));
        ms.put("o p99", new Measurement("o p99", "us", new double[] {2}));
        ms.put("p p99", new Measurement("p p99", "us", new double[] {8}));
        String html = HtmlReport.render(new LinkedHashMap<>(SETUP), List.of(s), Map.of(s.name(), new ScenarioResult(ms, List.of())));
        assertEquals(2, count(html, "<svg class=\"bars\""), "IOPS and us do not share an axis");
        assertTrue(html.contains("IOPS (higher is better)"), html);
        assertTrue(html.contains("us (lower is better)"), html);
        assertTrue(html.contains("<td class=\"num\">3.00x</td><td>Ringway/peer</td>"), html);
        assertTrue(html.contains("<td class=\"num\">4.00x</td><td>peer/Ringway</td>"), html);
        assertEquals(300_000, HtmlReport.plotted(ms.get("o iops"), 300_000), "IOPS bars are the IOPS themselves");
    }

    @Test
    void chromiumRendersTheReportOfflineWithPlotsAndSetupTable() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM), "headless Chromium is not installed (apt-get install chromium; .ci/run installs it)");
        Scenario s = scenario();
        Path file = dir.resolve("report.html");
        HtmlReport.write(file, new LinkedHashMap<>(SETUP), List.of(s), results(s));

        String dom = chromium("--dump-dom", file);
        // The DOM as Chromium parsed it: SVG elements survive as SVG, the setup table has rows.
        assertEquals(2, count(dom, "<rect class=\"bar\""), dom);
        assertEquals(2, count(dom, "<polyline class=\"curve\""), dom);
        Matcher setupRows = Pattern.compile("<table class=\"setup\" id=\"setup\"><tbody>(.*?)</tbody>", Pattern.DOTALL).matcher(dom);
        assertTrue(setupRows.find(), "setup table rendered");
        assertEquals(SETUP.size(), count(setupRows.group(1), "<tr>"));

        Path png = dir.resolve("report.png");
        chromium("--screenshot=" + png, file);
        assertTrue(Files.size(png) > 10_000, "a screenshot with content, got " + Files.size(png) + " bytes");
    }

    private String chromium(String action, Path file) throws Exception {
        Path profile = Files.createTempDirectory(dir, "chromium-profile");
        Process p = new ProcessBuilder(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile, "--window-size=1100,1400", action, file.toUri().toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "chromium did not finish");
        assertEquals(0, p.exitValue(), "chromium exit status");
        return out;
    }

    private static int count(String haystack, String needle) {
        int n = 0;
        for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }
}

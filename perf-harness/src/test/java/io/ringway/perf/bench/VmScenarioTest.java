package io.ringway.perf.bench;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.ringway.vcpu.bench.ExitCostSuite;
import io.ringway.vcpu.kvm.Kvm;

class VmScenarioTest {
    @Test
    @Timeout(120)
    void everyExitKindOfTheSuiteIsMeasuredWithACurveAndTheCYardstickIsItsPeer() throws Exception {
        assumeTrue(Files.isReadable(Kvm.DEVICE) && Files.isWritable(Kvm.DEVICE), "/dev/kvm is missing or not usable by this user");
        VmScenario s = new VmScenario();
        ScenarioResult r = s.run(new Scenario.Settings(2, 0.1, true));
        assumeTrue(r.note() == null || !r.note().startsWith("skipped"), "KVM unusable here: " + r.note());
        for (ExitCostSuite.Kind kind : ExitCostSuite.Kind.values()) {
            for (String k : List.of(VmScenario.medianKey(kind), VmScenario.p99Key(kind), VmScenario.opsKey(kind))) {
                Measurement m = r.measurements().get(k);
                assertNotNull(m, k + " missing (" + r.note() + ") from " + r.measurements().keySet());
                assertEquals(2, m.samples().length, k + ": one sample per repeat");
                assertTrue(m.min() > 0, k + " = " + m.min());
            }
            assertTrue(r.measurements().get(VmScenario.medianKey(kind)).median() <= r.measurements().get(VmScenario.p99Key(kind)).median(),
                    kind + ": median above p99");
            assertTrue(r.latencies().stream().anyMatch(l -> l.label().startsWith(kind.label() + " ") && l.count() >= 2L * 2_000 && l.count() <= 2L * 2_001),
                    kind + " curve with every operation of both repeats (the host-timed ones also hold the final done-port exit)");
        }
        assertEquals(ExitCostSuite.Kind.values().length, r.latencies().size(), "one curve per exit kind");
        String html = HtmlReport.render(new LinkedHashMap<>(Map.of("cpu", "test")), List.of(s), Map.of(s.name(), r));
        assertTrue(html.contains("<svg class=\"latency\" data-scenario=\"vm\""), "exit-cost curves in the report");
        assertTrue(html.contains("<svg class=\"bars\" data-scenario=\"vm\""), "bars in the report");
        if (r.measurements().containsKey(VmScenario.C_PIO_KEY)) {
            assertTrue(html.contains("C yardstick (pio_exit.c, same KVM)"), "the C peer in the comparison");
        }
    }

    @Test
    void iterationsFollowTheDurationWithinBounds() {
        assertEquals(2_000, VmScenario.iterations(0.1));
        assertEquals(10_000, VmScenario.iterations(1));
        assertEquals(1_000_000, VmScenario.iterations(600));
    }

    @Test
    void theDescriptionListsEveryKindOfTheSuite() {
        for (ExitCostSuite.Kind kind : ExitCostSuite.Kind.values()) {
            assertTrue(new VmScenario().description().contains(kind.label()), kind.label());
        }
        assertTrue(Scenarios.all().stream().anyMatch(s -> s instanceof VmScenario));
    }

    @Test
    void aSkippedScenarioSaysWhyInTheReportAndTheJson() throws Exception {
        Scenario s = new VmScenario();
        ScenarioResult skipped = ScenarioResult.skipped("/dev/kvm is missing");
        String html = HtmlReport.render(new LinkedHashMap<>(Map.of("cpu", "test")), List.of(s), Map.of(s.name(), skipped));
        assertTrue(html.contains("<p class=\"note\">skipped: /dev/kvm is missing</p>"), html);
        java.nio.file.Path json = Files.createTempFile("vm-bench", ".json");
        try {
            BenchReport.writeJson(json, Map.of(), List.of(s), Map.of(s.name(), skipped));
            assertTrue(Files.readString(json).contains("\"note\": \"skipped: /dev/kvm is missing\""));
        } finally {
            Files.deleteIfExists(json);
        }
    }
}

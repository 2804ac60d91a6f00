package io.ringway.perf.bench;

import java.util.List;
import java.util.Map;

/**
 * What a scenario measured.
 *
 * @param measurements by benchmark id, each with one sample per repeat
 * @param latencies    latency distributions for percentile plots (may be empty)
 * @param note         a remark shown with the table and in the report: why the scenario measured
 *                     nothing here ("skipped: ...") or what the figures depend on (the KVM flavour);
 *                     null if none
 */
public record ScenarioResult(Map<String, Measurement> measurements, List<LatencySeries> latencies, String note) {
    public ScenarioResult(Map<String, Measurement> measurements, List<LatencySeries> latencies) {
        this(measurements, latencies, null);
    }

    /** A scenario that failed while it ran, and how. */
    public static ScenarioResult failed(String how) {
        return new ScenarioResult(Map.of(), List.of(), "failed: " + how);
    }

    /** A scenario this machine cannot run, and why. */
    public static ScenarioResult skipped(String why) {
        return new ScenarioResult(Map.of(), List.of(), "skipped: " + why);
    }
}

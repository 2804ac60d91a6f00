package io.ringway.perf.bench;

import java.util.List;
import java.util.Map;

/**
 * What a scenario measured.
 *
 * @param measurements by benchmark id, each with one sample per repeat
 * @param latencies    latency distributions for percentile plots (may be empty)
 */
public record ScenarioResult(Map<String, Measurement> measurements, List<LatencySeries> latencies) {
}

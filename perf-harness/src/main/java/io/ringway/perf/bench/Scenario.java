package io.ringway.perf.bench;

import java.util.List;
import java.util.Map;

/**
 * A named group of benchmarks that {@code ringway bench NAME} runs, with the comparisons against
 * peers that its table reports.
 *
 * @param name        command-line name, e.g. "rings"
 * @param description one line for the progress output
 * @param includes    JMH include patterns
 * @param params      JMH parameter overrides (narrow a benchmark's @Param set for the default run)
 * @param comparisons ours-vs-peer pairs reported as ratios
 */
public record Scenario(String name, String description, List<String> includes, Map<String, List<String>> params,
        List<Comparison> comparisons) {
}

package io.ringway.perf.bench;

import java.util.List;
import java.util.Map;

/**
 * A scenario made of JMH benchmarks from this jar.
 *
 * @param name        command-line name, e.g. "rings"
 * @param description one line for the progress output
 * @param includes    JMH include patterns
 * @param params      JMH parameter overrides (narrow a benchmark's @Param set for the default run)
 * @param comparisons ours-vs-peer pairs reported as ratios
 */
public record JmhScenario(String name, String description, List<String> includes, Map<String, List<String>> params,
        List<Comparison> comparisons) implements Scenario {
    /** Warm-up iterations per repeat (excluded from the result). */
    public static final int WARMUP_ITERATIONS = 1;
    /** Measured iterations per repeat, averaged into that repeat's sample. */
    public static final int MEASURED_ITERATIONS = 2;

    @Override
    public ScenarioResult run(Settings settings) throws Exception {
        return new ScenarioResult(JmhRunner.run(includes, params, settings.repeat(), WARMUP_ITERATIONS,
                MEASURED_ITERATIONS, settings.durationSeconds(), settings.quiet()), List.of());
    }
}

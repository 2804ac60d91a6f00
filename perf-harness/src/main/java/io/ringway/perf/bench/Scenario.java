package io.ringway.perf.bench;

import java.util.List;
import java.util.Optional;

/**
 * A named group of measurements that {@code ringway bench NAME} runs, with the comparisons against
 * peers that its table and report show. JMH micro-benchmarks are {@link JmhScenario}s; end-to-end
 * scenarios (wake-ups, blk, and later net and vm) measure with HdrHistograms themselves.
 */
public interface Scenario {
    /** Command-line name, e.g. "rings". */
    String name();

    /** One line for the progress output and the report. */
    String description();

    /** Ours-vs-peer pairs reported as ratios. */
    List<Comparison> comparisons();

    /**
     * This scenario also run against an outside peer ({@code ringway bench --vs PEER}, e.g. "qsd" for
     * blk, "dpdk" for net), side by side and in turns; empty when the scenario has no such peer.
     */
    default Optional<Scenario> against(String peer) {
        return Optional.empty();
    }

    /** Runs the scenario: warm-up excluded, {@code settings.repeat()} repeats. */
    ScenarioResult run(Settings settings) throws Exception;

    /**
     * How long and how often to measure.
     *
     * @param repeat          repeats, each in a fresh JVM (JMH) or a fresh set-up
     * @param durationSeconds length of each measured iteration
     * @param quiet           a progress line instead of a tool's full log
     * @param trace           where per-operation events go ({@code --trace DIR}), or null
     */
    record Settings(int repeat, double durationSeconds, boolean quiet, io.ringway.perf.trace.TraceJournal trace) {
        public Settings(int repeat, double durationSeconds, boolean quiet) {
            this(repeat, durationSeconds, quiet, null);
        }
    }
}

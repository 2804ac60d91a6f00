package io.ringway.perf.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs JMH benchmarks from the classpath (the perf-harness jar carries JMH's BenchmarkList) with a
 * short, explicit configuration and returns one {@link Measurement} per benchmark, with one sample
 * per fork.
 */
public final class JmhRunner {
    /** JVM flags the forked benchmark JVMs need (FFM, Agrona, JCTools on JDK 25). */
    public static final String[] FORK_JVM_FLAGS = {
        "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow",
        "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
        "-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch",
    };

    private JmhRunner() {
    }

    /**
     * Runs every benchmark matching one of {@code includes}, with {@code params} overriding
     * {@code @Param} values.
     *
     * @param forks             repeats: separate JVMs, each one sample
     * @param warmupIterations  warm-up iterations per fork, excluded from the result
     * @param iterations        measured iterations per fork (averaged into that fork's sample)
     * @param iterationSeconds  length of each iteration
     * @param quiet             a progress line instead of JMH's log
     */
    public static Map<String, Measurement> run(List<String> includes, Map<String, List<String>> params, int forks,
            int warmupIterations, int iterations, double iterationSeconds, boolean quiet) throws RunnerException {
        ChainedOptionsBuilder options = new OptionsBuilder()
                .forks(forks)
                .warmupIterations(warmupIterations)
                .warmupTime(TimeValue.milliseconds((long) (iterationSeconds * 1000)))
                .measurementIterations(iterations)
                .measurementTime(TimeValue.milliseconds((long) (iterationSeconds * 1000)))
                .timeUnit(TimeUnit.NANOSECONDS)
                .jvmArgsAppend(FORK_JVM_FLAGS)
                .shouldFailOnError(true)
                .verbosity(VerboseMode.NORMAL);
        for (String include : includes) {
            options.include(include);
        }
        params.forEach((key, values) -> options.param(key, values.toArray(String[]::new)));
        Collection<RunResult> results;
        if (quiet) {
            ProgressFormat progress = new ProgressFormat(System.out);
            try {
                results = new Runner(options.build(), progress).run();
            } catch (RunnerException | RuntimeException e) {
                throw new RunnerException("benchmark run failed: " + e.getMessage() + "\nlast JMH output:\n" + progress.tail(), e);
            }
        } else {
            results = new Runner(options.build()).run();
        }
        Map<String, Measurement> byName = new LinkedHashMap<>();
        for (RunResult run : results) {
            String name = shortName(run);
            List<Double> samples = new ArrayList<>();
            String unit = null;
            for (BenchmarkResult fork : run.getBenchmarkResults()) {
                samples.add(fork.getPrimaryResult().getScore());
                unit = fork.getPrimaryResult().getScoreUnit();
            }
            byName.put(name, new Measurement(name, unit, samples.stream().mapToDouble(Double::doubleValue).toArray()));
        }
        return byName;
    }

    /** "io.ringway.perf.jmh.RingBenchmark.spscRingway" -> "RingBenchmark.spscRingway" (+ params). */
    private static String shortName(RunResult run) {
        String full = run.getParams().getBenchmark();
        int method = full.lastIndexOf('.');
        int cls = full.lastIndexOf('.', method - 1);
        StringBuilder name = new StringBuilder(full.substring(cls + 1));
        for (String key : run.getParams().getParamsKeys()) {
            name.append(' ').append(key).append('=').append(run.getParams().getParam(key));
        }
        return name.toString();
    }
}

package io.ringway.cli;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import io.ringway.perf.bench.BenchReport;
import io.ringway.perf.bench.JmhRunner;
import io.ringway.perf.bench.MachineSetup;
import io.ringway.perf.bench.Measurement;
import io.ringway.perf.bench.Scenario;
import io.ringway.perf.bench.Scenarios;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ringway bench}: the main job. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run Ringway's benchmarks and print a table with ratios against peers measured in the same run.",
            "Scenarios: rings (off-heap rings and mempool vs JCTools/Agrona), virtio (virtqueues, guest memory);",
            "rings-2t (producer and consumer threads; only when named). net, blk and vm come with their issues."})
final class BenchCommand implements Callable<Integer> {
    static final int WARMUP_ITERATIONS = 1;
    static final int MEASURED_ITERATIONS = 2;

    @Parameters(arity = "0..1", paramLabel = "SCENARIO", defaultValue = "all",
            description = "rings, virtio, rings-2t or all (default: ${DEFAULT-VALUE}; all = rings + virtio).")
    String scenario;

    @Option(names = "--duration", paramLabel = "S", defaultValue = "1",
            description = "Seconds per iteration (default: ${DEFAULT-VALUE}); 1 warm-up and 2 measured iterations per repeat.")
    double duration;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "3",
            description = "Repeats, each in a fresh JVM; results are median and range (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--json", paramLabel = "FILE", description = "Where to write the JSON results (default: results/bench-<time>.json).")
    Path json;

    @Option(names = {"-v", "--verbose"}, description = "Show JMH's own output.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        if (repeat < 1 || repeat > 50) {
            System.err.println("ringway bench: --repeat must be between 1 and 50, got " + repeat);
            return 2;
        }
        if (!(duration >= 0.1 && duration <= 600)) {
            System.err.println("ringway bench: --duration must be between 0.1 and 600 seconds, got " + duration);
            return 2;
        }
        List<Scenario> selected = new ArrayList<>();
        for (Scenario s : Scenarios.all()) {
            if (scenario.equals("all") || scenario.equals(s.name())) {
                selected.add(s);
            }
        }
        for (Scenario s : Scenarios.optional()) {
            if (scenario.equals(s.name())) {
                selected.add(s);
            }
        }
        if (selected.isEmpty()) {
            System.err.println("ringway bench: unknown scenario '" + scenario + "'; known: all, "
                    + String.join(", ", java.util.stream.Stream.concat(Scenarios.all().stream(), Scenarios.optional().stream())
                            .map(Scenario::name).toList())
                    + " (net, blk and vm are not implemented yet)");
            return 2;
        }
        if (json == null) {
            json = Path.of("results", "bench-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".json");
        }
        String command = "ringway bench " + scenario + " --duration " + duration + " --repeat " + repeat;
        Map<String, Map<String, Measurement>> results = new LinkedHashMap<>();
        for (Scenario s : selected) {
            System.out.printf("ringway bench: running %s (%s), %d repeats x (%d warm-up + %d measured) x %.1f s per benchmark...%n",
                    s.name(), s.description(), repeat, WARMUP_ITERATIONS, MEASURED_ITERATIONS, duration);
            Map<String, Measurement> r = JmhRunner.run(s, repeat, WARMUP_ITERATIONS, MEASURED_ITERATIONS, duration, !verbose);
            results.put(s.name(), r);
            BenchReport.printTable(System.out, s, r);
        }
        Map<String, String> setup = MachineSetup.describe(command);
        System.out.printf("%ncore-to-core round trip CPU0<->CPU1 (%s probe; fast state ~65-116 ns, slow ~400 ns): %s ns%n",
                setup.get("c2cProbe"), setup.get("c2cRoundTripNs"));
        BenchReport.writeJson(json, setup, selected, results);
        System.out.println();
        System.out.println("ringway bench: results written to " + json.toAbsolutePath());
        return 0;
    }
}

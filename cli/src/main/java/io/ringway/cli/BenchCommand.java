package io.ringway.cli;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import io.ringway.perf.bench.BenchReport;
import io.ringway.perf.bench.HtmlReport;
import io.ringway.perf.bench.JmhScenario;
import io.ringway.perf.bench.MachineSetup;
import io.ringway.perf.bench.Scenario;
import io.ringway.perf.bench.ScenarioResult;
import io.ringway.perf.bench.Scenarios;
import io.ringway.perf.trace.TraceJournal;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ringway bench}: the main job. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run Ringway's benchmarks: a table with ratios against peers measured in the same run, a JSON file and a self-contained HTML report.",
            "Scenarios: rings (off-heap rings and mempool vs JCTools/Agrona), virtio (virtqueues, guest memory),",
            "wakeup (interrupt-mode lcore wake-up vs park/unpark), blk (vhost-user-blk 4 KiB random I/O, null and RAM bdevs),",
            "net (vhost-user-net 64-byte frames: rxonly, txonly, macswap loop), vm (KVM exit costs vs a C yardstick;",
            "skipped without /dev/kvm); rings-2t (producer and consumer threads) only when named.",
            "With no argument: all, everything this machine can run without an outside peer, in under 5 minutes on 2 cores."})
final class BenchCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "SCENARIO", defaultValue = "all",
            description = "rings, virtio, wakeup, blk, net, vm, rings-2t or all (default: ${DEFAULT-VALUE}; all = rings + virtio + wakeup + blk + net + vm).")
    String scenario;

    @Option(names = "--duration", paramLabel = "S",
            description = "Seconds per iteration (default: 1, except JMH scenarios in the default 'all' run: "
                    + ALL_JMH_SECONDS + ", to keep it under 5 minutes); JMH scenarios run " + JmhScenario.WARMUP_ITERATIONS
                    + " warm-up and " + JmhScenario.MEASURED_ITERATIONS + " measured iterations per repeat.")
    Double durationOption;

    /** JMH iteration length in {@code ringway bench} / {@code ringway bench all} without --duration. */
    static final double ALL_JMH_SECONDS = 0.5;

    double duration;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "3",
            description = "Repeats, each in a fresh JVM or set-up; results are median and range (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--json", paramLabel = "FILE", description = "JSON results (default: results/bench-<time>.json).")
    Path json;

    @Option(names = "--html", paramLabel = "FILE", description = "HTML report (default: results/bench-<time>.html).")
    Path html;

    @Option(names = "--trace", paramLabel = "DIR",
            description = "Record per-operation latency events to a Chronicle Queue journal in DIR (scenarios that time single operations: wakeup, blk); export with: ringway trace export DIR --csv FILE.")
    Path trace;

    @Option(names = "--vs", paramLabel = "PEER",
            description = "Also run the same loads against an outside peer, in turns, and report ratios: qsd (qemu-storage-daemon, blk scenario) or dpdk (testpmd vhost PMD, net scenario).")
    String vs;

    @Option(names = {"-v", "--verbose"}, description = "Show JMH's own output.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        if (repeat < 1 || repeat > 50) {
            System.err.println("ringway bench: --repeat must be between 1 and 50, got " + repeat);
            return 2;
        }
        duration = durationOption == null ? 1 : durationOption;
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
                    + String.join(", ", Stream.concat(Scenarios.all().stream(), Scenarios.optional().stream())
                            .map(Scenario::name).toList()));
            return 2;
        }
        if (vs != null && !applyPeer(selected)) {
            return 2;
        }
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        if (json == null) {
            json = Path.of("results", "bench-" + stamp + ".json");
        }
        if (html == null) {
            html = Path.of("results", "bench-" + stamp + ".html");
        }
        String command = "ringway bench " + scenario + (durationOption == null ? "" : " --duration " + duration) + " --repeat " + repeat
                + (vs == null ? "" : " --vs " + vs);
        Map<String, ScenarioResult> results = new LinkedHashMap<>();
        int failed = 0;
        long started = System.nanoTime();
        try (TraceJournal journal = trace == null ? null : TraceJournal.open(trace)) {
            Scenario.Settings settings = new Scenario.Settings(repeat, duration, !verbose, journal);
            for (int i = 0; i < selected.size(); i++) {
                Scenario s = selected.get(i);
                System.out.printf("ringway bench [%d/%d, %.0f s elapsed]: %s — %s; %d repeats%n", i + 1, selected.size(),
                        (System.nanoTime() - started) / 1e9, s.name(), s.description(), repeat);
                ScenarioResult r;
                try {
                    r = s.run(jmhShortened(s, settings));
                } catch (Exception | Error e) {
                    if (e instanceof VirtualMachineError) {
                        throw e;
                    }
                    // One scenario's failure (a peer that would not start, a stalled back-end) is reported,
                    // and the others still run and are written.
                    r = ScenarioResult.failed(e.toString());
                    failed++;
                }
                results.put(s.name(), r);
                BenchReport.printTable(System.out, s, r.measurements());
                if (r.note() != null) {
                    System.out.println(s.name() + ": " + r.note());
                }
                System.out.println();
            }
        }
        if (trace != null) {
            System.out.println("ringway bench: trace journal in " + trace.toAbsolutePath() + " (ringway trace export " + trace + " --csv FILE)");
        }
        Map<String, String> setup = MachineSetup.describe(command);
        System.out.printf("core-to-core round trip CPU0<->CPU1 (%s probe; fast state ~65-116 ns, slow ~400 ns): %s ns%n",
                setup.get("c2cProbe"), setup.get("c2cRoundTripNs"));
        BenchReport.writeJson(json, setup, selected, results);
        HtmlReport.write(html, setup, selected, results);
        System.out.printf("ringway bench: done in %.0f s; results in %s and %s%s%n", (System.nanoTime() - started) / 1e9,
                json.toAbsolutePath(), html.toAbsolutePath(), failed == 0 ? "" : "; " + failed + " scenario(s) failed, see above");
        return failed == 0 ? 0 : 1;
    }

    /**
     * The default run ({@code all} without --duration) gives JMH scenarios shorter iterations: they
     * fork a JVM per benchmark and repeat, and at 1 s the whole run would not fit in 5 minutes on
     * two cores; their tiny loops are compiled long before 0.5 s.
     */
    private Scenario.Settings jmhShortened(Scenario s, Scenario.Settings settings) {
        if (durationOption == null && scenario.equals("all") && s instanceof JmhScenario) {
            return new Scenario.Settings(settings.repeat(), ALL_JMH_SECONDS, settings.quiet(), settings.trace());
        }
        return settings;
    }

    /** Swaps in the peer-racing variant of every selected scenario that has one; false for an unknown peer. */
    private boolean applyPeer(List<Scenario> selected) {
        if (!vs.equals("qsd") && !vs.equals("dpdk")) {
            System.err.println("ringway bench: --vs must be qsd (qemu-storage-daemon, blk) or dpdk (testpmd, net), got '" + vs + "'");
            return false;
        }
        boolean applied = false;
        for (int i = 0; i < selected.size(); i++) {
            java.util.Optional<Scenario> raced = selected.get(i).against(vs);
            if (raced.isPresent()) {
                selected.set(i, raced.get());
                applied = true;
            }
        }
        if (!applied) {
            String target = vs.equals("qsd") ? "blk" : "net";
            boolean exists = Stream.concat(Scenarios.all().stream(), Scenarios.optional().stream()).anyMatch(s -> s.name().equals(target));
            System.out.println("ringway bench: --vs " + vs + " applies to the " + target + " scenario, "
                    + (exists ? "which is not selected" : "not available yet") + "; running without a peer");
        }
        return true;
    }
}

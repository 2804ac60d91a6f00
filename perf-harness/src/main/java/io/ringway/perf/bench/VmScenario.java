package io.ringway.perf.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.HdrHistogram.Histogram;

import io.ringway.vcpu.bench.CPioYardstick;
import io.ringway.vcpu.bench.ExitCostSuite;
import io.ringway.vcpu.bench.KvmFlavour;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmUnavailableException;

/**
 * The vCPU engine's exit costs ({@code ringway vm exits}) in the bench report: every kind of
 * {@link ExitCostSuite} (whatever {@link ExitCostSuite.Kind#values()} holds, so kinds added to
 * the suite appear here without a change) run in a fresh CPL-3 micro-guest per repeat; per kind
 * the median and p99 of the round trip (host-timed where the operation exits to userspace,
 * guest rdtsc otherwise) and operations per second, and a latency curve over all repeats. The C
 * yardstick ({@code pio_exit.c}, the same PIO exit loop in C, compiled with gcc) is the peer of
 * the PIO exit. Skipped, with the reason, where /dev/kvm cannot be used.
 */
public final class VmScenario implements Scenario {
    static final String C_PIO_KEY = "C pio_exit.c pio-exit median ns";

    @Override
    public String name() {
        return "vm";
    }

    @Override
    public String description() {
        return "KVM micro-guest at CPL 3, one vCPU: " + String.join(", ", kindLabels())
                + "; round trip ns (lower is better), ops/s; PIO exit vs the C yardstick pio_exit.c";
    }

    static List<String> kindLabels() {
        List<String> labels = new ArrayList<>();
        for (ExitCostSuite.Kind k : ExitCostSuite.Kind.values()) {
            labels.add(k.label());
        }
        return labels;
    }

    static String medianKey(ExitCostSuite.Kind kind) {
        return "ringway " + kind.label() + " median ns";
    }

    static String p99Key(ExitCostSuite.Kind kind) {
        return "ringway " + kind.label() + " p99 ns";
    }

    static String opsKey(ExitCostSuite.Kind kind) {
        return "ringway " + kind.label() + " ops/s";
    }

    @Override
    public List<Comparison> comparisons() {
        return List.of(new Comparison("PIO exit round trip, median", medianKey(ExitCostSuite.Kind.PIO_EXIT), C_PIO_KEY,
                "C yardstick (pio_exit.c, same KVM)"));
    }

    /**
     * Operations per kind and repeat: 10 000 per second of {@code --duration} (as {@code ringway vm
     * exits}), 2 000..1 000 000. An exit costs a few microseconds on a quiet machine, but tens on a
     * loaded one, where 10 000 of each kind take seconds.
     */
    static int iterations(double durationSeconds) {
        return (int) Math.max(2_000, Math.min(1_000_000, Math.round(10_000 * durationSeconds)));
    }

    @Override
    public ScenarioResult run(Settings settings) {
        int iterations = iterations(settings.durationSeconds());
        Map<String, List<Double>> samples = new LinkedHashMap<>();
        Map<String, String> units = new LinkedHashMap<>();
        Map<ExitCostSuite.Kind, Histogram> curves = new LinkedHashMap<>();
        Map<ExitCostSuite.Kind, Boolean> hostTimed = new LinkedHashMap<>();
        boolean cMissing = false;
        Map<ExitCostSuite.Kind, String> failedKinds = new LinkedHashMap<>();
        KvmFlavour flavour = KvmFlavour.detect();
        try (Kvm kvm = Kvm.open()) {
            kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD");
            kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD_NO_LENGTH, "KVM_CAP_IOEVENTFD_NO_LENGTH");
            System.out.printf(Locale.ROOT, "  vm: KVM flavour %s, %d operations per kind and repeat, after an unrecorded warm-up%n",
                    flavour, iterations);
            ExitCostSuite.run(kvm, ExitCostSuite.Kind.PIO_EXIT, Math.min(iterations, 2_000)); // JIT the run loop
            for (int r = 0; r < settings.repeat(); r++) {
                for (ExitCostSuite.Kind kind : ExitCostSuite.Kind.values()) {
                    if (failedKinds.containsKey(kind)) {
                        continue;
                    }
                    ExitCostSuite.Result res;
                    try {
                        res = ExitCostSuite.run(kvm, kind, iterations);
                    } catch (RuntimeException e) {
                        // A kind this KVM cannot run (a capability a newer suite entry needs) must not cost the others.
                        System.out.println("  vm: " + kind.label() + " failed, not measured: " + e.getMessage());
                        failedKinds.put(kind, e.getMessage());
                        continue;
                    }
                    Histogram h = res.primary();
                    add(samples, units, medianKey(kind), "ns", h.getValueAtPercentile(50));
                    add(samples, units, p99Key(kind), "ns", h.getValueAtPercentile(99));
                    add(samples, units, opsKey(kind), "ops/s", res.opsPerSecond());
                    Histogram acc = curves.get(kind);
                    if (acc == null) {
                        curves.put(kind, h.copy());
                        hostTimed.put(kind, h == res.hostExitNanos());
                    } else {
                        acc.add(h);
                    }
                    if (!settings.quiet()) {
                        System.out.printf(Locale.ROOT, "  vm: %s: median %d ns, p99 %d ns, %.0f ops/s%n", kind.label(),
                                h.getValueAtPercentile(50), h.getValueAtPercentile(99), res.opsPerSecond());
                    }
                }
                CPioYardstick.Result c = cMissing ? null : CPioYardstick.measure(iterations);
                if (c == null) {
                    if (!cMissing) {
                        System.out.println("  vm: C yardstick not run (no gcc, or pio_exit.c failed): no Java/C ratio");
                    }
                    cMissing = true;
                } else {
                    add(samples, units, C_PIO_KEY, "ns", c.medianNanos());
                }
            }
        } catch (KvmUnavailableException e) {
            System.out.println("  vm: skipped: " + e.getMessage());
            return ScenarioResult.skipped(e.getMessage());
        }
        Map<String, Measurement> measurements = new LinkedHashMap<>();
        samples.forEach((k, v) -> measurements.put(k, new Measurement(k, units.get(k), v.stream().mapToDouble(Double::doubleValue).toArray())));
        List<LatencySeries> latencies = new ArrayList<>();
        curves.forEach((kind, h) -> latencies.add(LatencySeries.of(kind.label() + (hostTimed.get(kind) ? " (host-timed round trip)"
                : " (guest rdtsc)"), true, h)));
        StringBuilder note = new StringBuilder("KVM flavour " + flavour);
        failedKinds.forEach((kind, why) -> note.append("; ").append(kind.label()).append(" failed: ").append(why));
        return new ScenarioResult(measurements, latencies, note.toString());
    }

    private static void add(Map<String, List<Double>> samples, Map<String, String> units, String key, String unit, double value) {
        samples.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
        units.put(key, unit);
    }
}

package io.ringway.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.HdrHistogram.Histogram;

import io.ringway.vcpu.bench.CPioYardstick;
import io.ringway.vcpu.bench.ExitCostSuite;
import io.ringway.vcpu.bench.KvmFlavour;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmUnavailableException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringway vm}: the KVM vCPU engine. */
@Command(name = "vm", mixinStandardHelpOptions = true,
        description = "KVM guests: exit costs, guest driver loops against Ringway devices, Linux boot.",
        subcommands = {VmCommand.Exits.class, VmRunCommand.class, VmBootCommand.class})
final class VmCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** {@code ringway vm exits}. */
    @Command(name = "exits", mixinStandardHelpOptions = true,
            description = {"Measure what virtualization costs: PIO and MMIO exits to userspace, an MMIO doorbell absorbed by",
                "an ioeventfd, CPUID handled in KVM. A CPL-3 micro-guest does each operation N times; the host times",
                "each exit round trip, the guest times each operation with rdtsc."})
    static final class Exits implements Callable<Integer> {
        @Option(names = "--iterations", paramLabel = "N", description = "Operations per kind (default: ${DEFAULT-VALUE}).")
        int iterations = 10_000;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
        Path json;

        @Option(names = "--no-c", description = "Skip the C yardstick (pio_exit.c compiled with gcc).")
        boolean noC;

        @Override
        public Integer call() throws IOException {
            KvmFlavour flavour = KvmFlavour.detect();
            List<ExitCostSuite.Result> results = new ArrayList<>();
            try (Kvm kvm = Kvm.open()) {
                kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD");
                kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD_NO_LENGTH, "KVM_CAP_IOEVENTFD_NO_LENGTH");
                ExitCostSuite.run(kvm, ExitCostSuite.Kind.PIO_EXIT, Math.min(iterations, 2_000)); // warm-up: JIT the run loop
                for (ExitCostSuite.Kind kind : ExitCostSuite.Kind.values()) {
                    results.add(ExitCostSuite.run(kvm, kind, iterations));
                }
            } catch (KvmUnavailableException e) {
                System.err.println(e.getMessage());
                return 2;
            }
            CPioYardstick.Result c = noC ? null : CPioYardstick.measure(iterations);

            System.out.printf("KVM flavour: %s; guest at CPL 3; %d operations per kind%n", flavour, iterations);
            System.out.printf("%-16s %12s %12s %14s %14s %12s %10s%n",
                "exit kind", "median ns", "p99 ns", "guest med ns", "guest p99 ns", "ops/s", "exits");
            for (ExitCostSuite.Result r : results) {
                Histogram h = r.primary();
                System.out.printf(Locale.ROOT, "%-16s %12d %12d %14d %14d %12.0f %10d%n", r.kind().label(),
                    h.getValueAtPercentile(50), h.getValueAtPercentile(99),
                    r.guestNanos().getValueAtPercentile(50), r.guestNanos().getValueAtPercentile(99),
                    r.opsPerSecond(), r.userspaceExits());
            }
            ExitCostSuite.Result pio = results.get(0);
            ExitCostSuite.Result mmio = results.get(1);
            ExitCostSuite.Result bell = results.get(2);
            double bellRatio = (double) mmio.guestNanos().getValueAtPercentile(50) / bell.guestNanos().getValueAtPercentile(50);
            System.out.printf(Locale.ROOT, "ioeventfd doorbell vs MMIO exit to userspace (guest medians): %.1fx cheaper; eventfd count %d of %d%n",
                bellRatio, bell.eventfdCount(), bell.iterations());
            double cRatio = Double.NaN;
            if (c != null) {
                cRatio = (double) pio.hostExitNanos().getValueAtPercentile(50) / c.medianNanos();
                System.out.printf(Locale.ROOT, "C yardstick (pio_exit.c): PIO exit median %d ns; Java/C = %.2f%n", c.medianNanos(), cRatio);
            } else if (!noC) {
                System.out.println("C yardstick: not run (no gcc, or it failed)");
            }
            if (json != null) {
                writeJson(flavour, results, c, bellRatio, cRatio);
                System.out.println("results: " + json);
            }
            return 0;
        }

        private void writeJson(KvmFlavour flavour, List<ExitCostSuite.Result> results, CPioYardstick.Result c,
                               double bellRatio, double cRatio) throws IOException {
            StringBuilder sb = new StringBuilder();
            sb.append("{\n  \"kvm_flavour\": \"").append(flavour.name()).append("\",\n");
            sb.append("  \"guest_cpl\": 3,\n  \"iterations\": ").append(iterations).append(",\n  \"results\": [\n");
            for (int i = 0; i < results.size(); i++) {
                ExitCostSuite.Result r = results.get(i);
                sb.append(String.format(Locale.ROOT,
                    "    {\"kind\": \"%s\", \"host_median_ns\": %s, \"host_p99_ns\": %s, \"guest_median_ns\": %d, \"guest_p99_ns\": %d, "
                        + "\"wall_ns_per_op\": %.1f, \"ops_per_s\": %.1f, \"userspace_exits\": %d, \"eventfd_count\": %d, \"tsc_khz\": %d}%s%n",
                    r.kind().label(),
                    r.hostExitNanos() == null ? "null" : Long.toString(r.hostExitNanos().getValueAtPercentile(50)),
                    r.hostExitNanos() == null ? "null" : Long.toString(r.hostExitNanos().getValueAtPercentile(99)),
                    r.guestNanos().getValueAtPercentile(50), r.guestNanos().getValueAtPercentile(99),
                    r.wallNanosPerOp(), r.opsPerSecond(), r.userspaceExits(), r.eventfdCount(), r.tscKhz(),
                    i + 1 < results.size() ? "," : ""));
            }
            sb.append("  ],\n  \"doorbell_vs_mmio_exit\": ").append(String.format(Locale.ROOT, "%.2f", bellRatio));
            if (c != null) {
                sb.append(",\n  \"c_pio_exit_median_ns\": ").append(c.medianNanos())
                    .append(",\n  \"java_vs_c_pio_exit\": ").append(String.format(Locale.ROOT, "%.3f", cRatio));
            }
            sb.append("\n}\n");
            Path parent = json.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(json, sb);
        }
    }
}

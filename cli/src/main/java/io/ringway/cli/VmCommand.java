package io.ringway.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.HdrHistogram.Histogram;

import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vcpu.bench.CPioYardstick;
import io.ringway.vcpu.bench.ExitCostSuite;
import io.ringway.vcpu.bench.KvmFlavour;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmUnavailableException;
import io.ringway.vcpu.kvm.Vm;
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
                "an ioeventfd, CPUID handled in KVM, an interrupt round trip (doorbell -> data-plane thread -> irqfd ->",
                "guest handler -> ack) and a HLT wake-up by irqfd. A CPL-3 micro-guest does each operation N times; the",
                "host times each exit round trip (or irqfd-to-ack), the guest times each operation with rdtsc.",
                "KVM's own vCPU statistics (stats fd) are shown per kind and published live to `ringway stats`."})
    static final class Exits implements Callable<Integer> {
        @Option(names = "--iterations", paramLabel = "N", description = "Operations per kind (default: ${DEFAULT-VALUE}).")
        int iterations = 10_000;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
        Path json;

        @Option(names = "--no-c", description = "Skip the C yardstick (pio_exit.c compiled with gcc).")
        boolean noC;

        @Option(names = "--disable-exits", paramLabel = "HLT,PAUSE,...", split = ",",
                description = "Turn these exits off with KVM_CAP_X86_DISABLE_EXITS (HLT, PAUSE, MWAIT, CSTATE) in every micro-guest.")
        List<String> disableExits = new ArrayList<>();

        @Override
        public Integer call() throws IOException {
            KvmFlavour flavour = KvmFlavour.detect();
            List<ExitCostSuite.Result> results = new ArrayList<>();
            List<String> skipped = new ArrayList<>();
            String capabilities;
            try (Kvm kvm = Kvm.open()) {
                kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD");
                kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD_NO_LENGTH, "KVM_CAP_IOEVENTFD_NO_LENGTH");
                capabilities = capabilities(kvm);
                int disable = disableExitBits(disableExits);
                StatsRegistry registry = StatsRegistry.process();
                ExitCostSuite.run(kvm, ExitCostSuite.Kind.PIO_EXIT, Math.min(iterations, 2_000)); // warm-up: JIT the run loop
                for (ExitCostSuite.Kind kind : ExitCostSuite.Kind.values()) {
                    try {
                        results.add(ExitCostSuite.run(kvm, kind, iterations, registry, disable));
                    } catch (KvmUnavailableException e) {
                        if (!kind.interrupts()) {
                            throw e;
                        }
                        skipped.add(kind.label() + ": skipped, " + e.getMessage());
                    }
                }
            } catch (KvmUnavailableException e) {
                System.err.println(e.getMessage());
                return 2;
            }
            CPioYardstick.Result c = noC ? null : CPioYardstick.measure(iterations);

            System.out.printf("KVM flavour: %s; guest at CPL 3 (irqfd-hlt-wakeup: CPL 0); %d operations per kind%n", flavour, iterations);
            System.out.println(capabilities);
            if (!disableExits.isEmpty()) {
                System.out.println("exits disabled in every micro-guest: " + String.join("|", disableExits).toUpperCase(Locale.ROOT));
            }
            System.out.printf("%-22s %12s %12s %14s %14s %12s %10s%n",
                "exit kind", "median ns", "p99 ns", "guest med ns", "guest p99 ns", "ops/s", "exits");
            for (ExitCostSuite.Result r : results) {
                Histogram h = r.primary();
                System.out.printf(Locale.ROOT, "%-22s %12d %12d %14d %14d %12.0f %10d%n", r.kind().label(),
                    h.getValueAtPercentile(50), h.getValueAtPercentile(99),
                    r.guestNanos().getValueAtPercentile(50), r.guestNanos().getValueAtPercentile(99),
                    r.opsPerSecond(), r.userspaceExits());
            }
            for (ExitCostSuite.Result r : results) {
                if (r.kind().doorbellSeen()) {
                    System.out.printf(Locale.ROOT, "%s: guest doorbell -> ACK seen above; the data-plane thread's part (kick seen -> ACK written):"
                        + " median %d ns, p99 %d ns; kicks read %d of %d%n", r.kind().label(), r.hostExitNanos().getValueAtPercentile(50),
                        r.hostExitNanos().getValueAtPercentile(99), r.eventfdCount(), r.iterations());
                }
            }
            skipped.forEach(System.out::println);
            printKvmStats(results);
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

        /** One line on what this KVM offers for the parts of the suite that need more than exits. */
        private static String capabilities(Kvm kvm) {
            int disable = Math.max(0, kvm.checkExtension(KvmApi.KVM_CAP_X86_DISABLE_EXITS));
            return "KVM capabilities: binary stats " + yesNo(kvm, KvmApi.KVM_CAP_BINARY_STATS_FD, "KVM_CAP_BINARY_STATS_FD")
                + "; irqchip " + yesNo(kvm, KvmApi.KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP")
                + "; irqfd " + yesNo(kvm, KvmApi.KVM_CAP_IRQFD, "KVM_CAP_IRQFD")
                + "; GSI routing " + yesNo(kvm, KvmApi.KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING")
                + "; signal MSI " + yesNo(kvm, KvmApi.KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI")
                + "; DISABLE_EXITS " + (disable == 0 ? "no (KVM_CAP_X86_DISABLE_EXITS missing)" : "offers " + Vm.disableExitsNames(disable));
        }

        private static int disableExitBits(List<String> names) {
            int bits = 0;
            for (String n : names) {
                bits |= switch (n.trim().toUpperCase(Locale.ROOT)) {
                    case "MWAIT" -> KvmApi.KVM_X86_DISABLE_EXITS_MWAIT;
                    case "HLT" -> KvmApi.KVM_X86_DISABLE_EXITS_HLT;
                    case "PAUSE" -> KvmApi.KVM_X86_DISABLE_EXITS_PAUSE;
                    case "CSTATE" -> KvmApi.KVM_X86_DISABLE_EXITS_CSTATE;
                    default -> throw new CommandLine.ParameterException(new CommandLine(new Exits()),
                        "--disable-exits: unknown exit '" + n + "' (HLT, PAUSE, MWAIT or CSTATE)");
                };
            }
            return bits;
        }

        private static String yesNo(Kvm kvm, int capability, String name) {
            return kvm.checkExtension(capability) > 0 ? "yes" : "no (" + name + " missing)";
        }

        /** KVM's vCPU statistics: how much each moved during each kind's run. */
        private static void printKvmStats(List<ExitCostSuite.Result> results) {
            List<String> names = new ArrayList<>();
            for (ExitCostSuite.Result r : results) {
                for (String n : r.kvmStats().keySet()) {
                    if (!names.contains(n)) {
                        names.add(n);
                    }
                }
            }
            if (names.isEmpty()) {
                System.out.println("KVM statistics: not available (KVM_CAP_BINARY_STATS_FD missing)");
                return;
            }
            System.out.println("KVM vCPU statistics moved per run (stats fd):");
            StringBuilder header = new StringBuilder(String.format("%-22s", "exit kind"));
            for (String n : names) {
                header.append(String.format(" %14s", n));
            }
            System.out.println(header);
            for (ExitCostSuite.Result r : results) {
                StringBuilder line = new StringBuilder(String.format("%-22s", r.kind().label()));
                for (String n : names) {
                    Long v = r.kvmStats().get(n);
                    line.append(String.format(" %14s", v == null ? "-" : Long.toString(v)));
                }
                System.out.println(line);
            }
        }

        private static String jsonObject(Map<String, Long> values) {
            StringBuilder sb = new StringBuilder("{");
            values.forEach((k, v) -> sb.append(sb.length() > 1 ? ", " : "").append('"').append(k).append("\": ").append(v));
            return sb.append('}').toString();
        }

        private void writeJson(KvmFlavour flavour, List<ExitCostSuite.Result> results, CPioYardstick.Result c,
                               double bellRatio, double cRatio) throws IOException {
            StringBuilder sb = new StringBuilder();
            sb.append("{\n  \"kvm_flavour\": \"").append(flavour.name()).append("\",\n");
            sb.append("  \"guest_cpl\": 3,\n  \"iterations\": ").append(iterations).append(",\n");
            sb.append("  \"disabled_exits\": \"").append(String.join("|", disableExits).toUpperCase(Locale.ROOT)).append("\",\n  \"results\": [\n");
            for (int i = 0; i < results.size(); i++) {
                ExitCostSuite.Result r = results.get(i);
                sb.append(String.format(Locale.ROOT,
                    "    {\"kind\": \"%s\", \"host_median_ns\": %s, \"host_p99_ns\": %s, \"guest_median_ns\": %d, \"guest_p99_ns\": %d, "
                        + "\"wall_ns_per_op\": %.1f, \"ops_per_s\": %.1f, \"userspace_exits\": %d, \"eventfd_count\": %d, \"tsc_khz\": %d, "
                        + "\"kvm_stats\": %s}%s%n",
                    r.kind().label(),
                    r.hostExitNanos() == null ? "null" : Long.toString(r.hostExitNanos().getValueAtPercentile(50)),
                    r.hostExitNanos() == null ? "null" : Long.toString(r.hostExitNanos().getValueAtPercentile(99)),
                    r.guestNanos().getValueAtPercentile(50), r.guestNanos().getValueAtPercentile(99),
                    r.wallNanosPerOp(), r.opsPerSecond(), r.userspaceExits(), r.eventfdCount(), r.tscKhz(),
                    jsonObject(r.kvmStats()), i + 1 < results.size() ? "," : ""));
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

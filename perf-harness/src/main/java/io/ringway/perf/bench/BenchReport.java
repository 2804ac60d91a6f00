package io.ringway.perf.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Prints a scenario's results as a table with peer ratios, and writes them as JSON. */
public final class BenchReport {
    private BenchReport() {
    }

    /**
     * How many times better Ringway is than the peer; above 1 is better. For a unit where higher is
     * better (IOPS, ops/s) that is {@code ours / peer}; for times (ns/op, us) it is {@code peer / ours}.
     */
    public static double speedup(Measurement ours, Measurement peer) {
        return higherIsBetter(ours.unit()) ? ours.median() / peer.median() : peer.median() / ours.median();
    }

    /** Throughput units: IOPS, pps/Mpps, bytes per second, JMH's ops/TIME; everything else is a time. */
    public static boolean higherIsBetter(String unit) {
        if (unit == null) {
            return false;
        }
        return unit.equals("IOPS") || unit.endsWith("pps") || unit.startsWith("ops/") || unit.endsWith("/s");
    }

    /** What the ratio of {@link #speedup} divides, for the reader: "Ringway/peer" or "peer/Ringway". */
    public static String ratioBasis(String unit) {
        return higherIsBetter(unit) ? "Ringway/peer" : "peer/Ringway";
    }

    public static void printTable(PrintStream out, Scenario scenario, Map<String, Measurement> results) {
        out.printf(Locale.ROOT, "%n== %s: %s ==%n", scenario.name(), scenario.description());
        out.printf(Locale.ROOT, "%-46s %15s %-24s%n", "benchmark", "median", " range (min..max)");
        for (Measurement m : results.values()) {
            out.printf(Locale.ROOT, "%-46s %10.2f %-4s %10.2f..%-10.2f n=%d%n", m.name(), m.median(), unitShort(m.unit()),
                    m.min(), m.max(), m.samples().length);
        }
        if (!scenario.comparisons().isEmpty()) {
            out.printf(Locale.ROOT, "%n%-40s %-30s %14s %14s %8s  %s%n", "comparison", "peer", "ringway", "peer", "ratio",
                    "(>1: Ringway better)");
            for (Comparison c : scenario.comparisons()) {
                Measurement ours = results.get(c.ours());
                Measurement peer = results.get(c.peer());
                if (ours == null || peer == null) {
                    out.printf(Locale.ROOT, "%-40s %-30s %s%n", c.title(), c.peerName(), "(not measured in this run)");
                    continue;
                }
                out.printf(Locale.ROOT, "%-40s %-30s %14s %14s %7.2fx  %s%n", c.title(), c.peerName(),
                        value(ours), value(peer), speedup(ours, peer), ratioBasis(ours.unit()));
            }
        }
    }

    private static String value(Measurement m) {
        String u = unitShort(m.unit());
        return m.median() >= 10_000 ? String.format(Locale.ROOT, "%,.0f %s", m.median(), u)
                : String.format(Locale.ROOT, "%.2f %s", m.median(), u);
    }

    private static String unitShort(String unit) {
        return unit == null ? "" : unit.replace("/op", "");
    }

    /** Writes every scenario's measurements and ratios, plus the machine setup, as JSON. */
    public static void writeJson(Path file, Map<String, String> setup, List<Scenario> scenarios,
            Map<String, ScenarioResult> results) throws IOException {
        StringBuilder j = new StringBuilder(4096);
        j.append("{\n  \"generated\": ").append(str(Instant.now().toString())).append(",\n  \"setup\": {");
        boolean first = true;
        for (Map.Entry<String, String> e : setup.entrySet()) {
            j.append(first ? "\n" : ",\n").append("    ").append(str(e.getKey())).append(": ").append(str(e.getValue()));
            first = false;
        }
        j.append("\n  },\n  \"scenarios\": [");
        for (int s = 0; s < scenarios.size(); s++) {
            Scenario scenario = scenarios.get(s);
            ScenarioResult result = results.get(scenario.name());
            Map<String, Measurement> r = result == null ? Map.of() : result.measurements();
            j.append(s == 0 ? "\n" : ",\n").append("    {\"name\": ").append(str(scenario.name()))
                    .append(", \"description\": ").append(str(scenario.description()));
            if (result != null && result.note() != null) {
                j.append(", \"note\": ").append(str(result.note()));
            }
            j.append(", \"benchmarks\": [");
            int i = 0;
            for (Measurement m : r.values()) {
                j.append(i++ == 0 ? "\n" : ",\n").append("      {\"name\": ").append(str(m.name()))
                        .append(", \"unit\": ").append(str(m.unit()))
                        .append(", \"median\": ").append(num(m.median()))
                        .append(", \"min\": ").append(num(m.min()))
                        .append(", \"max\": ").append(num(m.max()))
                        .append(", \"samples\": [");
                double[] samples = m.samples();
                for (int k = 0; k < samples.length; k++) {
                    j.append(k == 0 ? "" : ", ").append(num(samples[k]));
                }
                j.append("]}");
            }
            j.append("\n    ], \"latencies\": [");
            List<LatencySeries> latencies = result == null ? List.of() : result.latencies();
            for (int l = 0; l < latencies.size(); l++) {
                LatencySeries series = latencies.get(l);
                j.append(l == 0 ? "\n" : ",\n").append("      {\"label\": ").append(str(series.label()))
                        .append(", \"ours\": ").append(series.ours())
                        .append(", \"count\": ").append(series.count())
                        .append(", \"percentilesNs\": [");
                for (int k = 0; k < series.points().size(); k++) {
                    double[] point = series.points().get(k);
                    j.append(k == 0 ? "" : ", ").append('[').append(num(point[0])).append(", ").append(num(point[1])).append(']');
                }
                j.append("]}");
            }
            j.append("\n    ], \"comparisons\": [");
            int c = 0;
            for (Comparison cmp : scenario.comparisons()) {
                Measurement ours = r.get(cmp.ours());
                Measurement peer = r.get(cmp.peer());
                j.append(c++ == 0 ? "\n" : ",\n").append("      {\"title\": ").append(str(cmp.title()))
                        .append(", \"ours\": ").append(str(cmp.ours()))
                        .append(", \"peer\": ").append(str(cmp.peer()))
                        .append(", \"peerName\": ").append(str(cmp.peerName()))
                        .append(", \"ratio\": ").append(ours == null || peer == null ? "null" : num(speedup(ours, peer)))
                        .append(", \"ratioBasis\": ").append(ours == null ? "null" : str(ratioBasis(ours.unit())))
                        .append('}');
            }
            j.append("\n    ]}");
        }
        j.append("\n  ]\n}\n");
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, j);
    }

    private static String num(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4f", v) : "null";
    }

    static String str(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (ch < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
                    } else {
                        b.append(ch);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}

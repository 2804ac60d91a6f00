package io.ringway.perf.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One self-contained HTML page of a bench run, in the manner of SPDK's performance reports: a
 * setup table (CPU, cores, kernel, KVM flavour, JDK, JVM flags, exact command), and per scenario
 * inline SVG plots — bars for Ringway beside each peer (with the repeat range as whiskers) and
 * latency percentile curves on log scales from the HdrHistograms — then the numbers as tables.
 * No script, no external file: it opens anywhere, offline.
 */
public final class HtmlReport {
    private static final String OURS = "#1f6fb2";
    private static final String PEER = "#d9822b";

    private HtmlReport() {
    }

    public static void write(Path file, Map<String, String> setup, List<Scenario> scenarios,
            Map<String, ScenarioResult> results) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, render(setup, scenarios, results));
    }

    static String render(Map<String, String> setup, List<Scenario> scenarios, Map<String, ScenarioResult> results) {
        StringBuilder h = new StringBuilder(32 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Ringway bench report</title>\n<style>\n")
                .append("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}\n")
                .append("table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}\n")
                .append("td.num{text-align:right;font-variant-numeric:tabular-nums}h2{margin-top:2em;border-bottom:2px solid #1f6fb2}\n")
                .append("svg{display:block;margin:.5em 0}.note{color:#666;font-size:13px}\n")
                .append("</style></head><body>\n<h1>Ringway bench report</h1>\n<p class=\"note\">Generated ")
                .append(esc(Instant.now().toString()))
                .append(". Each figure is the median of the repeats (each repeat a fresh JVM or set-up, warm-up excluded); ")
                .append("whiskers and ranges show min..max over the repeats. Ratios compare against a peer measured in the same run.</p>\n");
        h.append("<h2>Setup</h2>\n<table class=\"setup\" id=\"setup\"><tbody>\n");
        setup.forEach((k, v) -> h.append("<tr><th>").append(esc(k)).append("</th><td>").append(esc(v)).append("</td></tr>\n"));
        h.append("</tbody></table>\n");
        for (Scenario s : scenarios) {
            ScenarioResult r = results.get(s.name());
            h.append("<h2 id=\"scenario-").append(esc(s.name())).append("\">").append(esc(s.name())).append("</h2>\n<p>")
                    .append(esc(s.description())).append("</p>\n");
            if (r == null) {
                h.append("<p class=\"note\">not run</p>\n");
                continue;
            }
            if (r.note() != null) {
                h.append("<p class=\"note\">").append(esc(r.note())).append("</p>\n");
            }
            h.append(barCharts(s, r.measurements()));
            if (!r.latencies().isEmpty()) {
                h.append(latencyChart(s.name(), r.latencies()));
            }
            h.append(comparisonTable(s, r.measurements())).append(measurementTable(r.measurements()));
        }
        h.append("</body></html>\n");
        return h.toString();
    }

    /**
     * The bar length: throughput (operations per microsecond) for time-per-op units, the value itself
     * otherwise, so that a longer bar is better for ns/op, IOPS and ops/s alike; for plain times
     * (us of latency) a longer bar is worse, and the axis says so.
     */
    static double plotted(Measurement m, double v) {
        return isTimePerOp(m) ? 1000.0 / v : v;
    }

    private static boolean isTimePerOp(Measurement m) {
        return m.unit() != null && m.unit().startsWith("ns/");
    }

    /** The axis text of a bar chart of measurements in {@code m}'s unit. */
    static String axisLabel(Measurement m) {
        if (isTimePerOp(m)) {
            return "million operations per second (higher is better)";
        }
        return m.unit() + (BenchReport.higherIsBetter(m.unit()) ? " (higher is better)" : " (lower is better)");
    }

    /** One bar of Ringway's, with the peer's beside it when there is one (peer null: Ringway alone). */
    private record BarRow(String title, String subtitle, Measurement ours, Measurement peer) {
        List<Measurement> bars() {
            return peer == null ? List.of(ours) : List.of(ours, peer);
        }
    }

    /**
     * One bar chart per unit: IOPS and microseconds of latency do not share an axis. Comparisons
     * give Ringway's bar with the peer's beside it; throughputs no comparison covers (a scenario
     * run without its peer) get Ringway's bar alone.
     */
    private static String barCharts(Scenario s, Map<String, Measurement> ms) {
        Map<String, List<BarRow>> byUnit = new java.util.LinkedHashMap<>();
        java.util.Set<String> compared = new java.util.HashSet<>();
        for (Comparison c : s.comparisons()) {
            if (ms.containsKey(c.ours()) && ms.containsKey(c.peer())) {
                Measurement o = ms.get(c.ours());
                byUnit.computeIfAbsent(String.valueOf(o.unit()), u -> new java.util.ArrayList<>())
                        .add(new BarRow(c.title(), "vs " + c.peerName(), o, ms.get(c.peer())));
                compared.add(c.ours());
                compared.add(c.peer());
            }
        }
        for (Measurement m : ms.values()) {
            if (!compared.contains(m.name()) && BenchReport.higherIsBetter(m.unit())) {
                byUnit.computeIfAbsent(String.valueOf(m.unit()), u -> new java.util.ArrayList<>())
                        .add(new BarRow(m.name(), "no peer in this run", m, null));
            }
        }
        StringBuilder charts = new StringBuilder();
        byUnit.values().forEach(rows -> charts.append(barChart(s, rows)));
        return charts.toString();
    }

    private static String barChart(Scenario s, List<BarRow> rows) {
        Measurement first = rows.get(0).ours();
        String axis = axisLabel(first);
        double max = 0;
        for (BarRow row : rows) {
            for (Measurement m : row.bars()) {
                max = Math.max(max, Math.max(plotted(m, m.min()), plotted(m, m.max())));
            }
        }
        max = max <= 0 ? 1 : max * 1.1;
        int rowH = 46;
        int left = 330;
        int width = 960;
        int plotW = width - left - 80;
        int height = 40 + rows.size() * rowH;
        StringBuilder g = new StringBuilder();
        g.append(String.format(Locale.ROOT, "<svg class=\"bars\" data-scenario=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n",
                esc(s.name()), width, height, width, height));
        g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"14\" font-size=\"12\" fill=\"#444\">%s</text>\n", left, esc(axis)));
        g.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"4\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"14\" font-size=\"12\">Ringway</text>", width - 170, OURS, width - 156));
        g.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"4\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"14\" font-size=\"12\">peer</text>\n", width - 90, PEER, width - 76));
        int y = 28;
        for (BarRow row : rows) {
            g.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%d\" font-size=\"12\">%s</text>\n", y + 12, esc(row.title())));
            g.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%d\" font-size=\"11\" fill=\"#666\">%s</text>\n", y + 30, esc(row.subtitle())));
            int by = y;
            for (Measurement m : row.bars()) {
                String color = m == row.ours() ? OURS : PEER;
                double v = plotted(m, m.median());
                double lo = Math.min(plotted(m, m.min()), plotted(m, m.max()));
                double hi = Math.max(plotted(m, m.min()), plotted(m, m.max()));
                int w = (int) Math.max(1, Math.round(v / max * plotW));
                g.append(String.format(Locale.ROOT, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"16\" fill=\"%s\"><title>%s: %.3f %s</title></rect>\n",
                        left, by, w, color, esc(m.name()), m.median(), esc(m.unit())));
                int x1 = left + (int) Math.round(lo / max * plotW);
                int x2 = left + (int) Math.round(hi / max * plotW);
                g.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#222\"/>\n", x1, by + 8, x2, by + 8));
                g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n", left + w + 6, by + 12, fmt(v)));
                by += 18;
            }
            y += rowH;
        }
        return g.append("</svg>\n").toString();
    }

    /** Percentile curves: x = log10(1/(1-p)), y = log10(latency). */
    private static String latencyChart(String scenario, List<LatencySeries> series) {
        int width = 960;
        int height = 360;
        int left = 70;
        int right = 20;
        int top = 20;
        int bottom = 50;
        double xMax = 4; // p99.99
        double yMin = Double.MAX_VALUE;
        double yMax = 0;
        for (LatencySeries s : series) {
            for (double[] p : s.points()) {
                if (p[1] > 0) {
                    yMin = Math.min(yMin, p[1]);
                    yMax = Math.max(yMax, p[1]);
                }
            }
        }
        if (yMax <= 0) {
            return "";
        }
        double ly0 = Math.floor(Math.log10(yMin));
        double ly1 = Math.ceil(Math.log10(yMax));
        if (ly1 <= ly0) {
            ly1 = ly0 + 1;
        }
        int pw = width - left - right;
        int ph = height - top - bottom;
        StringBuilder g = new StringBuilder();
        g.append(String.format(Locale.ROOT, "<svg class=\"latency\" data-scenario=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n",
                esc(scenario), width, height, width, height));
        g.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n", left, top, pw, ph));
        String[] xLabels = {"p0", "p90", "p99", "p99.9", "p99.99"};
        for (int i = 0; i <= 4; i++) {
            int x = left + (int) Math.round(i / xMax * pw);
            g.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/><text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
                    x, top, x, top + ph, x, top + ph + 16, xLabels[i]));
        }
        for (double d = ly0; d <= ly1; d++) {
            int y = top + ph - (int) Math.round((d - ly0) / (ly1 - ly0) * ph);
            g.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/><text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
                    left, y, left + pw, y, left - 6, y + 4, nanosLabel(Math.pow(10, d))));
        }
        g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">percentile (log scale of 1/(1-p))</text>\n",
                left + pw / 2, height - 8));
        g.append(String.format(Locale.ROOT, "<text x=\"14\" y=\"%d\" font-size=\"12\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">latency (log)</text>\n",
                top + ph / 2, top + ph / 2));
        int legendY = top + 14;
        int peerIndex = 0;
        for (LatencySeries s : series) {
            String color = s.ours() ? OURS : (peerIndex++ == 0 ? PEER : "#6a9a3a");
            StringBuilder pts = new StringBuilder();
            for (double[] p : s.points()) {
                double pct = Math.min(p[0], 99.99);
                double x = Math.log10(1 / (1 - pct / 100.0));
                if (p[1] <= 0 || x > xMax) {
                    continue;
                }
                double y = (Math.log10(p[1]) - ly0) / (ly1 - ly0);
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", left + x / xMax * pw, top + ph - y * ph));
            }
            g.append(String.format(Locale.ROOT, "<polyline class=\"curve\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%s\"><title>%s (n=%d)</title></polyline>\n",
                    color, s.ours() ? "" : " stroke-dasharray=\"6 3\"", pts.toString().trim(), esc(s.label()), s.count()));
            g.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/><text x=\"%d\" y=\"%d\" font-size=\"12\">%s (n=%d)</text>\n",
                    left + 12, legendY, left + 40, legendY, color, s.ours() ? "" : " stroke-dasharray=\"6 3\"", left + 46, legendY + 4, esc(s.label()), s.count()));
            legendY += 16;
        }
        return g.append("</svg>\n").toString();
    }

    private static String comparisonTable(Scenario s, Map<String, Measurement> ms) {
        if (s.comparisons().isEmpty()) {
            return "";
        }
        StringBuilder t = new StringBuilder("<table class=\"comparisons\"><thead><tr><th>comparison</th><th>peer</th><th>Ringway (median)</th><th>peer (median)</th><th>ratio (&gt;1: Ringway better)</th><th>ratio is</th></tr></thead><tbody>\n");
        for (Comparison c : s.comparisons()) {
            Measurement o = ms.get(c.ours());
            Measurement p = ms.get(c.peer());
            t.append("<tr><td>").append(esc(c.title())).append("</td><td>").append(esc(c.peerName())).append("</td>");
            if (o == null || p == null) {
                t.append("<td colspan=\"4\">not measured in this run</td></tr>\n");
            } else {
                t.append(String.format(Locale.ROOT, "<td class=\"num\">%s %s</td><td class=\"num\">%s %s</td><td class=\"num\">%.2fx</td><td>%s</td></tr>\n",
                        fmt(o.median()), esc(o.unit()), fmt(p.median()), esc(p.unit()), BenchReport.speedup(o, p),
                        BenchReport.ratioBasis(o.unit())));
            }
        }
        return t.append("</tbody></table>\n").toString();
    }

    private static String measurementTable(Map<String, Measurement> ms) {
        StringBuilder t = new StringBuilder("<table class=\"measurements\"><thead><tr><th>benchmark</th><th>median</th><th>min..max</th><th>unit</th><th>repeats</th></tr></thead><tbody>\n");
        for (Measurement m : ms.values()) {
            t.append(String.format(Locale.ROOT, "<tr><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s..%s</td><td>%s</td><td class=\"num\">%d</td></tr>\n",
                    esc(m.name()), fmt(m.median()), fmt(m.min()), fmt(m.max()), esc(m.unit()), m.samples().length));
        }
        return t.append("</tbody></table>\n").toString();
    }

    private static String nanosLabel(double ns) {
        if (ns >= 1e9) {
            return fmt(ns / 1e9) + " s";
        }
        if (ns >= 1e6) {
            return fmt(ns / 1e6) + " ms";
        }
        if (ns >= 1e3) {
            return fmt(ns / 1e3) + " us";
        }
        return fmt(ns) + " ns";
    }

    private static String fmt(double v) {
        if (v >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (v >= 10) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        return String.format(Locale.ROOT, "%.2f", v);
    }

    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}

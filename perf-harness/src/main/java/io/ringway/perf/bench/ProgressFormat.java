package io.ringway.perf.bench;

import java.io.PrintStream;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.Locale;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.IterationType;
import org.openjdk.jmh.runner.format.OutputFormat;

/**
 * JMH output as one progress line (benchmark, repeat, iteration) instead of JMH's full log. JMH's
 * own text is kept in a small buffer and shown only when a run fails.
 */
final class ProgressFormat implements OutputFormat {
    private final PrintStream out;
    private final boolean tty = System.console() != null;
    private final Deque<String> tail = new ArrayDeque<>();
    private final StringBuilder partial = new StringBuilder();
    private final long started = System.nanoTime();
    private int benchmarks;
    private int fork;
    private String current = "";

    ProgressFormat(PrintStream out) {
        this.out = out;
    }

    /** The last lines JMH printed, for an error report. */
    String tail() {
        return String.join("\n", tail);
    }

    @Override
    public void startBenchmark(BenchmarkParams params) {
        benchmarks++;
        fork = 0;
        String full = params.getBenchmark();
        StringBuilder name = new StringBuilder(full.substring(full.lastIndexOf('.', full.lastIndexOf('.') - 1) + 1));
        for (String key : params.getParamsKeys()) {
            name.append(' ').append(key).append('=').append(params.getParam(key));
        }
        current = name.toString();
    }

    @Override
    public void iteration(BenchmarkParams params, IterationParams iteration, int index) {
        if (iteration.getType() == IterationType.WARMUP && index == 1) {
            fork++;
        }
        String phase = iteration.getType() == IterationType.WARMUP ? "warm-up" : "measure";
        String line = String.format(Locale.ROOT, "  [%4.0fs] #%d %-48s repeat %d/%d %s %d/%d", elapsedSeconds(), benchmarks,
                current, fork, params.getForks(), phase, index, iteration.getCount());
        if (tty) {
            out.print("\r" + line + "   ");
        } else if (index == 1 && iteration.getType() == IterationType.WARMUP) {
            out.println(line);
        }
        out.flush();
    }

    private double elapsedSeconds() {
        return (System.nanoTime() - started) / 1e9;
    }

    @Override
    public void iterationResult(BenchmarkParams params, IterationParams iteration, int index, IterationResult result) {
    }

    @Override
    public void endBenchmark(BenchmarkResult result) {
    }

    @Override
    public void startRun() {
    }

    @Override
    public void endRun(Collection<RunResult> result) {
        if (tty) {
            out.println();
        }
    }

    @Override
    public void print(String s) {
        keep(s);
    }

    @Override
    public void println(String s) {
        keep(s + "\n");
    }

    @Override
    public void verbosePrintln(String s) {
    }

    @Override
    public void write(int b) {
        keep(String.valueOf((char) b));
    }

    @Override
    public void write(byte[] b) {
        keep(new String(b));
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }

    private void keep(String s) {
        partial.append(s);
        int nl;
        while ((nl = partial.indexOf("\n")) >= 0) {
            tail.addLast(partial.substring(0, nl));
            partial.delete(0, nl + 1);
            if (tail.size() > 60) {
                tail.removeFirst();
            }
        }
    }
}

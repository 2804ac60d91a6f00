package io.ringway.perf.bench;

import java.util.Arrays;

/**
 * One benchmark's result over several repeats (JMH forks): each repeat is a separate JVM, so the
 * spread between repeats shows run-to-run noise, which on a shared 2-core machine is the noise that
 * matters. Reported as median and range, never as a single best run.
 *
 * @param name     benchmark id, e.g. {@code RingBenchmark.spscRingway}
 * @param unit     unit of the scores, e.g. {@code ns/op}
 * @param samples  one score per repeat
 */
public record Measurement(String name, String unit, double[] samples) {
    public Measurement {
        if (samples.length == 0) {
            throw new IllegalArgumentException("a measurement needs at least one sample: " + name);
        }
        samples = samples.clone();
        Arrays.sort(samples);
    }

    public double median() {
        int n = samples.length;
        return n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
    }

    public double min() {
        return samples[0];
    }

    public double max() {
        return samples[samples.length - 1];
    }

    @Override
    public double[] samples() {
        return samples.clone();
    }
}

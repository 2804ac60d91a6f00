package io.ringway.perf.bench;

import java.util.ArrayList;
import java.util.List;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

/**
 * A latency distribution ready to plot: (percentile, nanoseconds) points from an HdrHistogram,
 * as HdrHistogram's own percentile output gives them.
 *
 * @param label    legend text, e.g. "ringway lcore (epoll wake-up)"
 * @param ours     whether this is Ringway's series (drawn solid) or a peer's (dashed)
 * @param count    number of recorded values
 * @param points   {percentile, nanos} pairs, percentile ascending in [0, 100]
 */
public record LatencySeries(String label, boolean ours, long count, List<double[]> points) {
    /** Percentile points of {@code histogram} (values in ns), 5 ticks per half-distance. */
    public static LatencySeries of(String label, boolean ours, Histogram histogram) {
        List<double[]> points = new ArrayList<>();
        for (HistogramIterationValue v : histogram.percentiles(5)) {
            points.add(new double[] {v.getPercentileLevelIteratedTo(), v.getValueIteratedTo()});
        }
        return new LatencySeries(label, ours, histogram.getTotalCount(), List.copyOf(points));
    }
}

package io.ringway.perf.bench;

import java.util.List;

/** The scenarios {@code ringway bench} knows. More arrive with the net, blk and vm issues. */
public final class Scenarios {
    private Scenarios() {
    }

    /** Off-heap rings and the mempool against JCTools and Agrona, single thread, burst 32. */
    public static Scenario rings() {
        return new Scenario("rings",
                "off-heap rings and mempool vs JCTools/Agrona queues, per handle (lower ns is better)",
                List.of("io\\.ringway\\.perf\\.jmh\\.RingBenchmark\\.", "io\\.ringway\\.perf\\.jmh\\.MempoolBenchmark\\."),
                List.of(RING_COMPARISONS));
    }

    /** Every scenario, in the order {@code ringway bench all} runs them. */
    public static List<Scenario> all() {
        return List.of(rings());
    }

    private static final Comparison[] RING_COMPARISONS = {
    };
}

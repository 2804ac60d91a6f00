package io.ringway.perf.bench;

import java.util.List;
import java.util.Map;

/** The scenarios {@code ringway bench} knows. More arrive with the net, blk and vm issues. */
public final class Scenarios {
    private Scenarios() {
    }

    /** Off-heap rings and the mempool against JCTools and Agrona, burst 32, per handle. */
    public static Scenario rings() {
        return new Scenario("rings",
                "off-heap rings and mempool vs JCTools/Agrona, ns per handle (lower is better)",
                List.of("io\\.ringway\\.perf\\.jmh\\.RingBenchmark\\.", "io\\.ringway\\.perf\\.jmh\\.MempoolBenchmark\\."),
                Map.of(),
                List.of(RING_COMPARISONS));
    }

    /** Virtqueue pop+push round trips (device and mock driver in one thread) and guest-memory lookups. */
    public static Scenario virtio() {
        return new Scenario("virtio",
                "split/packed virtqueue round trip per 64-byte descriptor, GuestMemory lookup (8 regions), ns",
                List.of("io\\.ringway\\.perf\\.jmh\\.VirtqueueBenchmark\\.(single|burst32)$",
                        "io\\.ringway\\.perf\\.jmh\\.GuestMemoryBenchmark\\."),
                Map.of("regions", List.of("8")),
                List.of(
                        new Comparison("GuestMemory lookup, cached region", "GuestMemoryBenchmark.cachedRegion regions=8",
                                "GuestMemoryBenchmark.direct regions=8", "raw segment read, no translation"),
                        new Comparison("GuestMemory lookup, region miss", "GuestMemoryBenchmark.roundRobin regions=8",
                                "GuestMemoryBenchmark.direct regions=8", "raw segment read, no translation")));
    }

    /** Every scenario, in the order {@code ringway bench all} runs them. */
    public static List<Scenario> all() {
        return List.of(rings(), virtio());
    }

    private static final Comparison[] RING_COMPARISONS = {
    };
}

package io.ringway.perf.bench;

import java.util.List;
import java.util.Map;

/** The scenarios {@code ringway bench} knows. */
public final class Scenarios {
    private Scenarios() {
    }

    /** Off-heap rings and the mempool against JCTools and Agrona, burst 32, per handle. */
    public static JmhScenario rings() {
        return new JmhScenario("rings",
                "off-heap rings and mempool vs JCTools/Agrona, one thread, ns per handle (lower is better)",
                List.of("io\\.ringway\\.perf\\.jmh\\.RingBenchmark\\.(ringway|jctools|agronaSpsc)",
                        "io\\.ringway\\.perf\\.jmh\\.MempoolBenchmark\\.(mempool|arrayDeque)"),
                Map.of(),
                List.of(RING_COMPARISONS));
    }

    /** Virtqueue pop+push round trips (device and mock driver in one thread) and guest-memory lookups. */
    public static JmhScenario virtio() {
        return new JmhScenario("virtio",
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

    /** Producer and consumer on the two cores: cross-core cache traffic included; noisy here. */
    public static JmhScenario ringsTwoThreads() {
        return new JmhScenario("rings-2t",
                "rings with producer and consumer on separate threads, burst 32, ns per handle",
                List.of("io\\.ringway\\.perf\\.jmh\\.RingBenchmarkTwoThreads\\."),
                Map.of(),
                List.of(new Comparison("SPSC ring, 2 threads, burst 32", "RingBenchmarkTwoThreads.ringwaySpsc capacity=1024",
                                "RingBenchmarkTwoThreads.jctoolsSpsc capacity=1024", "JCTools SpscArrayQueue offer/poll"),
                        new Comparison("MPMC ring, 2 threads, burst 32", "RingBenchmarkTwoThreads.ringwayMpmc capacity=1024",
                                "RingBenchmarkTwoThreads.jctoolsMpmc capacity=1024", "JCTools MpmcArrayQueue offer/poll")));
    }

    /** Every scenario, in the order {@code ringway bench all} runs them. */
    public static List<Scenario> all() {
        return List.of(rings(), virtio(), new WakeupScenario(), new BlkScenario(), new NetScenario(), new VmScenario());
    }

    /** Scenarios run only when named (too slow or too noisy for the default run). */
    public static List<Scenario> optional() {
        return List.of(ringsTwoThreads());
    }

    private static final Comparison[] RING_COMPARISONS = {
        new Comparison("SPSC ring, burst 32, per handle", "RingBenchmark.ringwaySpscBurst capacity=1024",
                "RingBenchmark.jctoolsSpscOfferPoll capacity=1024", "JCTools SpscArrayQueue offer/poll"),
        new Comparison("SPSC ring, burst 32, per handle", "RingBenchmark.ringwaySpscBurst capacity=1024",
                "RingBenchmark.jctoolsSpscFillDrain capacity=1024", "JCTools SpscArrayQueue fill/drain"),
        new Comparison("SPSC ring, burst 32, per handle", "RingBenchmark.ringwaySpscBurst capacity=1024",
                "RingBenchmark.agronaSpscOfferPoll capacity=1024", "Agrona OneToOneConcurrentArrayQueue"),
        new Comparison("MPMC ring, burst 32, per handle", "RingBenchmark.ringwayMpmcBurst capacity=1024",
                "RingBenchmark.jctoolsMpmcOfferPoll capacity=1024", "JCTools MpmcArrayQueue offer/poll"),
        new Comparison("MPMC ring, burst 32, per handle", "RingBenchmark.ringwayMpmcBurst capacity=1024",
                "RingBenchmark.jctoolsMpmcFillDrain capacity=1024", "JCTools MpmcArrayQueue fill/drain"),
        new Comparison("Mempool alloc+free, burst 32, per buffer", "MempoolBenchmark.mempoolCachedBurst count=8192",
                "MempoolBenchmark.arrayDequeFreeList count=8192", "ArrayDeque free list of slices"),
    };
}

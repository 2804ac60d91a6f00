package io.ringway.perf.bench;

/**
 * Ringway's benchmark set beside a named peer's, measured in the same run. The ratio says how many
 * times better Ringway is, above 1 is better: {@code peer / ours} for times (ns/op, us of latency),
 * {@code ours / peer} for throughputs (IOPS, ops/s); see {@link BenchReport#speedup}.
 *
 * @param title what is compared, e.g. "SPSC ring, burst 32, per handle"
 * @param ours  Ringway's benchmark id
 * @param peer  the peer's benchmark id
 * @param peerName the peer as people know it, e.g. "JCTools SpscArrayQueue"
 */
public record Comparison(String title, String ours, String peer, String peerName) {
}

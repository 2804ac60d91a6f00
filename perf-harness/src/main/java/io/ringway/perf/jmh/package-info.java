/**
 * JMH micro-benchmarks of the polling runtime's data structures against named peers measured
 * in the same run: {@link io.ringway.perf.jmh.RingBenchmark} (rings vs JCTools and Agrona queues)
 * and {@link io.ringway.perf.jmh.MempoolBenchmark} (buffer pool vs object free lists). Results are
 * per handle or per buffer.
 */
package io.ringway.perf.jmh;

package io.ringway.runtime.poll;

/**
 * A unit of data-plane work that an {@link Lcore} calls in its loop, in the shape of an Agrona
 * agent: {@link #doWork()} does a bounded amount of work (one burst) and says how much it did, so
 * that the lcore's idle policy can tell a busy loop from an idle one.
 *
 * <p>{@code doWork()} runs on the lcore thread only. It must not block, and on the hot path it must
 * not allocate, lock or log.
 */
@FunctionalInterface
public interface Poller {
    /** Does up to one burst of work and returns the amount done (0 when idle). */
    int doWork();

    /** A short name for logs and counters. */
    default String name() {
        return getClass().getSimpleName();
    }
}

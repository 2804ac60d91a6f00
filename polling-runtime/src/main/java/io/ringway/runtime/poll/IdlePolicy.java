package io.ringway.runtime.poll;

import java.util.concurrent.TimeUnit;

/**
 * What an {@link Lcore} does when a loop iteration found no work.
 *
 * <ul>
 *   <li>{@link BusySpin}: spin with {@code Thread.onSpinWait()} — lowest latency, one core at 100%.
 *   <li>{@link Backoff}: spin, then yield, then park with growing pauses (Agrona's backoff).
 *   <li>{@link AdaptiveInterrupt}: poll while busy; after {@code idleNanos} without work arm the
 *       pollers' eventfds and sleep in epoll until one fires (or a control command arrives, or
 *       {@code maxSleepMillis} passes). This is the interrupt mode DESIGN.md describes.
 * </ul>
 */
public sealed interface IdlePolicy {
    /** Spin on the CPU forever. */
    record BusySpin() implements IdlePolicy {
    }

    /** Agrona-style backoff: spins, then yields, then parks between min and max nanoseconds. */
    record Backoff(long maxSpins, long maxYields, long minParkNanos, long maxParkNanos) implements IdlePolicy {
        public Backoff {
            if (maxSpins < 0 || maxYields < 0 || minParkNanos < 1 || maxParkNanos < minParkNanos) {
                throw new IllegalArgumentException("backoff needs spins >= 0, yields >= 0, 1 <= minPark <= maxPark; got "
                        + maxSpins + ", " + maxYields + ", " + minParkNanos + ", " + maxParkNanos);
            }
        }
    }

    /** Poll while busy; sleep in epoll on the pollers' eventfds after {@code idleNanos} of idleness. */
    record AdaptiveInterrupt(long idleNanos, int maxSleepMillis) implements IdlePolicy {
        public AdaptiveInterrupt {
            if (idleNanos < 0 || maxSleepMillis < 1) {
                throw new IllegalArgumentException("adaptive interrupt needs idleNanos >= 0 and maxSleepMillis >= 1; got "
                        + idleNanos + ", " + maxSleepMillis);
            }
        }
    }

    static IdlePolicy busySpin() {
        return new BusySpin();
    }

    static IdlePolicy backoff() {
        return new Backoff(100, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1));
    }

    /** Adaptive interrupt mode: sleep after 50 µs without work, wake at least every 100 ms. */
    static IdlePolicy adaptive() {
        return new AdaptiveInterrupt(TimeUnit.MICROSECONDS.toNanos(50), 100);
    }

    /** Parses "busy", "backoff" or "adaptive" (command-line spelling). */
    static IdlePolicy parse(String name) {
        return switch (name) {
            case "busy", "busy-spin", "poll" -> busySpin();
            case "backoff" -> backoff();
            case "adaptive", "interrupt" -> adaptive();
            default -> throw new IllegalArgumentException("unknown idle policy '" + name + "': use busy, backoff or adaptive");
        };
    }
}

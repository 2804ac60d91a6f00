package io.ringway.runtime.poll;

/**
 * A poller that can wake a sleeping lcore through an eventfd: a virtqueue's kick fd, a socket, a
 * timer. Used by {@link IdlePolicy.AdaptiveInterrupt}: when the lcore has been idle long enough it
 * arms every source, sleeps in epoll on their fds and disarms them when it wakes.
 */
public interface InterruptSource extends Poller {
    /** The eventfd (or any pollable fd) whose readability means "work may be pending"; -1 for none. */
    int wakeupFd();

    /**
     * Asks the peer to notify again (e.g. enable virtqueue notifications) before the lcore sleeps.
     * Returns {@code false} when work is already pending after arming — the re-check that closes
     * the race between "no work" and "notifications enabled" — and the lcore then does not sleep.
     */
    default boolean arm() {
        return true;
    }

    /** Stops notifications again once the lcore is back to polling. */
    default void disarm() {
    }
}

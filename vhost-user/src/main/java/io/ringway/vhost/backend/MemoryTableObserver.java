package io.ringway.vhost.backend;

import io.ringway.vhost.virtio.GuestMemory;

/**
 * Watches memory table swaps, for tests and tracing: the back-end promises that
 * {@link #lcoreAcknowledged} (called on the lcore thread) happens before {@link #oldRegionsUnmapped}
 * (called on the connection thread) for the same swap.
 */
public interface MemoryTableObserver {
    /** No observation. */
    MemoryTableObserver NONE = new MemoryTableObserver() {
    };

    /**
     * The lcore switched its queues to {@code memory}. Called on the lcore thread.
     *
     * @param memory the new table
     */
    default void lcoreAcknowledged(GuestMemory memory) {
    }

    /**
     * Regions that are no longer in the table were unmapped.
     *
     * @param count number of regions unmapped
     */
    default void oldRegionsUnmapped(int count) {
    }
}

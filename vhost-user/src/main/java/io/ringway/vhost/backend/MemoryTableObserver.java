package io.ringway.vhost.backend;

import io.ringway.vhost.virtio.GuestMemory;

/**
 * Watches memory table swaps, for tests and tracing: the back-end promises that
 * {@link #lcoreAcknowledged} (called on each lcore thread the device's vrings are placed on, once
 * per lcore and swap) happens before {@link #oldRegionsUnmapped} (called on the connection thread)
 * for the same swap: old regions are unmapped only after every lcore acknowledged.
 */
public interface MemoryTableObserver {
    /** No observation. */
    MemoryTableObserver NONE = new MemoryTableObserver() {
    };

    /**
     * One lcore switched its queues to {@code memory}. Called on that lcore's thread.
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

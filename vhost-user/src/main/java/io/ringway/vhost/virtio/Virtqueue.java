package io.ringway.vhost.virtio;

/**
 * The device side of one virtqueue, split or packed: what a device (net, blk) needs on its
 * data-plane thread. One thread owns a queue; none of these methods is thread-safe.
 *
 * <p>A guest that breaks a rule puts the queue in the broken state (virtio 1.2, 2.1.2,
 * DEVICE_NEEDS_RESET): {@link #pop} returns false from then on and {@link #brokenReason()} says
 * why. Nothing on the hot path throws or allocates, except once, when the violation is recorded.
 */
public interface Virtqueue {

    /**
     * Validates the configuration and starts the queue. Every ring address is checked once here:
     * size, alignment, and that each ring part lies inside one memory region.
     *
     * @param memory guest memory the rings and buffers live in
     * @param config size, ring addresses and negotiated features
     * @throws VirtqueueException if a rule is broken; the queue is then broken with the same error
     */
    void activate(GuestMemory memory, QueueConfig config);

    /** Stops the queue and forgets its memory and indexes (a device or queue reset). */
    void reset();

    /** @return true between a successful {@link #activate} and {@link #reset}, unless broken */
    boolean isReady();

    /** @return the queue size, or 0 if not activated */
    int size();

    /** @return true if a violation stopped the queue */
    boolean isBroken();

    /** @return why the queue stopped, or null if it is not broken */
    VirtqueueError brokenReason();

    /**
     * Takes the next available buffer, validated, into {@code chain}.
     *
     * @param chain reusable chain, capacity at least {@link #size()}
     * @return true if a buffer was taken; false if none is available, or the queue is not ready or broken
     */
    boolean pop(DescriptorChain chain);

    /**
     * Queues a used element (not visible to the driver before {@link #publishUsed()}).
     *
     * @param head the chain's {@link DescriptorChain#head()}
     * @param ringSlots the chain's {@link DescriptorChain#ringSlots()} (ignored by split queues)
     * @param len bytes written into the device-writable part
     */
    void pushUsed(int head, int ringSlots, int len);

    /**
     * Queues a used element for a chain popped from this queue.
     *
     * @param chain the chain
     * @param len bytes written into the device-writable part
     */
    default void pushUsed(DescriptorChain chain, int len) {
        pushUsed(chain.head(), chain.ringSlots(), len);
    }

    /**
     * Makes every queued used element visible to the driver at once (release store).
     *
     * @return the number of elements published
     */
    int publishUsed();

    /**
     * Decides whether the driver wants a used buffer notification for what was published since the
     * last call (EVENT_IDX, or the driver's flags). Call after {@link #publishUsed()}; a true answer
     * means: signal the call eventfd / interrupt.
     *
     * @return true if the driver must be notified
     */
    boolean needsNotification();

    /**
     * Asks the driver for available buffer notifications (kicks) again, then re-checks the ring:
     * a buffer made available while notifications were off would otherwise be missed.
     *
     * @return true if buffers are available now: keep polling instead of sleeping
     */
    boolean enableNotifications();

    /** Tells the driver that kicks are not needed (the thread is polling). */
    void disableNotifications();

    /**
     * A number that changes each time the transport (re)starts the ring. A request popped under an
     * earlier value belongs to an earlier run of the ring: with in-flight tracking the restarted
     * ring resubmits it, so the device must not complete the old copy on the new run (it would
     * complete the request twice) and must not touch its buffers once the new run uses them.
     *
     * @return the ring's run number; the default, 0, for a queue that is never restarted under a device
     */
    default int activationCount() {
        return 0;
    }

    /**
     * Whether the current run of the ring hands out again, through {@link #pop}, every request an
     * earlier run took and did not complete (in-flight tracking). If so, a device drops the
     * earlier run's copies when the run changes ({@link #activationCount()}); if not, it completes
     * them on the new run, as the front-end still waits for them there.
     *
     * @return true if requests of earlier runs are resubmitted
     */
    default boolean resubmitsEarlierRuns() {
        return false;
    }

    /**
     * Reads ahead, without taking anything: the next available entries (at most {@code max}), their
     * first descriptors and, if {@code touchOffset >= 0}, one byte at that offset into each first
     * buffer, so that the cache lines the driver wrote last arrive together rather than one after
     * another as {@link #pop} walks the chains. Nothing the driver sees changes; an entry that does
     * not check out is simply not read ahead ({@link #pop} reports it).
     *
     * @return entries read ahead (0 by default: a queue that does not read ahead)
     */
    default int prefetch(int max, long touchOffset) {
        return 0;
    }

    /**
     * Reads the next available entries (at most {@code max} and {@code out}'s capacity) without
     * taking them, as long as each is a chain of one descriptor with no flags but WRITE, the WRITE
     * flag as asked, and a buffer wholly inside guest memory; it stops at the first entry that is
     * anything else, which {@link #pop} then handles (and reports, if it breaks a rule). Each guest
     * field is read once; {@code out} holds the checked copies. A device that uses the first
     * {@code k} of them calls {@link #takeSimple} and then {@link #pushUsed(int, int, int)} with one
     * ring slot per chain, exactly as if it had popped them.
     *
     * @param out where the chains go ({@link SimpleChains#count()} is set to the result)
     * @param max the most chains wanted
     * @param writable true for device-writable buffers (a receive queue), false for readable ones
     * @return chains read (0 by default: a queue without this fast path, for which {@link #pop} is the way)
     */
    default int peekSimple(SimpleChains out, int max, boolean writable) {
        out.clear();
        return 0;
    }

    /**
     * Returns the first {@code k} chains of the last {@link #peekSimple} (taken with
     * {@link #takeSimple}) as used, with length 0 (transmit buffers: nothing written), in ring
     * order. By default one used entry each; a packed ring with VIRTIO_F_IN_ORDER writes one used
     * descriptor for the whole batch, with the last buffer's id (virtio 1.2, 2.8.9).
     *
     * @param chains the chains of the last peek, just taken by one {@link #takeSimple}{@code (k)}
     *     (any other call sends the driver wrong ids)
     * @param k how many, from the first
     */
    default void pushUsedEmpty(SimpleChains chains, int k) {
        for (int i = 0; i < k; i++) {
            pushUsed(chains.head[i], 1, 0);
        }
    }

    /**
     * Takes the next {@code k} chains of the last {@link #peekSimple} off the available ring, as
     * {@code k} pops would (several takes may share one peek, in order). A {@link #pop} in between
     * ends what the peek allows.
     *
     * @param k chains taken, at most what the last peek returned less what was taken since
     * @throws IllegalArgumentException if more than the last peek left
     */
    default void takeSimple(int k) {
        if (k != 0) {
            throw new IllegalArgumentException("this queue peeks no chains, cannot take " + k);
        }
    }

    /** @return the device's next available index (vhost-user GET_VRING_BASE) */
    int lastAvailIdx();

    /** @return the device's used index, including unpublished elements */
    int usedIdx();

    /**
     * Sets where the device resumes (vhost-user SET_VRING_BASE), before activation.
     *
     * @param lastAvailIdx next available index; for packed, bit 15 is the avail wrap counter
     */
    void setLastAvailIdx(int lastAvailIdx);

    /**
     * Sets the device's used index, before activation (for a split queue, the used idx in the
     * ring; for packed, bit 15 is the used wrap counter). Without it, {@link #setLastAvailIdx}
     * also sets the used index, as if every popped buffer had been used.
     *
     * @param usedIdx used index
     */
    void setUsedIdx(int usedIdx);
}

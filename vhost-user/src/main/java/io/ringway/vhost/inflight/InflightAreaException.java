package io.ringway.vhost.inflight;

/**
 * An in-flight area whose contents break a rule of vhost-user.rst, "Inflight I/O tracking". The
 * front-end controls both the size and the bytes of the area, so every field is checked before use.
 */
public final class InflightAreaException extends RuntimeException {
    /** Which rule the area broke. */
    public enum Rule {
        /** The area is smaller than the queue regions it must hold. */
        AREA_TOO_SMALL,
        /** A queue region does not start on an 8-byte boundary (mmap_offset not a multiple of 8). */
        AREA_MISALIGNED,
        /** version is neither 0 (fresh) nor 1. */
        UNKNOWN_VERSION,
        /** desc_num differs from the size of the ring the region tracks. */
        DESC_NUM_MISMATCH,
        /** last_batch_head is not a descriptor index of the queue. */
        LAST_BATCH_HEAD_OUT_OF_RANGE,
        /** used idx of the ring minus used_idx of the region is larger than the queue. */
        BATCH_TOO_LARGE,
        /** A next link of the last batch is not a descriptor index of the queue. */
        BATCH_NEXT_OUT_OF_RANGE,
        /** An inflight byte is neither 0 nor 1. */
        INFLIGHT_FLAG_INVALID,
        /** Packed: a free-list link or a position is not an entry of the queue, or the free list loops. */
        FREE_LIST_INVALID,
        /** Packed: a wrap counter is neither 0 nor 1. */
        WRAP_COUNTER_INVALID,
        /** Packed: an in-flight head entry's num, chain links or last entry are not ones a device wrote. */
        CHAIN_INVALID,
    }

    private final Rule rule;

    public InflightAreaException(Rule rule, String message) {
        super(rule + ": " + message);
        this.rule = rule;
    }

    /** @return the rule the area broke */
    public Rule rule() {
        return rule;
    }
}

package io.ringway.vhost.backend;

/**
 * The rules a vhost-user back-end session enforces on top of the message codec: the ones that need
 * connection state (negotiated features, the memory table, the vring setup) or the operating
 * system (the size of a received fd). Each constant names one rule; a {@link SessionException}
 * carries the constant and the values that broke it.
 *
 * <p>{@link #fatal()} says what happens to the connection: a fatal violation closes it (the device
 * is reset and the back-end waits for the next front-end); a non-fatal one is answered with a
 * non-zero REPLY_ACK status (when the front-end asked for one) and the session goes on.
 */
public enum SessionRule {
    /** The message codec rejected the message (header, size, fd count, payload rules). */
    MALFORMED_MESSAGE(true, "malformed message"),
    /** The front-end closed the socket after part of a message. */
    CLOSED_MID_MESSAGE(true, "front-end closed the connection in the middle of a message"),
    /** A request whose protocol feature was not negotiated (vhost-user.rst, "Protocol features"). */
    PROTOCOL_FEATURE_NOT_NEGOTIATED(false, "request needs a protocol feature that was not negotiated"),
    /** The same, for a request that always gets a reply: there is no reply that says "failed". */
    PROTOCOL_FEATURE_NOT_NEGOTIATED_FOR_REPLY(true, "request that needs a reply requires a protocol feature that was not negotiated"),
    /** A request this back-end does not implement. */
    UNSUPPORTED_REQUEST(false, "request not supported by this back-end"),
    /** SET_FEATURES with bits the back-end did not offer in GET_FEATURES. */
    FEATURES_NOT_OFFERED(true, "SET_FEATURES acknowledges feature bits the back-end did not offer"),
    /** SET_PROTOCOL_FEATURES with bits the back-end did not offer. */
    PROTOCOL_FEATURES_NOT_OFFERED(true, "SET_PROTOCOL_FEATURES acknowledges bits the back-end did not offer"),
    /** A memory region's mmap_offset + memory_size lies past the end of its fd (would SIGBUS). */
    MEMORY_REGION_PAST_FD_END(true, "memory region reaches past the end of its fd"),
    /** A memory region's fd cannot be sized or mapped (not a memfd/file, bad offset alignment, ...). */
    MEMORY_REGION_NOT_MAPPABLE(true, "memory region fd cannot be mapped"),
    /** Memory regions overlap in guest-physical or user address space (ADD_MEM_REG against the table). */
    MEMORY_REGIONS_OVERLAP(true, "memory regions overlap"),
    /** ADD_MEM_REG beyond GET_MAX_MEM_SLOTS. */
    TOO_MANY_MEMORY_SLOTS(true, "more memory regions than the back-end's memory slots"),
    /** REM_MEM_REG for a region that is not in the table. */
    MEMORY_REGION_NOT_FOUND(false, "REM_MEM_REG names a region that is not in the memory table"),
    /** SET_VRING_NUM 0 (virtio 1.2, 2.6). */
    QUEUE_SIZE_ZERO(true, "queue size must not be 0"),
    /** SET_VRING_NUM not a power of 2 on a split ring (virtio 1.2, 2.7). */
    QUEUE_SIZE_NOT_POWER_OF_TWO(true, "split queue size must be a power of 2"),
    /** SET_VRING_NUM above the device's maximum queue size. */
    QUEUE_SIZE_TOO_LARGE(true, "queue size is larger than the device's maximum"),
    /** SET_VRING_BASE beyond the ring: above 0xffff, or a packed position not below the queue size. */
    VRING_BASE_OUT_OF_RANGE(true, "vring base is out of range"),
    /** A ring part (SET_VRING_ADDR) is not inside one memory region. */
    RING_OUTSIDE_MEMORY(true, "ring address is outside guest memory"),
    /** A ring part (SET_VRING_ADDR) is not aligned as virtio 1.2, 2.7.2 / 2.8.11 require. */
    RING_MISALIGNED(true, "ring address is misaligned"),
    /** SET_VRING_NUM, SET_VRING_ADDR or SET_VRING_BASE while the ring is started. */
    RING_CHANGED_WHILE_STARTED(true, "ring layout changed while the ring is started"),
    /** The vring index is beyond the device's queues. */
    VRING_INDEX_OUT_OF_RANGE(true, "vring index beyond the device's queues"),
    /** GET/SET_INFLIGHT_FD with a queue count or size the device cannot have, or a too small area. */
    INFLIGHT_AREA_INVALID(true, "inflight area description is invalid"),
    /**
     * A queue region of the inflight area does not hold what a device wrote (version, desc_num,
     * batch links, flags): resubmitting from it could execute requests the guest never made, so
     * the session ends.
     */
    INFLIGHT_AREA_CORRUPT(true, "inflight area contents are invalid"),
    /** SET_CONFIG rejected by the device, or a config range it does not have. */
    CONFIG_ACCESS_INVALID(false, "config space access rejected"),
    /** The data-plane thread did not take a change (stopped, or no answer within the timeout). */
    LCORE_UNAVAILABLE(true, "the lcore did not acknowledge the change");

    private final boolean fatal;
    private final String text;

    SessionRule(boolean fatal, String text) {
        this.fatal = fatal;
        this.text = text;
    }

    /** Whether a violation closes the connection. */
    public boolean fatal() {
        return fatal;
    }

    /** The rule in words. */
    public String text() {
        return text;
    }
}

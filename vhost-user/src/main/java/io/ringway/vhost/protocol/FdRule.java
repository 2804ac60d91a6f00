package io.ringway.vhost.protocol;

/**
 * How many file descriptors travel with a message in SCM_RIGHTS ancillary data (vhost-user.rst,
 * "Communication": "There are several messages that the front-end sends with file descriptors").
 */
public enum FdRule {
    /** No fds. */
    NONE,
    /** Exactly one fd. */
    EXACTLY_ONE,
    /**
     * Zero or one fd, and an fd that comes must be closed unused. REM_MEM_REG: "No file
     * descriptors SHOULD be passed ... the back-end MAY accept messages with one file descriptor.
     * If a file descriptor is passed, the back-end MUST close it without using it otherwise."
     */
    AT_MOST_ONE_DISCARDED,
    /** One fd per memory region, in region order (SET_MEM_TABLE). */
    ONE_PER_REGION,
    /**
     * One fd, unless the invalid-fd flag (bit 8) of the vring u64 is set, then none
     * (SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR).
     */
    ONE_UNLESS_NOFD
}

package io.ringway.vhost.protocol;

/**
 * A validated message header: known request, version 1, no reserved flags, payload size within
 * {@link VhostUserMessageDescriptor#MAX_PAYLOAD_SIZE} (and equal to the fixed size of the payload
 * the request needs, where that size is fixed).
 *
 * @param request the request
 * @param flags   the header flags
 * @param size    the payload size the transport must read next
 */
public record VhostUserHeader(VhostUserRequest request, int flags, int size) {

    /** Whether the REPLY flag is set. */
    public boolean isReply() {
        return (flags & VhostUserMessageDescriptor.FLAG_REPLY) != 0;
    }

    /** Whether the NEED_REPLY flag is set. */
    public boolean needsReply() {
        return (flags & VhostUserMessageDescriptor.FLAG_NEED_REPLY) != 0;
    }
}

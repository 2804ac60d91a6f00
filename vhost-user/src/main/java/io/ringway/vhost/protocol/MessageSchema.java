package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.U64_LENGTH;

/**
 * The payload kind and fd rule one message must follow: the request schema, the explicit reply
 * schema, or the REPLY_ACK schema.
 */
record MessageSchema(VhostUserRequest request, boolean reply, PayloadKind kind, FdRule fds) {

    static MessageSchema of(VhostUserRequest request, boolean reply, int payloadSize) {
        if (!reply) {
            return new MessageSchema(request, false, request.requestPayload(), request.requestFds());
        }
        if (!request.alwaysReplies()) {
            return ack(request);
        }
        // vhost-user.rst, GET_CONFIG: "vhost-user back-end uses zero length of payload to indicate
        // an error to the vhost-user front-end".
        if (request == VhostUserRequest.GET_CONFIG && payloadSize == 0) {
            return new MessageSchema(request, true, PayloadKind.NONE, FdRule.NONE);
        }
        // SET_LOG_BASE and POSTCOPY_ADVISE replies have no body; a back-end that answers them in
        // REPLY_ACK form (u64 status) is accepted too.
        if (request.replyPayload() == PayloadKind.NONE && payloadSize == U64_LENGTH) {
            return ack(request);
        }
        return new MessageSchema(request, true, request.replyPayload(), request.replyFds());
    }

    /** vhost-user.rst, "REPLY_ACK": the back-end MUST respond with a u64 "zero on success or non-zero on failure". */
    private static MessageSchema ack(VhostUserRequest request) {
        return new MessageSchema(request, true, PayloadKind.U64, FdRule.NONE);
    }
}

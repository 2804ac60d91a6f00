package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.FdRule.AT_MOST_ONE_DISCARDED;
import static io.ringway.vhost.protocol.FdRule.EXACTLY_ONE;
import static io.ringway.vhost.protocol.FdRule.NONE;
import static io.ringway.vhost.protocol.FdRule.ONE_PER_REGION;
import static io.ringway.vhost.protocol.FdRule.ONE_UNLESS_NOFD;

import java.util.Optional;

/**
 * Front-end requests (vhost-user.rst, "Front-end message types"), each with the shape of its
 * request and of its reply.
 *
 * <p>A request either always gets a reply ({@link #alwaysReplies()}, vhost-user.rst
 * "Communication" and each message's "reply payload") or gets one only when it carries NEED_REPLY
 * under REPLY_ACK; such an acknowledgement is a u64, "zero on success or non-zero on failure".
 * {@link #replyPayload()} is the payload of whichever reply is sent.
 *
 * <p>Ringway's reading of a few entries, where the document and the peers differ:
 * <ul>
 *   <li>SET_LOG_BASE: the document says "request payload: u64", but QEMU 7.2 and DPDK 22.11 send
 *       the 16-byte log description with the log fd, and QEMU waits for a reply; Ringway only
 *       supports the LOG_SHMFD form. The reply has no payload (DPDK sends none, QEMU reads none).</li>
 *   <li>ADD_MEM_REG and REM_MEM_REG: the document's "request payload: N/A" contradicts its prose
 *       ("The message payload contains a memory region descriptor struct"); the payload is the
 *       single memory region description.</li>
 *   <li>GET_INFLIGHT_FD: the reply is the inflight description with the shared buffer's fd.</li>
 *   <li>POSTCOPY_ADVISE: the reply has no payload and carries the userfaultfd.</li>
 *   <li>SET_MEM_TABLE and ADD_MEM_REG replies in postcopy mode (the back-end's mapped bases) are
 *       not supported: Ringway does not offer PAGEFAULT.</li>
 * </ul>
 */
public enum VhostUserRequest {
    /** Get the virtio feature bits. */
    GET_FEATURES(1, PayloadKind.NONE, NONE, Reply.always(PayloadKind.U64), null),
    /** Set the negotiated virtio feature bits. */
    SET_FEATURES(2, PayloadKind.U64, NONE, Reply.ACK, null),
    /** Start of a session: the sender is the owner. */
    SET_OWNER(3, PayloadKind.NONE, NONE, Reply.ACK, null),
    /** Deprecated; back-ends ignore it or disable all rings. */
    RESET_OWNER(4, PayloadKind.NONE, NONE, Reply.ACK, null),
    /** Set the guest memory regions, one fd per region. */
    SET_MEM_TABLE(5, PayloadKind.MEMORY_TABLE, ONE_PER_REGION, Reply.ACK, null),
    /** Set the dirty log shared memory (log description and its fd). */
    SET_LOG_BASE(6, PayloadKind.LOG, EXACTLY_ONE, Reply.always(PayloadKind.NONE),
            VhostUserProtocolFeature.LOG_SHMFD),
    /** Set the eventfd that signals log changes. */
    SET_LOG_FD(7, PayloadKind.NONE, EXACTLY_ONE, Reply.ACK, null),
    /** Set the size of a queue. */
    SET_VRING_NUM(8, PayloadKind.VRING_STATE, NONE, Reply.ACK, null),
    /** Set the ring addresses of a queue. */
    SET_VRING_ADDR(9, PayloadKind.VRING_ADDRESS, NONE, Reply.ACK, null),
    /** Set the next available index of a queue. */
    SET_VRING_BASE(10, PayloadKind.VRING_STATE, NONE, Reply.ACK, null),
    /** Stop a queue and get its next available index. */
    GET_VRING_BASE(11, PayloadKind.VRING_STATE, NONE, Reply.always(PayloadKind.VRING_STATE), null),
    /** Set the kick eventfd of a queue (or poll, with the invalid-fd flag). */
    SET_VRING_KICK(12, PayloadKind.VRING_FILE, ONE_UNLESS_NOFD, Reply.ACK, null),
    /** Set the call eventfd of a queue (or none, with the invalid-fd flag). */
    SET_VRING_CALL(13, PayloadKind.VRING_FILE, ONE_UNLESS_NOFD, Reply.ACK, null),
    /** Set the error eventfd of a queue (or none, with the invalid-fd flag). */
    SET_VRING_ERR(14, PayloadKind.VRING_FILE, ONE_UNLESS_NOFD, Reply.ACK, null),
    /** Get the protocol feature bits (needs virtio bit 30, not a protocol feature). */
    GET_PROTOCOL_FEATURES(15, PayloadKind.NONE, NONE, Reply.always(PayloadKind.U64), null),
    /** Set the negotiated protocol feature bits. */
    SET_PROTOCOL_FEATURES(16, PayloadKind.U64, NONE, Reply.ACK, null),
    /** Get the number of queues the back-end supports. */
    GET_QUEUE_NUM(17, PayloadKind.NONE, NONE, Reply.always(PayloadKind.U64), VhostUserProtocolFeature.MQ),
    /** Enable (num 1) or disable (num 0) a queue. */
    SET_VRING_ENABLE(18, PayloadKind.VRING_STATE, NONE, Reply.ACK, null),
    /** Broadcast a fake RARP for the MAC address in the first 6 payload bytes. */
    SEND_RARP(19, PayloadKind.U64, NONE, Reply.ACK, VhostUserProtocolFeature.RARP),
    /** Set the host MTU exposed to the guest. */
    NET_SET_MTU(20, PayloadKind.U64, NONE, Reply.ACK, VhostUserProtocolFeature.MTU),
    /** Set the socket for back-end initiated requests (SET_SLAVE_REQ_FD in QEMU 7.2). */
    SET_BACKEND_REQ_FD(21, PayloadKind.NONE, EXACTLY_ONE, Reply.ACK, VhostUserProtocolFeature.BACKEND_REQ),
    /** Update or invalidate a device IOTLB entry; the back-end answers 0 on success. */
    IOTLB_MSG(22, PayloadKind.IOTLB, NONE, Reply.always(PayloadKind.U64), null),
    /** Set the endianness of a legacy queue: num 0 little, 1 big. */
    SET_VRING_ENDIAN(23, PayloadKind.VRING_STATE, NONE, Reply.ACK, VhostUserProtocolFeature.CROSS_ENDIAN),
    /** Read the device config space. */
    GET_CONFIG(24, PayloadKind.CONFIG, NONE, Reply.always(PayloadKind.CONFIG), VhostUserProtocolFeature.CONFIG),
    /** Write the device config space. */
    SET_CONFIG(25, PayloadKind.CONFIG, NONE, Reply.ACK, VhostUserProtocolFeature.CONFIG),
    /** Create a crypto session (payload not interpreted by Ringway). */
    CREATE_CRYPTO_SESSION(26, PayloadKind.OPAQUE, NONE, Reply.always(PayloadKind.OPAQUE),
            VhostUserProtocolFeature.CRYPTO_SESSION),
    /** Close a crypto session. */
    CLOSE_CRYPTO_SESSION(27, PayloadKind.U64, NONE, Reply.ACK, VhostUserProtocolFeature.CRYPTO_SESSION),
    /** Postcopy migration is under way; the reply carries a userfaultfd. */
    POSTCOPY_ADVISE(28, PayloadKind.NONE, NONE, Reply.always(PayloadKind.NONE, EXACTLY_ONE),
            VhostUserProtocolFeature.PAGEFAULT),
    /** Switch to postcopy mode. */
    POSTCOPY_LISTEN(29, PayloadKind.NONE, NONE, Reply.ACK, VhostUserProtocolFeature.PAGEFAULT),
    /** Postcopy has ended; the reply is an error indication, 0 is success. */
    POSTCOPY_END(30, PayloadKind.NONE, NONE, Reply.always(PayloadKind.U64), VhostUserProtocolFeature.PAGEFAULT),
    /** Get the in-flight tracking buffer from the back-end (reply carries its fd). */
    GET_INFLIGHT_FD(31, PayloadKind.INFLIGHT, NONE, Reply.always(PayloadKind.INFLIGHT, EXACTLY_ONE),
            VhostUserProtocolFeature.INFLIGHT_SHMFD),
    /** Give the in-flight tracking buffer back to the back-end. */
    SET_INFLIGHT_FD(32, PayloadKind.INFLIGHT, EXACTLY_ONE, Reply.ACK, VhostUserProtocolFeature.INFLIGHT_SHMFD),
    /** Set the vhost-user-gpu protocol socket. */
    GPU_SET_SOCKET(33, PayloadKind.NONE, EXACTLY_ONE, Reply.ACK, null),
    /** Disable all rings and reset device state; ownership stays. */
    RESET_DEVICE(34, PayloadKind.NONE, NONE, Reply.ACK, VhostUserProtocolFeature.RESET_DEVICE),
    /** In-band kick of a queue; num is reserved and must be 0. */
    VRING_KICK(35, PayloadKind.VRING_STATE, NONE, Reply.ACK, VhostUserProtocolFeature.INBAND_NOTIFICATIONS),
    /** Get the number of memory slots the back-end supports. */
    GET_MAX_MEM_SLOTS(36, PayloadKind.NONE, NONE, Reply.always(PayloadKind.U64),
            VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS),
    /** Add one memory region, with its fd. */
    ADD_MEM_REG(37, PayloadKind.SINGLE_MEMORY_REGION, EXACTLY_ONE, Reply.ACK,
            VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS),
    /** Remove one memory region (identified by guest address, user address and size). */
    REM_MEM_REG(38, PayloadKind.SINGLE_MEMORY_REGION, AT_MOST_ONE_DISCARDED, Reply.ACK,
            VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS),
    /** Set the virtio device status byte. */
    SET_STATUS(39, PayloadKind.U64, NONE, Reply.ACK, VhostUserProtocolFeature.STATUS),
    /** Get the virtio device status byte. */
    GET_STATUS(40, PayloadKind.NONE, NONE, Reply.always(PayloadKind.U64), VhostUserProtocolFeature.STATUS);

    private static final VhostUserRequest[] BY_CODE = new VhostUserRequest[41];

    static {
        for (VhostUserRequest request : values()) {
            BY_CODE[request.code] = request;
        }
    }

    private final int code;
    private final PayloadKind requestPayload;
    private final FdRule requestFds;
    private final Reply reply;
    private final VhostUserProtocolFeature requiredFeature;

    VhostUserRequest(int code, PayloadKind requestPayload, FdRule requestFds, Reply reply,
                     VhostUserProtocolFeature requiredFeature) {
        this.code = code;
        this.requestPayload = requestPayload;
        this.requestFds = requestFds;
        this.reply = reply;
        this.requiredFeature = requiredFeature;
    }

    /** The request code on the wire. */
    public int code() {
        return code;
    }

    /** The payload the front-end sends. */
    public PayloadKind requestPayload() {
        return requestPayload;
    }

    /** The fds the front-end sends with the request. */
    public FdRule requestFds() {
        return requestFds;
    }

    /** Whether the back-end replies even without NEED_REPLY. */
    public boolean alwaysReplies() {
        return reply.always;
    }

    /** The payload of the reply: the explicit reply body, or the u64 REPLY_ACK status. */
    public PayloadKind replyPayload() {
        return reply.payload;
    }

    /** The fds the back-end sends with the reply. */
    public FdRule replyFds() {
        return reply.fds;
    }

    /**
     * The protocol feature that must have been negotiated before the front-end may send this
     * request, if any. The codec does not check it (it has no connection state); the back-end
     * state machine does.
     */
    public Optional<VhostUserProtocolFeature> requiredFeature() {
        return Optional.ofNullable(requiredFeature);
    }

    /** The request with this code, or empty for a code vhost-user.rst (QEMU 7.2) does not define. */
    public static Optional<VhostUserRequest> fromCode(int code) {
        if (code < 0 || code >= BY_CODE.length) {
            return Optional.empty();
        }
        return Optional.ofNullable(BY_CODE[code]);
    }

    private record Reply(boolean always, PayloadKind payload, FdRule fds) {
        /** vhost-user.rst, "REPLY_ACK": "The payload should be set to zero on success or non-zero on failure". */
        static final Reply ACK = new Reply(false, PayloadKind.U64, NONE);

        static Reply always(PayloadKind payload) {
            return new Reply(true, payload, NONE);
        }

        static Reply always(PayloadKind payload, FdRule fds) {
            return new Reply(true, payload, fds);
        }
    }
}

package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.FLAG_NEED_REPLY;
import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.FLAG_REPLY;
import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.VERSION;

import java.util.Arrays;
import java.util.Objects;

/**
 * A vhost-user message: request, header flags, typed payload and the fds that travel with it.
 *
 * <p>On decode, {@link #fds()} are the fds the message carries by the rules of its request (the
 * handler takes ownership of them) and {@link #discardedFds()} are fds the peer may send but the
 * spec says must be closed unused (REM_MEM_REG); the caller closes those at once. On encode,
 * {@link #fds()} are the fds the transport must attach as SCM_RIGHTS ancillary data and
 * {@link #discardedFds()} must be empty.
 *
 * @param request      the request this message is, or answers
 * @param flags        the header flags (version, REPLY, NEED_REPLY)
 * @param payload      the payload
 * @param fds          fds carried by the message, in order
 * @param discardedFds fds received that must be closed unused
 */
public record VhostUserMessage(VhostUserRequest request, int flags, VhostUserPayload payload, int[] fds,
                               int[] discardedFds) {

    private static final int[] NO_FDS = new int[0];

    /** Copies the fd arrays. */
    public VhostUserMessage {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(payload, "payload");
        fds = fds.clone();
        discardedFds = discardedFds.clone();
    }

    /** A front-end request, version 1, without NEED_REPLY. */
    public static VhostUserMessage request(VhostUserRequest request, VhostUserPayload payload, int... fds) {
        return new VhostUserMessage(request, VERSION, payload, fds, NO_FDS);
    }

    /** A back-end reply to {@code request}: version 1 with the REPLY flag. */
    public static VhostUserMessage reply(VhostUserRequest request, VhostUserPayload payload, int... fds) {
        return new VhostUserMessage(request, VERSION | FLAG_REPLY, payload, fds, NO_FDS);
    }

    /** A REPLY_ACK reply: u64 status, 0 for success, non-zero for failure. */
    public static VhostUserMessage ack(VhostUserRequest request, long status) {
        return reply(request, new VhostUserPayload.U64(status));
    }

    /** This message with the NEED_REPLY flag set. */
    public VhostUserMessage withNeedReply() {
        return new VhostUserMessage(request, flags | FLAG_NEED_REPLY, payload, fds, discardedFds);
    }

    /** Whether the REPLY flag is set. */
    public boolean isReply() {
        return (flags & FLAG_REPLY) != 0;
    }

    /** Whether the NEED_REPLY flag is set. */
    public boolean needsReply() {
        return (flags & FLAG_NEED_REPLY) != 0;
    }

    /** A copy of the fds the message carries. */
    @Override
    public int[] fds() {
        return fds.clone();
    }

    /** A copy of the received fds that must be closed unused. */
    @Override
    public int[] discardedFds() {
        return discardedFds.clone();
    }

    /** Number of fds the message carries. */
    public int fdCount() {
        return fds.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VhostUserMessage other && request == other.request && flags == other.flags
                && payload.equals(other.payload) && Arrays.equals(fds, other.fds)
                && Arrays.equals(discardedFds, other.discardedFds);
    }

    @Override
    public int hashCode() {
        return Objects.hash(request, flags, payload, Arrays.hashCode(fds), Arrays.hashCode(discardedFds));
    }

    @Override
    public String toString() {
        return "VhostUserMessage[" + request + ", flags=0x" + Integer.toHexString(flags) + ", " + payload
                + ", fds=" + Arrays.toString(fds)
                + (discardedFds.length == 0 ? "" : ", discardedFds=" + Arrays.toString(discardedFds)) + "]";
    }
}

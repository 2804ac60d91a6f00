package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.*;
import static io.ringway.vhost.protocol.WireFormat.U32;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * Encodes and decodes vhost-user messages (vhost-user.rst, "Message Specification") between bytes
 * plus fds and {@link VhostUserMessage}s, enforcing every rule one message lets it check (see the
 * package documentation for the list, and for what is left to the state machines).
 *
 * <p><b>Decoding.</b> A transport that reads a whole message at once calls {@link #decode}. A
 * streaming transport reads the {@value VhostUserMessageDescriptor#HEADER_LENGTH}-byte header (and
 * the fds, which arrive with its first byte), calls {@link #decodeHeader}, reads exactly
 * {@link VhostUserHeader#size()} more bytes and calls {@link #decodePayload}. For any byte input
 * these methods either return a valid message or throw {@link VhostUserProtocolException}, whose
 * {@link VhostUserProtocolException#fdsToClose() fdsToClose} lists every fd passed in; nothing else
 * escapes for any content of the bytes. {@link IllegalArgumentException} is thrown only for calls
 * that break the method contract (a length beyond the segment, an fd count beyond the array).
 *
 * <p><b>Encoding.</b> {@link #encode} writes a message into a caller-provided segment and returns
 * its length; the caller attaches {@link VhostUserMessage#fds()} as SCM_RIGHTS. A message that
 * would not pass {@link #decode} is refused with {@link IllegalArgumentException}: sending it is
 * a bug on our side.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class VhostUserCodec {

    /**
     * Default and largest vring count: the vring u64 of SET_VRING_KICK/CALL/ERR has 8 index bits
     * ("Bits (0-7) of the payload contain the vring index"), so no front-end can address more than
     * 256 vrings; DPDK's VHOST_MAX_VRING is the same.
     */
    public static final int MAX_VRINGS = 256;

    private static final int[] NO_FDS = new int[0];

    private final int maxVrings;

    /** A codec accepting vring indices 0 to 255. */
    public VhostUserCodec() {
        this(MAX_VRINGS);
    }

    /**
     * A codec accepting vring indices 0 to {@code maxVrings - 1}; a back-end passes the number of
     * queues its device has, so that an out-of-range index is rejected before it reaches the device.
     *
     * @param maxVrings number of vrings, 1 to {@link #MAX_VRINGS}
     */
    public VhostUserCodec(int maxVrings) {
        if (maxVrings < 1 || maxVrings > MAX_VRINGS) {
            throw new IllegalArgumentException("maxVrings must be 1.." + MAX_VRINGS + ", got " + maxVrings);
        }
        this.maxVrings = maxVrings;
    }

    /** The number of vrings this codec accepts indices for. */
    public int maxVrings() {
        return maxVrings;
    }

    /**
     * Decodes one whole message: header and payload.
     *
     * @param message the bytes received, from offset 0
     * @param length  number of valid bytes in {@code message}
     * @param fds     the fds received with the message (may be null if {@code fdCount} is 0)
     * @param fdCount number of valid entries in {@code fds}
     * @return the message; its fds and discardedFds together are exactly the fds passed in
     * @throws VhostUserProtocolException if the message breaks a rule; it lists every fd passed in
     */
    public VhostUserMessage decode(MemorySegment message, int length, int[] fds, int fdCount)
            throws VhostUserProtocolException {
        VhostUserHeader header = decodeHeader(message, length, fds, fdCount);
        MemorySegment payload = message.asSlice(HEADER_LENGTH, length - HEADER_LENGTH);
        return decodePayload(header, payload, length - HEADER_LENGTH, fds, fdCount);
    }

    /**
     * Decodes and validates a header: at least 12 bytes, known request, version 1, no reserved flag
     * bits, payload size at most {@link VhostUserMessageDescriptor#MAX_PAYLOAD_SIZE} and equal to
     * the request's payload size where that is fixed. Bytes after the header are ignored.
     *
     * @param buffer  the bytes received, header at offset 0
     * @param length  number of valid bytes in {@code buffer}
     * @param fds     the fds received with the header (may be null if {@code fdCount} is 0)
     * @param fdCount number of valid entries in {@code fds}
     * @return the header; the transport reads {@link VhostUserHeader#size()} payload bytes next
     * @throws VhostUserProtocolException if the header breaks a rule; it lists every fd passed in
     */
    public VhostUserHeader decodeHeader(MemorySegment buffer, int length, int[] fds, int fdCount)
            throws VhostUserProtocolException {
        checkArguments(buffer, length, fds, fdCount);
        try {
            if (length < HEADER_LENGTH) {
                throw new ProtocolViolation(new VhostUserProtocolError.ShortHeader(length));
            }
            int code = buffer.get(U32, REQUEST_OFFSET);
            int flags = buffer.get(U32, FLAGS_OFFSET);
            int size = buffer.get(U32, SIZE_OFFSET);
            VhostUserRequest request = VhostUserRequest.fromCode(code).orElseThrow(
                    () -> new ProtocolViolation(new VhostUserProtocolError.UnknownRequest(code)));
            checkHeader(request, flags, size);
            return new VhostUserHeader(request, flags, size);
        } catch (ProtocolViolation violation) {
            throw rejected(violation, fds, fdCount);
        }
    }

    /**
     * Decodes and validates a payload for a header {@link #decodeHeader} accepted.
     *
     * @param header  the message's header
     * @param payload the payload bytes, from offset 0
     * @param length  number of valid bytes in {@code payload}; must equal {@code header.size()}
     * @param fds     the fds received with the message (may be null if {@code fdCount} is 0)
     * @param fdCount number of valid entries in {@code fds}
     * @return the message; its fds and discardedFds together are exactly the fds passed in
     * @throws VhostUserProtocolException if the payload or fds break a rule; it lists every fd passed in
     */
    public VhostUserMessage decodePayload(VhostUserHeader header, MemorySegment payload, int length, int[] fds,
                                          int fdCount) throws VhostUserProtocolException {
        Objects.requireNonNull(header, "header");
        checkArguments(payload, length, fds, fdCount);
        try {
            checkHeader(header.request(), header.flags(), header.size());
            if (length != header.size()) {
                throw new ProtocolViolation(new VhostUserProtocolError.LengthMismatch(header.size(), length));
            }
            MessageSchema schema = MessageSchema.of(header.request(), header.isReply(), length);
            VhostUserPayload value = PayloadReader.read(schema, payload.asSlice(0, length));
            PayloadRules.validate(schema, value, maxVrings);
            PayloadRules.checkFds(schema, value, fdCount);
            int[] received = fdCount == 0 ? NO_FDS : Arrays.copyOf(fds, fdCount);
            if (schema.fds() == FdRule.AT_MOST_ONE_DISCARDED) {
                return new VhostUserMessage(header.request(), header.flags(), value, NO_FDS, received);
            }
            return new VhostUserMessage(header.request(), header.flags(), value, received, NO_FDS);
        } catch (ProtocolViolation violation) {
            throw rejected(violation, fds, fdCount);
        }
    }

    /**
     * Encodes a request (front-end side) or reply (back-end side) into {@code out}.
     *
     * @param message the message; its discardedFds must be empty
     * @param out     where to write, from offset 0
     * @return the number of bytes written: header plus payload
     * @throws IllegalArgumentException if the message breaks a protocol rule (the description names
     *                                  it) or does not fit in {@code out}
     */
    public int encode(VhostUserMessage message, MemorySegment out) {
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(out, "out");
        VhostUserPayload payload = message.payload();
        int payloadLength = PayloadWriter.length(payload);
        try {
            checkHeader(message.request(), message.flags(), payloadLength);
            MessageSchema schema = MessageSchema.of(message.request(), message.isReply(), payloadLength);
            if (schema.kind() != payload.kind()) {
                throw new IllegalArgumentException(message.request() + (schema.reply() ? " reply" : " request")
                        + " carries a " + schema.kind() + " payload, got " + payload.kind());
            }
            PayloadRules.validate(schema, payload, maxVrings);
            PayloadRules.checkFds(schema, payload, message.fdCount());
            if (schema.fds() == FdRule.AT_MOST_ONE_DISCARDED && message.fdCount() != 0) {
                // REM_MEM_REG: "No file descriptors SHOULD be passed in the ancillary data."
                throw new IllegalArgumentException(message.request() + " must be sent without fds");
            }
        } catch (ProtocolViolation violation) {
            throw new IllegalArgumentException("not a valid vhost-user message: " + violation.error().describe());
        }
        if (message.discardedFds().length != 0) {
            throw new IllegalArgumentException("discardedFds are for received messages only");
        }
        int total = HEADER_LENGTH + payloadLength;
        if (out.byteSize() < total) {
            throw new IllegalArgumentException("message needs " + total + " bytes, buffer has " + out.byteSize());
        }
        out.set(U32, REQUEST_OFFSET, message.request().code());
        out.set(U32, FLAGS_OFFSET, message.flags());
        out.set(U32, SIZE_OFFSET, payloadLength);
        PayloadWriter.write(payload, out.asSlice(HEADER_LENGTH, payloadLength));
        return total;
    }

    /** The number of bytes {@link #encode} writes for {@code message}. */
    public static int encodedLength(VhostUserMessage message) {
        return HEADER_LENGTH + PayloadWriter.length(message.payload());
    }

    private static void checkHeader(VhostUserRequest request, int flags, int size) {
        // vhost-user.rst, "Header": "Lower 2 bits are the version (currently 0x01)".
        if ((flags & VERSION_MASK) != VERSION) {
            throw new ProtocolViolation(new VhostUserProtocolError.BadVersion(flags));
        }
        // Bit 2 is REPLY, bit 3 NEED_REPLY; no other bit is defined.
        if ((flags & ~DEFINED_FLAGS) != 0) {
            throw new ProtocolViolation(new VhostUserProtocolError.ReservedBitsSet(
                    request, "flags", Integer.toUnsignedLong(flags), DEFINED_FLAGS));
        }
        long unsignedSize = Integer.toUnsignedLong(size);
        if (unsignedSize > MAX_PAYLOAD_SIZE) {
            throw new ProtocolViolation(new VhostUserProtocolError.PayloadTooLarge(unsignedSize, MAX_PAYLOAD_SIZE));
        }
        boolean reply = (flags & FLAG_REPLY) != 0;
        MessageSchema schema = MessageSchema.of(request, reply, size);
        if (schema.kind().hasFixedLength() && schema.kind().fixedLength() != size) {
            throw PayloadReader.sizeMismatch(schema, schema.kind().fixedLength(), size);
        }
    }

    private static void checkArguments(MemorySegment bytes, int length, int[] fds, int fdCount) {
        Objects.requireNonNull(bytes, "bytes");
        if (length < 0 || length > bytes.byteSize()) {
            throw new IllegalArgumentException("length " + length + " outside the segment of " + bytes.byteSize() + " bytes");
        }
        if (fdCount < 0 || (fdCount > 0 && (fds == null || fdCount > fds.length))) {
            throw new IllegalArgumentException("fdCount " + fdCount + " outside the fd array");
        }
    }

    private static VhostUserProtocolException rejected(ProtocolViolation violation, int[] fds, int fdCount) {
        int[] toClose = fdCount == 0 ? NO_FDS : Arrays.copyOf(fds, fdCount);
        return new VhostUserProtocolException(violation.error(), toClose);
    }
}

/**
 * The vhost-user message codec: encode and decode of vhost-user messages between bytes (plus the
 * file descriptors that travel with them as SCM_RIGHTS ancillary data) and typed values, with
 * strict validation of everything the peer controls.
 *
 * <p>The reference is QEMU's {@code docs/interop/vhost-user.rst} as of QEMU 7.2 ("Message
 * Specification" and "Front-end message types"). This package knows nothing of sockets, of
 * negotiated state or of devices: the transport reads bytes and fds and hands them to
 * {@link io.ringway.vhost.protocol.VhostUserCodec}; the front-end and back-end state machines act
 * on the resulting {@link io.ringway.vhost.protocol.VhostUserMessage}.
 *
 * <h2>What the codec checks, and what it leaves to the state machines</h2>
 * The codec checks every rule that can be checked from one message alone: header version and
 * flags, known request code, payload size for the request, number of attached fds, memory region
 * sanity (non-zero size, no wrap-around, no overlap), config space bounds, reserved bits, and vring
 * indices against a configured maximum. It does not check rules that need connection state:
 * whether the protocol feature a request needs was negotiated (see
 * {@link io.ringway.vhost.protocol.VhostUserRequest#requiredFeature()}), whether a reply answers the
 * request that is outstanding, whether ADD_MEM_REG exceeds the back-end's free memory slots or
 * overlaps a region added earlier.
 *
 * <h2>File descriptor ownership</h2>
 * Every fd the transport received with a message ends up in exactly one place: in
 * {@link io.ringway.vhost.protocol.VhostUserMessage#fds()} (the handler takes ownership), in
 * {@link io.ringway.vhost.protocol.VhostUserMessage#discardedFds()} (valid message, but the spec says
 * the fd must be closed unused), or in
 * {@link io.ringway.vhost.protocol.VhostUserProtocolException#fdsToClose()} (rejected message). The
 * codec never closes an fd itself.
 */
package io.ringway.vhost.protocol;

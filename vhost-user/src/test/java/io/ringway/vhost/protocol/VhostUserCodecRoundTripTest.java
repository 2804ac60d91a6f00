package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.TestMessages.encode;
import static io.ringway.vhost.protocol.TestMessages.segment;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** Every request kind, and every reply, survives encode then decode unchanged. */
class VhostUserCodecRoundTripTest {

    private final VhostUserCodec codec = new VhostUserCodec();

    @ParameterizedTest
    @EnumSource(VhostUserRequest.class)
    void requestRoundTrips(VhostUserRequest request) throws VhostUserProtocolException {
        VhostUserMessage message = TestMessages.sample(request, false);
        assertEquals(message, roundTrip(message));
        VhostUserMessage needReply = message.withNeedReply();
        assertEquals(needReply, roundTrip(needReply));
        assertTrue(roundTrip(needReply).needsReply());
    }

    @ParameterizedTest
    @EnumSource(VhostUserRequest.class)
    void replyRoundTrips(VhostUserRequest request) throws VhostUserProtocolException {
        VhostUserMessage reply = TestMessages.sample(request, true);
        VhostUserMessage decoded = roundTrip(reply);
        assertEquals(reply, decoded);
        assertTrue(decoded.isReply());
    }

    @ParameterizedTest
    @EnumSource(VhostUserRequest.class)
    void replyAckRoundTrips(VhostUserRequest request) throws VhostUserProtocolException {
        if (request.alwaysReplies() && request.replyPayload() != PayloadKind.NONE) {
            return; // the explicit reply body is the answer; no separate ack form
        }
        VhostUserMessage ack = VhostUserMessage.ack(request, 1);
        assertEquals(ack, roundTrip(ack));
    }

    @ParameterizedTest
    @EnumSource(value = VhostUserRequest.class, names = {"SET_VRING_KICK", "SET_VRING_CALL", "SET_VRING_ERR"})
    void vringFileWithNoFdFlagRoundTrips(VhostUserRequest request) throws VhostUserProtocolException {
        VhostUserMessage message = VhostUserMessage.request(request, new VhostUserPayload.VringFile(255, true));
        assertEquals(message, roundTrip(message));
    }

    @Test
    void emptyMemoryTableRoundTrips() throws VhostUserProtocolException {
        VhostUserMessage message = VhostUserMessage.request(VhostUserRequest.SET_MEM_TABLE,
                new VhostUserPayload.MemoryTable(java.util.List.of()));
        assertEquals(message, roundTrip(message));
    }

    @Test
    void fullMemoryTableOfEightRegionsRoundTrips() throws VhostUserProtocolException {
        java.util.List<MemoryRegion> regions = new java.util.ArrayList<>();
        int[] fds = new int[8];
        for (int i = 0; i < 8; i++) {
            regions.add(new MemoryRegion(i * 0x1000_0000L, 0x1000_0000L, 0x7f00_0000_0000L + i * 0x1000_0000L, 0));
            fds[i] = 100 + i;
        }
        VhostUserMessage message = VhostUserMessage.request(VhostUserRequest.SET_MEM_TABLE,
                new VhostUserPayload.MemoryTable(regions), fds);
        assertEquals(8 + 8 * 32, VhostUserCodec.encodedLength(message) - 12);
        assertEquals(message, roundTrip(message));
    }

    @Test
    void streamingDecodeOfHeaderThenPayloadEqualsWholeDecode() throws VhostUserProtocolException {
        VhostUserMessage message = TestMessages.sample(VhostUserRequest.SET_MEM_TABLE, false);
        byte[] bytes = encode(codec, message);
        int[] fds = message.fds();
        MemorySegment header = segment(java.util.Arrays.copyOf(bytes, 12));
        VhostUserHeader decodedHeader = codec.decodeHeader(header, 12, fds, fds.length);
        assertEquals(VhostUserRequest.SET_MEM_TABLE, decodedHeader.request());
        assertEquals(bytes.length - 12, decodedHeader.size());
        MemorySegment payload = segment(java.util.Arrays.copyOfRange(bytes, 12, bytes.length));
        VhostUserMessage streamed = codec.decodePayload(decodedHeader, payload, decodedHeader.size(), fds, fds.length);
        assertEquals(message, streamed);
        assertEquals(streamed, codec.decode(segment(bytes), bytes.length, fds, fds.length));
    }

    @Test
    void encodeWritesPaddingAsZeroAndReportsTheLength() {
        MemorySegment out = java.lang.foreign.Arena.ofAuto().allocate(64);
        out.fill((byte) 0x5a);
        VhostUserMessage message = TestMessages.sample(VhostUserRequest.SET_INFLIGHT_FD, false);
        int length = codec.encode(message, out);
        assertEquals(12 + 24, length);
        byte[] bytes = out.asSlice(0, length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        assertArrayEquals(new byte[4], java.util.Arrays.copyOfRange(bytes, 12 + 20, 12 + 24));
    }

    private VhostUserMessage roundTrip(VhostUserMessage message) throws VhostUserProtocolException {
        byte[] bytes = encode(codec, message);
        int[] fds = message.fds();
        return codec.decode(segment(bytes), bytes.length, fds, fds.length);
    }
}

package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.TestMessages.encode;
import static io.ringway.vhost.protocol.TestMessages.hex;
import static io.ringway.vhost.protocol.TestMessages.segment;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Messages as QEMU sends them, assembled byte by byte from vhost-user.rst ("Message
 * Specification": request u32, flags u32, size u32, payload; native byte order, little-endian here).
 */
class VhostUserGoldenBytesTest {

    private final VhostUserCodec codec = new VhostUserCodec();

    /**
     * SET_MEM_TABLE for a guest with 2 GiB of RAM split around the legacy VGA hole, with REPLY_ACK
     * negotiated (QEMU then sets NEED_REPLY on it).
     */
    private static final byte[] SET_MEM_TABLE = hex("""
            05000000 09000000 48000000
            02000000 00000000
            0000000000000000 00000a0000000000 000000408a7f0000 0000000000000000
            0000100000000000 0000f07f00000000 000010408a7f0000 0000100000000000
            """);

    /** SET_VRING_ADDR for queue 1 (struct vhost_vring_addr: index, flags, desc, used, avail, log). */
    private static final byte[] SET_VRING_ADDR = hex("""
            09000000 01000000 28000000
            01000000 00000000
            004000408a7f0000 405200408a7f0000 005000408a7f0000 4052000000000000
            """);

    @Test
    void setMemTableAsQemuSendsItDecodesToItsRegions() throws VhostUserProtocolException {
        int[] fds = {23, 24};
        VhostUserMessage message = codec.decode(segment(SET_MEM_TABLE), SET_MEM_TABLE.length, fds, fds.length);

        assertEquals(VhostUserRequest.SET_MEM_TABLE, message.request());
        assertTrue(message.needsReply());
        assertFalse(message.isReply());
        assertEquals(new VhostUserPayload.MemoryTable(List.of(
                new MemoryRegion(0x0L, 0xa0000L, 0x7f8a40000000L, 0x0L),
                new MemoryRegion(0x100000L, 0x7ff00000L, 0x7f8a40100000L, 0x100000L))), message.payload());
        assertArrayEquals(fds, message.fds());
        assertArrayEquals(SET_MEM_TABLE, encode(codec, message), "encode gives back the same bytes");
    }

    @Test
    void setVringAddrAsQemuSendsItDecodesToItsAddresses() throws VhostUserProtocolException {
        VhostUserMessage message = codec.decode(segment(SET_VRING_ADDR), SET_VRING_ADDR.length, null, 0);

        assertEquals(VhostUserRequest.SET_VRING_ADDR, message.request());
        assertEquals(0x1, message.flags());
        assertEquals(new VhostUserPayload.VringAddress(1, 0, 0x7f8a40004000L, 0x7f8a40005240L, 0x7f8a40005000L,
                0x5240L), message.payload());
        assertArrayEquals(new int[0], message.fds());
        assertArrayEquals(SET_VRING_ADDR, encode(codec, message));
    }

    @Test
    void getFeaturesReplyAsABackEndSendsIt() throws VhostUserProtocolException {
        // VERSION | REPLY, 8-byte u64 with VIRTIO_F_VERSION_1 (32) and VHOST_USER_F_PROTOCOL_FEATURES (30).
        byte[] bytes = hex("01000000 05000000 08000000 0000004001000000");
        VhostUserMessage reply = codec.decode(segment(bytes), bytes.length, null, 0);
        assertTrue(reply.isReply());
        assertEquals(new VhostUserPayload.U64((1L << 32) | (1L << 30)), reply.payload());
    }

    @Test
    void setVringCallWithAnEventfdAndSetVringKickWithTheNoFdFlag() throws VhostUserProtocolException {
        byte[] call = hex("0d000000 01000000 08000000 0100000000000000");
        VhostUserMessage withFd = codec.decode(segment(call), call.length, new int[] {40}, 1);
        assertEquals(new VhostUserPayload.VringFile(1, false), withFd.payload());
        assertArrayEquals(new int[] {40}, withFd.fds());

        byte[] kick = hex("0c000000 01000000 08000000 0001000000000000");
        VhostUserMessage polled = codec.decode(segment(kick), kick.length, null, 0);
        assertEquals(new VhostUserPayload.VringFile(0, true), polled.payload());
    }
}

package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.TestMessages.REGION_A;
import static io.ringway.vhost.protocol.TestMessages.REGION_B;
import static io.ringway.vhost.protocol.TestMessages.segment;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringway.vhost.protocol.TestMessages.Bytes;
import io.ringway.vhost.protocol.VhostUserProtocolError.AddressSpace;
import java.lang.foreign.Arena;
import java.util.List;
import org.junit.jupiter.api.Test;

/** One test per validation rule, each with a message that breaks it (hand-assembled bytes). */
class VhostUserCodecValidationTest {

    private static final int V1 = 0x1;
    private static final int REPLY = 0x4;

    private final VhostUserCodec codec = new VhostUserCodec();

    // ---- header ---------------------------------------------------------------------------

    @Test
    void shortHeader() {
        byte[] bytes = {1, 0, 0, 0, 1, 0, 0};
        var error = assertInstanceOf(VhostUserProtocolError.ShortHeader.class, reject(bytes, 7));
        assertEquals(7, error.received());
    }

    @Test
    void lengthMismatch() {
        byte[] bytes = Bytes.header(2, V1, 8).u64(1).u64(2).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.LengthMismatch.class, reject(bytes));
        assertEquals(8, error.declared());
        assertEquals(16, error.received());
        byte[] truncated = Bytes.header(2, V1, 8).u32(1).toArray();
        assertInstanceOf(VhostUserProtocolError.LengthMismatch.class, reject(truncated));
    }

    @Test
    void unknownRequest() {
        for (int code : new int[] {0, 41, 0xffff_ffff}) {
            var error = assertInstanceOf(VhostUserProtocolError.UnknownRequest.class,
                    reject(Bytes.header(code, V1, 0).toArray(), 9));
            assertEquals(code, error.code());
        }
    }

    @Test
    void badVersion() {
        for (int flags : new int[] {0x0, 0x2, 0x3, REPLY}) {
            var error = assertInstanceOf(VhostUserProtocolError.BadVersion.class,
                    reject(Bytes.header(1, flags, 0).toArray()));
            assertEquals(flags, error.flags());
        }
    }

    @Test
    void reservedFlagBitsSet() {
        var error = assertInstanceOf(VhostUserProtocolError.ReservedBitsSet.class,
                reject(Bytes.header(1, V1 | 0x10, 0).toArray()));
        assertEquals("flags", error.field());
        assertEquals(0x11, error.value());
    }

    @Test
    void payloadTooLarge() {
        for (int size : new int[] {4097, 0x7fff_ffff, 0xffff_ffff}) {
            // The header alone is enough to refuse: the transport never reads the payload.
            var error = assertInstanceOf(VhostUserProtocolError.PayloadTooLarge.class,
                    rejectHeader(Bytes.header(26, V1, size).toArray(), 3));
            assertEquals(Integer.toUnsignedLong(size), error.size());
            assertEquals(VhostUserMessageDescriptor.MAX_PAYLOAD_SIZE, error.limit());
        }
    }

    // ---- payload size ---------------------------------------------------------------------

    @Test
    void payloadSizeMismatchForFixedSizePayloadIsRefusedAtTheHeader() {
        var error = assertInstanceOf(VhostUserProtocolError.PayloadSizeMismatch.class,
                rejectHeader(Bytes.header(2, V1, 4).toArray()));
        assertEquals(VhostUserRequest.SET_FEATURES, error.request());
        assertEquals(8, error.expected());
        assertEquals(4, error.actual());
        var noPayloadExpected = assertInstanceOf(VhostUserProtocolError.PayloadSizeMismatch.class,
                reject(Bytes.header(1, V1, 8).u64(0).toArray()));
        assertEquals(0, noPayloadExpected.expected());
        var vringAddress = assertInstanceOf(VhostUserProtocolError.PayloadSizeMismatch.class,
                reject(Bytes.header(9, V1, 48).zeros(48).toArray()));
        assertEquals(40, vringAddress.expected());
    }

    @Test
    void payloadSizeMismatchForMemoryTableIsEightPlus32PerRegion() {
        byte[] bytes = Bytes.header(5, V1, 8 + 32).u32(2).u32(0).region(REGION_A).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.PayloadSizeMismatch.class, reject(bytes, 20, 21));
        assertEquals(8 + 2 * 32, error.expected());
        assertEquals(40, error.actual());
        var tooShortForCount = assertInstanceOf(VhostUserProtocolError.PayloadSizeMismatch.class,
                reject(Bytes.header(5, V1, 4).u32(0).toArray()));
        assertEquals(8, tooShortForCount.expected());
    }

    @Test
    void payloadSizeMismatchForConfigIsTwelvePlusSize() {
        byte[] bytes = Bytes.header(25, V1, 12 + 4).u32(0).u32(8).u32(0).u32(0xdeadbeef).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.PayloadSizeMismatch.class, reject(bytes));
        assertEquals(VhostUserRequest.SET_CONFIG, error.request());
        assertEquals(12 + 8, error.expected());
        assertEquals(16, error.actual());
    }

    @Test
    void payloadSizeMismatchInAReplyUsesTheReplySchema() {
        // GET_VRING_BASE reply is a vring state, 8 bytes.
        var error = assertInstanceOf(VhostUserProtocolError.PayloadSizeMismatch.class,
                reject(Bytes.header(11, V1 | REPLY, 4).u32(0).toArray()));
        assertTrue(error.reply());
        assertEquals(8, error.expected());
    }

    // ---- fds ------------------------------------------------------------------------------

    @Test
    void fdCountMismatchForRequestWithoutFds() {
        var error = assertInstanceOf(VhostUserProtocolError.FdCountMismatch.class,
                reject(Bytes.header(2, V1, 8).u64(0).toArray(), 42));
        assertEquals(VhostUserRequest.SET_FEATURES, error.request());
        assertEquals(0, error.expectedMax());
        assertEquals(1, error.actual());
    }

    @Test
    void fdCountMismatchForMemoryTableWithFewerFdsThanRegions() {
        byte[] bytes = Bytes.header(5, V1, 8 + 64).u32(2).u32(0).region(REGION_A).region(REGION_B).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.FdCountMismatch.class, reject(bytes, 20));
        assertEquals(2, error.expectedMin());
        assertEquals(2, error.expectedMax());
        assertEquals(1, error.actual());
    }

    @Test
    void fdCountMismatchForAddMemRegWithoutFd() {
        byte[] bytes = Bytes.header(37, V1, 40).u64(0).region(REGION_B).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.FdCountMismatch.class, reject(bytes));
        assertEquals(VhostUserRequest.ADD_MEM_REG, error.request());
        assertEquals(1, error.expectedMin());
        assertEquals(0, error.actual());
    }

    @Test
    void fdCountMismatchForRemMemRegWithTwoFds() {
        byte[] bytes = Bytes.header(38, V1, 40).u64(0).region(REGION_B).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.FdCountMismatch.class, reject(bytes, 7, 8));
        assertEquals(0, error.expectedMin());
        assertEquals(1, error.expectedMax());
    }

    @Test
    void remMemRegFdIsHandedBackAsDiscarded() throws VhostUserProtocolException {
        // REM_MEM_REG: "If a file descriptor is passed, the back-end MUST close it without using it."
        byte[] bytes = Bytes.header(38, V1, 40).u64(0).region(REGION_B).toArray();
        VhostUserMessage message = codec.decode(segment(bytes), bytes.length, new int[] {77}, 1);
        assertArrayEquals(new int[0], message.fds());
        assertArrayEquals(new int[] {77}, message.discardedFds());
    }

    @Test
    void noFdFlagWithFd() {
        byte[] bytes = Bytes.header(12, V1, 8).u64(0x100 | 2).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.NoFdFlagWithFd.class, reject(bytes, 31));
        assertEquals(VhostUserRequest.SET_VRING_KICK, error.request());
        assertEquals(2, error.index());
    }

    @Test
    void missingFd() {
        byte[] bytes = Bytes.header(13, V1, 8).u64(1).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.MissingFd.class, reject(bytes));
        assertEquals(VhostUserRequest.SET_VRING_CALL, error.request());
        assertEquals(1, error.index());
    }

    @Test
    void vringFileWithTwoFdsIsAnFdCountMismatch() {
        byte[] bytes = Bytes.header(14, V1, 8).u64(0).toArray();
        assertInstanceOf(VhostUserProtocolError.FdCountMismatch.class, reject(bytes, 1, 2));
    }

    @Test
    void rejectedMessageHandsBackEveryFdItCameWith() {
        byte[] bytes = Bytes.header(5, V1, 8 + 32).u32(1).u32(0).u64(0).u64(0).u64(0).u64(0).toArray();
        int[] fds = {11, 12, 13, 99};
        VhostUserProtocolException rejected = assertThrows(VhostUserProtocolException.class,
                () -> codec.decode(segment(bytes), bytes.length, fds, 3));
        assertArrayEquals(new int[] {11, 12, 13}, rejected.fdsToClose());
        assertEquals(rejected.error().describe(), rejected.getMessage());
    }

    // ---- memory regions -------------------------------------------------------------------

    @Test
    void tooManyRegions() {
        Bytes bytes = Bytes.header(5, V1, 8 + 9 * 32).u32(9).u32(0);
        for (int i = 0; i < 9; i++) {
            bytes.region(new MemoryRegion(i * 0x1000L, 0x1000, 0x10000L + i * 0x1000L, 0));
        }
        var error = assertInstanceOf(VhostUserProtocolError.TooManyRegions.class, reject(bytes.toArray(), 1, 2, 3));
        assertEquals(9, error.count());
        assertEquals(8, error.max());
        var huge = assertInstanceOf(VhostUserProtocolError.TooManyRegions.class,
                reject(Bytes.header(5, V1, 8).u32(0xffff_ffff).u32(0).toArray()));
        assertEquals(0xffff_ffffL, huge.count());
    }

    @Test
    void regionZeroSize() {
        MemoryRegion empty = new MemoryRegion(0x200000000L, 0, 0x7f0000000000L, 0);
        byte[] bytes = Bytes.header(5, V1, 8 + 64).u32(2).u32(0).region(REGION_A).region(empty).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.RegionZeroSize.class, reject(bytes, 5, 6));
        assertEquals(1, error.index());
        byte[] single = Bytes.header(37, V1, 40).u64(0).region(empty).toArray();
        assertInstanceOf(VhostUserProtocolError.RegionZeroSize.class, reject(single, 5));
    }

    @Test
    void regionOverlapInGuestPhysicalSpace() {
        MemoryRegion overlapping = new MemoryRegion(0x9f000L, 0x2000L, 0x7f5555000000L, 0);
        byte[] bytes = Bytes.header(5, V1, 8 + 64).u32(2).u32(0).region(REGION_A).region(overlapping).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.RegionOverlap.class, reject(bytes, 5, 6));
        assertEquals(0, error.first());
        assertEquals(1, error.second());
        assertEquals(AddressSpace.GUEST_PHYSICAL, error.space());
    }

    @Test
    void regionOverlapInUserspace() {
        MemoryRegion aliasing = new MemoryRegion(0x100000000L, 0x1000L, REGION_A.userspaceAddr() + 0x9f000L, 0);
        byte[] bytes = Bytes.header(5, V1, 8 + 64).u32(2).u32(0).region(REGION_A).region(aliasing).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.RegionOverlap.class, reject(bytes, 5, 6));
        assertEquals(AddressSpace.USERSPACE, error.space());
    }

    @Test
    void adjacentRegionsDoNotOverlap() throws VhostUserProtocolException {
        MemoryRegion first = new MemoryRegion(0x0L, 0x1000L, 0x10000L, 0);
        MemoryRegion next = new MemoryRegion(0x1000L, 0x1000L, 0x11000L, 0x1000L);
        byte[] bytes = Bytes.header(5, V1, 8 + 64).u32(2).u32(0).region(first).region(next).toArray();
        VhostUserMessage message = codec.decode(segment(bytes), bytes.length, new int[] {5, 6}, 2);
        assertEquals(new VhostUserPayload.MemoryTable(List.of(first, next)), message.payload());
    }

    @Test
    void regionAddressOverflowInGuestPhysicalSpace() {
        MemoryRegion wraps = new MemoryRegion(0xffff_ffff_ffff_f000L, 0x2000L, 0x10000L, 0);
        var error = assertInstanceOf(VhostUserProtocolError.RegionAddressOverflow.class, rejectTable(wraps));
        assertEquals(AddressSpace.GUEST_PHYSICAL, error.space());
        assertEquals(0xffff_ffff_ffff_f000L, error.start());
        assertEquals(0x2000L, error.size());
    }

    @Test
    void regionAddressOverflowInUserspace() {
        MemoryRegion wraps = new MemoryRegion(0x0L, 0x2000L, 0xffff_ffff_ffff_f000L, 0);
        var error = assertInstanceOf(VhostUserProtocolError.RegionAddressOverflow.class, rejectTable(wraps));
        assertEquals(AddressSpace.USERSPACE, error.space());
    }

    @Test
    void regionAddressOverflowInMmapOffset() {
        MemoryRegion wraps = new MemoryRegion(0x0L, 0x2000L, 0x10000L, 0xffff_ffff_ffff_f000L);
        var error = assertInstanceOf(VhostUserProtocolError.RegionAddressOverflow.class, rejectTable(wraps));
        assertEquals(AddressSpace.MMAP_OFFSET, error.space());
    }

    @Test
    void regionEndingAtTheTopOfTheAddressSpaceDoesNotOverflow() throws VhostUserProtocolException {
        MemoryRegion top = new MemoryRegion(0xffff_ffff_ffff_f000L, 0x1000L, 0xffff_ffff_ffff_f000L, 0);
        byte[] bytes = Bytes.header(5, V1, 8 + 32).u32(1).u32(0).region(top).toArray();
        codec.decode(segment(bytes), bytes.length, new int[] {5}, 1);
    }

    // ---- config ---------------------------------------------------------------------------

    @Test
    void configSizeInvalidWhenZero() {
        byte[] bytes = Bytes.header(24, V1, 12).u32(0).u32(0).u32(0).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.ConfigSizeInvalid.class, reject(bytes));
        assertEquals(0, error.size());
    }

    @Test
    void configSizeInvalidWhenPastTheConfigSpace() {
        byte[] bytes = Bytes.header(25, V1, 12 + 16).u32(250).u32(16).u32(0).zeros(16).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.ConfigSizeInvalid.class, reject(bytes));
        assertEquals(250, error.offset());
        assertEquals(16, error.size());
        assertEquals(256, error.max());
        // offset + size computed without 32-bit wrap
        byte[] wrapping = Bytes.header(25, V1, 12 + 16).u32(0xffff_fff8).u32(16).u32(0).zeros(16).toArray();
        assertInstanceOf(VhostUserProtocolError.ConfigSizeInvalid.class, reject(wrapping));
        byte[] huge = Bytes.header(25, V1, 12).u32(0).u32(0xffff_ffff).u32(0).toArray();
        assertInstanceOf(VhostUserProtocolError.ConfigSizeInvalid.class, reject(huge));
    }

    @Test
    void configFlagsOtherThanMigrationAreReserved() {
        byte[] bytes = Bytes.header(25, V1, 12 + 4).u32(0).u32(4).u32(2).zeros(4).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.ReservedBitsSet.class, reject(bytes));
        assertEquals("flags", error.field());
    }

    @Test
    void getConfigErrorReplyHasAnEmptyPayload() throws VhostUserProtocolException {
        byte[] bytes = Bytes.header(24, V1 | REPLY, 0).toArray();
        assertEquals(VhostUserPayload.Empty.INSTANCE, codec.decode(segment(bytes), bytes.length, null, 0).payload());
    }

    // ---- vrings ---------------------------------------------------------------------------

    @Test
    void vringIndexOutOfRange() {
        VhostUserCodec twoQueues = new VhostUserCodec(2);
        byte[] state = Bytes.header(8, V1, 8).u32(2).u32(256).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.VringIndexOutOfRange.class, reject(twoQueues, state));
        assertEquals(VhostUserRequest.SET_VRING_NUM, error.request());
        assertEquals(2, error.index());
        assertEquals(2, error.max());
        byte[] address = Bytes.header(9, V1, 40).u32(0x8000_0000).u32(0).zeros(32).toArray();
        var unsigned = assertInstanceOf(VhostUserProtocolError.VringIndexOutOfRange.class, reject(twoQueues, address));
        assertEquals(0x8000_0000L, unsigned.index());
        byte[] kick = Bytes.header(12, V1, 8).u64(5).toArray();
        assertInstanceOf(VhostUserProtocolError.VringIndexOutOfRange.class, reject(twoQueues, kick, 4));
    }

    @Test
    void vringU64BitsAboveTheNoFdFlagAreReserved() {
        byte[] bytes = Bytes.header(12, V1, 8).u64(0x200 | 1).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.ReservedBitsSet.class, reject(bytes, 4));
        assertEquals(0x1ffL, error.allowedMask());
    }

    @Test
    void vringAddressFlagsOtherThanLogAreReserved() {
        byte[] bytes = Bytes.header(9, V1, 40).u32(0).u32(0x2).zeros(32).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.ReservedBitsSet.class, reject(bytes));
        assertEquals(VhostUserRequest.SET_VRING_ADDR, error.request());
    }

    @Test
    void vringKickNumIsReserved() {
        byte[] bytes = Bytes.header(35, V1, 8).u32(0).u32(1).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.ReservedBitsSet.class, reject(bytes));
        assertEquals("num", error.field());
    }

    @Test
    void vringEndianIsZeroOrOne() {
        byte[] bytes = Bytes.header(23, V1, 8).u32(0).u32(2).toArray();
        assertInstanceOf(VhostUserProtocolError.ReservedBitsSet.class, reject(bytes));
    }

    @Test
    void vringEnableIsZeroOrOne() {
        byte[] bytes = Bytes.header(18, V1, 8).u32(0).u32(2).toArray();
        assertInstanceOf(VhostUserProtocolError.ReservedBitsSet.class, reject(bytes));
    }

    // ---- areas and IOTLB ------------------------------------------------------------------

    @Test
    void logAreaOverflow() {
        byte[] bytes = Bytes.header(6, V1, 16).u64(0x2000).u64(0xffff_ffff_ffff_f000L).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.AreaOverflow.class, reject(bytes, 3));
        assertEquals(VhostUserRequest.SET_LOG_BASE, error.request());
    }

    @Test
    void inflightAreaOverflow() {
        byte[] bytes = Bytes.header(32, V1, 24).u64(-1L).u64(1).u16(2).u16(256).zeros(4).toArray();
        assertInstanceOf(VhostUserProtocolError.AreaOverflow.class, reject(bytes, 3));
    }

    @Test
    void iotlbTypeInvalid() {
        byte[] bytes = Bytes.header(22, V1, 32).u64(0x1000).u64(0x1000).u64(0x7f0000000000L).u8(3).u8(5)
                .zeros(6).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.IotlbTypeInvalid.class, reject(bytes));
        assertEquals(5, error.type());
    }

    @Test
    void iotlbPermissionsAboveReadWriteAreReserved() {
        byte[] bytes = Bytes.header(22, V1, 32).u64(0x1000).u64(0x1000).u64(0x7f0000000000L).u8(4).u8(2)
                .zeros(6).toArray();
        var error = assertInstanceOf(VhostUserProtocolError.ReservedBitsSet.class, reject(bytes));
        assertEquals("permissions", error.field());
    }

    // ---- replies --------------------------------------------------------------------------

    @Test
    void setLogBaseReplyMayBeEmptyOrAnAck() throws VhostUserProtocolException {
        byte[] empty = Bytes.header(6, V1 | REPLY, 0).toArray();
        assertEquals(VhostUserPayload.Empty.INSTANCE, codec.decode(segment(empty), empty.length, null, 0).payload());
        byte[] ack = Bytes.header(6, V1 | REPLY, 8).u64(0).toArray();
        assertEquals(VhostUserPayload.U64.ACK_SUCCESS, codec.decode(segment(ack), ack.length, null, 0).payload());
    }

    @Test
    void replyAckIsAU64WithoutFds() {
        byte[] bytes = Bytes.header(2, V1 | REPLY, 8).u64(0).toArray();
        assertInstanceOf(VhostUserProtocolError.FdCountMismatch.class, reject(bytes, 5));
    }

    // ---- encode refuses what decode would reject ------------------------------------------

    @Test
    void encodeRefusesAnInvalidMessage() {
        MemoryRegion empty = new MemoryRegion(0, 0, 0, 0);
        VhostUserMessage message = VhostUserMessage.request(VhostUserRequest.SET_MEM_TABLE,
                new VhostUserPayload.MemoryTable(List.of(empty)), 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> codec.encode(message, Arena.ofAuto().allocate(128)));
        assertTrue(e.getMessage().contains("size 0"), e.getMessage());
    }

    @Test
    void encodeRefusesAPayloadOfTheWrongKind() {
        VhostUserMessage message = VhostUserMessage.request(VhostUserRequest.GET_FEATURES,
                new VhostUserPayload.U64(1));
        assertThrows(IllegalArgumentException.class, () -> codec.encode(message, Arena.ofAuto().allocate(128)));
    }

    @Test
    void encodeRefusesAWrongFdCount() {
        VhostUserMessage message = VhostUserMessage.request(VhostUserRequest.SET_VRING_KICK,
                new VhostUserPayload.VringFile(0, false));
        assertThrows(IllegalArgumentException.class, () -> codec.encode(message, Arena.ofAuto().allocate(128)));
    }

    @Test
    void encodeRefusesABufferTooSmall() {
        VhostUserMessage message = TestMessages.sample(VhostUserRequest.SET_VRING_ADDR, false);
        assertThrows(IllegalArgumentException.class, () -> codec.encode(message, Arena.ofAuto().allocate(51)));
    }

    // ---- helpers --------------------------------------------------------------------------

    private VhostUserProtocolError rejectTable(MemoryRegion region) {
        byte[] bytes = Bytes.header(5, V1, 8 + 32).u32(1).u32(0).region(region).toArray();
        return reject(bytes, 5);
    }

    private VhostUserProtocolError reject(byte[] bytes, int... fds) {
        return reject(codec, bytes, fds);
    }

    private static VhostUserProtocolError reject(VhostUserCodec codec, byte[] bytes, int... fds) {
        VhostUserProtocolException rejected = assertThrows(VhostUserProtocolException.class,
                () -> codec.decode(segment(bytes), bytes.length, fds, fds.length));
        assertArrayEquals(fds, rejected.fdsToClose(), "every received fd is handed back to be closed");
        return rejected.error();
    }

    private VhostUserProtocolError rejectHeader(byte[] header, int... fds) {
        VhostUserProtocolException rejected = assertThrows(VhostUserProtocolException.class,
                () -> codec.decodeHeader(segment(header), header.length, fds, fds.length));
        assertArrayEquals(fds, rejected.fdsToClose());
        return rejected.error();
    }
}

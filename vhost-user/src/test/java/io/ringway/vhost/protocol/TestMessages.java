package io.ringway.vhost.protocol;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/** Sample messages and a little-endian byte builder shared by the protocol tests. */
final class TestMessages {
    private TestMessages() {
    }

    static final MemoryRegion REGION_A = new MemoryRegion(0x0L, 0xa0000L, 0x7f1234000000L, 0x0L);
    static final MemoryRegion REGION_B = new MemoryRegion(0x100000L, 0x7ff00000L, 0x7f1234100000L, 0x100000L);

    /** A valid sample message for {@code request}: its request form, or its reply form. */
    static VhostUserMessage sample(VhostUserRequest request, boolean reply) {
        PayloadKind kind = reply ? request.replyPayload() : request.requestPayload();
        FdRule fdRule = reply ? request.replyFds() : request.requestFds();
        VhostUserPayload payload = samplePayload(request, kind);
        int[] fds = sampleFds(fdRule, payload);
        return reply ? VhostUserMessage.reply(request, payload, fds) : VhostUserMessage.request(request, payload, fds);
    }

    static VhostUserPayload samplePayload(VhostUserRequest request, PayloadKind kind) {
        return switch (kind) {
            case NONE -> VhostUserPayload.Empty.INSTANCE;
            case U64 -> new VhostUserPayload.U64(0x0123_4567_89ab_cdefL);
            case VRING_FILE -> new VhostUserPayload.VringFile(3, false);
            case VRING_STATE -> new VhostUserPayload.VringState(1, switch (request) {
                case SET_VRING_ENABLE, SET_VRING_ENDIAN -> 1;
                case VRING_KICK -> 0;
                default -> 256;
            });
            case VRING_ADDRESS -> new VhostUserPayload.VringAddress(1, VhostUserMessageDescriptor.VRING_F_LOG,
                    0x7f1234004000L, 0x7f1234005240L, 0x7f1234005000L, 0x5240L);
            case MEMORY_TABLE -> new VhostUserPayload.MemoryTable(List.of(REGION_A, REGION_B));
            case SINGLE_MEMORY_REGION -> new VhostUserPayload.SingleMemoryRegion(REGION_B);
            case LOG -> new VhostUserPayload.Log(0x4000L, 0x0L);
            case IOTLB -> new VhostUserPayload.Iotlb(0xfee00000L, 0x1000L, 0x7f1234200000L,
                    VhostUserPayload.Iotlb.PERM_READ | VhostUserPayload.Iotlb.PERM_WRITE,
                    VhostUserPayload.Iotlb.TYPE_UPDATE);
            case CONFIG -> new VhostUserPayload.Config(0, 0, sequence(60));
            case INFLIGHT -> new VhostUserPayload.Inflight(0x2000L, 0x0L, 2, 256);
            case OPAQUE -> new VhostUserPayload.Opaque(sequence(100));
        };
    }

    static int[] sampleFds(FdRule rule, VhostUserPayload payload) {
        return switch (rule) {
            case NONE, AT_MOST_ONE_DISCARDED -> new int[0];
            case EXACTLY_ONE, ONE_UNLESS_NOFD -> new int[] {50};
            case ONE_PER_REGION -> {
                int n = ((VhostUserPayload.MemoryTable) payload).regions().size();
                int[] fds = new int[n];
                Arrays.setAll(fds, i -> 20 + i);
                yield fds;
            }
        };
    }

    static byte[] sequence(int n) {
        byte[] bytes = new byte[n];
        for (int i = 0; i < n; i++) {
            bytes[i] = (byte) (i * 7 + 1);
        }
        return bytes;
    }

    static byte[] hex(String spaced) {
        return HexFormat.of().parseHex(spaced.replaceAll("\\s+", ""));
    }

    static MemorySegment segment(byte[] bytes) {
        MemorySegment segment = Arena.ofAuto().allocate(Math.max(1, bytes.length));
        MemorySegment.copy(bytes, 0, segment, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return segment;
    }

    static byte[] encode(VhostUserCodec codec, VhostUserMessage message) {
        MemorySegment out = Arena.ofAuto().allocate(VhostUserCodec.encodedLength(message));
        int length = codec.encode(message, out);
        return out.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Builds little-endian wire bytes by hand. */
    static final class Bytes {
        private final ByteBuffer buffer = ByteBuffer.allocate(8192).order(ByteOrder.LITTLE_ENDIAN);

        static Bytes header(int request, int flags, int size) {
            return new Bytes().u32(request).u32(flags).u32(size);
        }

        Bytes u8(int value) {
            buffer.put((byte) value);
            return this;
        }

        Bytes u16(int value) {
            buffer.putShort((short) value);
            return this;
        }

        Bytes u32(int value) {
            buffer.putInt(value);
            return this;
        }

        Bytes u64(long value) {
            buffer.putLong(value);
            return this;
        }

        Bytes zeros(int n) {
            buffer.put(new byte[n]);
            return this;
        }

        Bytes region(MemoryRegion region) {
            return u64(region.guestPhysAddr()).u64(region.memorySize()).u64(region.userspaceAddr())
                    .u64(region.mmapOffset());
        }

        byte[] toArray() {
            return Arrays.copyOf(buffer.array(), buffer.position());
        }
    }
}

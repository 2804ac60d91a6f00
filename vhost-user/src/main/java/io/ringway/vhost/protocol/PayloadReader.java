package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.*;
import static io.ringway.vhost.protocol.WireFormat.U16;
import static io.ringway.vhost.protocol.WireFormat.U32;
import static io.ringway.vhost.protocol.WireFormat.U64;
import static io.ringway.vhost.protocol.WireFormat.U8;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a payload of a known kind out of exactly its bytes. Every size is checked before the
 * first field is read, and each field is read once; the segment is a slice of the payload's length,
 * so no read can reach past it. Rules on field values are {@link PayloadRules}' job, except those a
 * size depends on (num_regions, config size), which are checked here before the size is computed.
 */
final class PayloadReader {
    private PayloadReader() {
    }

    static VhostUserPayload read(MessageSchema schema, MemorySegment payload) {
        int size = (int) payload.byteSize();
        return switch (schema.kind()) {
            case NONE -> {
                requireSize(schema, 0, size);
                yield VhostUserPayload.Empty.INSTANCE;
            }
            case U64 -> {
                requireSize(schema, U64_LENGTH, size);
                yield new VhostUserPayload.U64(payload.get(U64, 0));
            }
            case VRING_FILE -> readVringFile(schema, payload, size);
            case VRING_STATE -> {
                requireSize(schema, VRING_STATE_LENGTH, size);
                yield new VhostUserPayload.VringState(payload.get(U32, VRING_STATE_INDEX_OFFSET),
                        payload.get(U32, VRING_STATE_NUM_OFFSET));
            }
            case VRING_ADDRESS -> {
                requireSize(schema, VRING_ADDRESS_LENGTH, size);
                yield new VhostUserPayload.VringAddress(
                        payload.get(U32, VRING_ADDRESS_INDEX_OFFSET),
                        payload.get(U32, VRING_ADDRESS_FLAGS_OFFSET),
                        payload.get(U64, VRING_ADDRESS_DESC_OFFSET),
                        payload.get(U64, VRING_ADDRESS_USED_OFFSET),
                        payload.get(U64, VRING_ADDRESS_AVAIL_OFFSET),
                        payload.get(U64, VRING_ADDRESS_LOG_OFFSET));
            }
            case MEMORY_TABLE -> readMemoryTable(schema, payload, size);
            case SINGLE_MEMORY_REGION -> {
                requireSize(schema, SINGLE_REGION_LENGTH, size);
                yield new VhostUserPayload.SingleMemoryRegion(readRegion(payload, SINGLE_REGION_REGION_OFFSET));
            }
            case LOG -> {
                requireSize(schema, LOG_LENGTH, size);
                yield new VhostUserPayload.Log(payload.get(U64, LOG_MMAP_SIZE_OFFSET),
                        payload.get(U64, LOG_MMAP_OFFSET_OFFSET));
            }
            case IOTLB -> {
                requireSize(schema, IOTLB_LENGTH, size);
                yield new VhostUserPayload.Iotlb(payload.get(U64, IOTLB_IOVA_OFFSET),
                        payload.get(U64, IOTLB_SIZE_OFFSET), payload.get(U64, IOTLB_UADDR_OFFSET),
                        Byte.toUnsignedInt(payload.get(U8, IOTLB_PERM_OFFSET)),
                        Byte.toUnsignedInt(payload.get(U8, IOTLB_TYPE_OFFSET)));
            }
            case CONFIG -> readConfig(schema, payload, size);
            case INFLIGHT -> {
                requireSize(schema, INFLIGHT_LENGTH, size);
                yield new VhostUserPayload.Inflight(payload.get(U64, INFLIGHT_MMAP_SIZE_OFFSET),
                        payload.get(U64, INFLIGHT_MMAP_OFFSET_OFFSET),
                        Short.toUnsignedInt(payload.get(U16, INFLIGHT_NUM_QUEUES_OFFSET)),
                        Short.toUnsignedInt(payload.get(U16, INFLIGHT_QUEUE_SIZE_OFFSET)));
            }
            // The size was bounded by MAX_PAYLOAD_SIZE with the header.
            case OPAQUE -> new VhostUserPayload.Opaque(payload.toArray(ValueLayout.JAVA_BYTE));
        };
    }

    private static VhostUserPayload readVringFile(MessageSchema schema, MemorySegment payload, int size) {
        requireSize(schema, U64_LENGTH, size);
        long value = payload.get(U64, 0);
        // vhost-user.rst, SET_VRING_KICK: "Bits (0-7) of the payload contain the vring index. Bit 8
        // is the invalid FD flag." No other bit is defined.
        long defined = VRING_U64_INDEX_MASK | VRING_U64_NOFD;
        if ((value & ~defined) != 0) {
            throw new ProtocolViolation(new VhostUserProtocolError.ReservedBitsSet(
                    schema.request(), "u64", value, defined));
        }
        return new VhostUserPayload.VringFile((int) (value & VRING_U64_INDEX_MASK), (value & VRING_U64_NOFD) != 0);
    }

    private static VhostUserPayload readMemoryTable(MessageSchema schema, MemorySegment payload, int size) {
        if (size < MEMORY_TABLE_HEADER_LENGTH) {
            throw sizeMismatch(schema, MEMORY_TABLE_HEADER_LENGTH, size);
        }
        long count = Integer.toUnsignedLong(payload.get(U32, MEMORY_TABLE_NUM_REGIONS_OFFSET));
        // vhost-user.rst, "Memory regions description": "num regions | padding | region0 | ... | region7".
        if (count > MAX_MEMORY_TABLE_REGIONS) {
            throw new ProtocolViolation(new VhostUserProtocolError.TooManyRegions(count, MAX_MEMORY_TABLE_REGIONS));
        }
        int regions = (int) count;
        requireSize(schema, MEMORY_TABLE_HEADER_LENGTH + regions * MEMORY_REGION_LENGTH, size);
        List<MemoryRegion> list = new ArrayList<>(regions);
        for (int i = 0; i < regions; i++) {
            list.add(readRegion(payload, MEMORY_TABLE_HEADER_LENGTH + (long) i * MEMORY_REGION_LENGTH));
        }
        return new VhostUserPayload.MemoryTable(list);
    }

    private static MemoryRegion readRegion(MemorySegment payload, long offset) {
        return new MemoryRegion(payload.get(U64, offset + REGION_GUEST_PHYS_ADDR_OFFSET),
                payload.get(U64, offset + REGION_MEMORY_SIZE_OFFSET),
                payload.get(U64, offset + REGION_USERSPACE_ADDR_OFFSET),
                payload.get(U64, offset + REGION_MMAP_OFFSET_OFFSET));
    }

    private static VhostUserPayload readConfig(MessageSchema schema, MemorySegment payload, int size) {
        if (size < CONFIG_HEADER_LENGTH) {
            throw sizeMismatch(schema, CONFIG_HEADER_LENGTH, size);
        }
        int offset = payload.get(U32, CONFIG_OFFSET_OFFSET);
        int configSize = payload.get(U32, CONFIG_SIZE_OFFSET);
        int flags = payload.get(U32, CONFIG_FLAGS_OFFSET);
        PayloadRules.checkConfigBounds(schema.request(), offset, configSize);
        requireSize(schema, CONFIG_HEADER_LENGTH + configSize, size);
        byte[] data = payload.asSlice(CONFIG_HEADER_LENGTH, configSize).toArray(ValueLayout.JAVA_BYTE);
        return new VhostUserPayload.Config(offset, flags, data);
    }

    private static void requireSize(MessageSchema schema, int expected, int actual) {
        if (expected != actual) {
            throw sizeMismatch(schema, expected, actual);
        }
    }

    static ProtocolViolation sizeMismatch(MessageSchema schema, int expected, int actual) {
        return new ProtocolViolation(new VhostUserProtocolError.PayloadSizeMismatch(
                schema.request(), schema.reply(), expected, actual));
    }
}

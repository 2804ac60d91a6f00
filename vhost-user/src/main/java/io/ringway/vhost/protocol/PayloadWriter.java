package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.*;
import static io.ringway.vhost.protocol.WireFormat.U16;
import static io.ringway.vhost.protocol.WireFormat.U32;
import static io.ringway.vhost.protocol.WireFormat.U64;
import static io.ringway.vhost.protocol.WireFormat.U8;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/** Writes payload records in their wire layout; padding is written as zero. */
final class PayloadWriter {
    private PayloadWriter() {
    }

    /** The payload's length on the wire. */
    static int length(VhostUserPayload payload) {
        return switch (payload) {
            case VhostUserPayload.MemoryTable table ->
                    MEMORY_TABLE_HEADER_LENGTH + table.regions().size() * MEMORY_REGION_LENGTH;
            case VhostUserPayload.Config config -> CONFIG_HEADER_LENGTH + config.size();
            case VhostUserPayload.Opaque opaque -> opaque.bytes().length;
            default -> payload.kind().fixedLength();
        };
    }

    /** Writes {@code payload} into {@code out}, a segment of exactly {@link #length} bytes. */
    static void write(VhostUserPayload payload, MemorySegment out) {
        out.fill((byte) 0);
        switch (payload) {
            case VhostUserPayload.Empty empty -> {
            }
            case VhostUserPayload.U64 u64 -> out.set(U64, 0, u64.value());
            case VhostUserPayload.VringFile file -> out.set(U64, 0, file.toU64());
            case VhostUserPayload.VringState state -> {
                out.set(U32, VRING_STATE_INDEX_OFFSET, state.index());
                out.set(U32, VRING_STATE_NUM_OFFSET, state.num());
            }
            case VhostUserPayload.VringAddress address -> {
                out.set(U32, VRING_ADDRESS_INDEX_OFFSET, address.index());
                out.set(U32, VRING_ADDRESS_FLAGS_OFFSET, address.flags());
                out.set(U64, VRING_ADDRESS_DESC_OFFSET, address.descUserAddr());
                out.set(U64, VRING_ADDRESS_USED_OFFSET, address.usedUserAddr());
                out.set(U64, VRING_ADDRESS_AVAIL_OFFSET, address.availUserAddr());
                out.set(U64, VRING_ADDRESS_LOG_OFFSET, address.logGuestAddr());
            }
            case VhostUserPayload.MemoryTable table -> writeMemoryTable(table.regions(), out);
            case VhostUserPayload.SingleMemoryRegion single ->
                    writeRegion(single.region(), out, SINGLE_REGION_REGION_OFFSET);
            case VhostUserPayload.Log log -> {
                out.set(U64, LOG_MMAP_SIZE_OFFSET, log.mmapSize());
                out.set(U64, LOG_MMAP_OFFSET_OFFSET, log.mmapOffset());
            }
            case VhostUserPayload.Iotlb iotlb -> {
                out.set(U64, IOTLB_IOVA_OFFSET, iotlb.iova());
                out.set(U64, IOTLB_SIZE_OFFSET, iotlb.size());
                out.set(U64, IOTLB_UADDR_OFFSET, iotlb.userAddr());
                out.set(U8, IOTLB_PERM_OFFSET, (byte) iotlb.permissions());
                out.set(U8, IOTLB_TYPE_OFFSET, (byte) iotlb.type());
            }
            case VhostUserPayload.Config config -> {
                out.set(U32, CONFIG_OFFSET_OFFSET, config.offset());
                out.set(U32, CONFIG_SIZE_OFFSET, config.size());
                out.set(U32, CONFIG_FLAGS_OFFSET, config.flags());
                MemorySegment.copy(config.data(), 0, out, ValueLayout.JAVA_BYTE, CONFIG_HEADER_LENGTH, config.size());
            }
            case VhostUserPayload.Inflight inflight -> {
                out.set(U64, INFLIGHT_MMAP_SIZE_OFFSET, inflight.mmapSize());
                out.set(U64, INFLIGHT_MMAP_OFFSET_OFFSET, inflight.mmapOffset());
                out.set(U16, INFLIGHT_NUM_QUEUES_OFFSET, (short) inflight.numQueues());
                out.set(U16, INFLIGHT_QUEUE_SIZE_OFFSET, (short) inflight.queueSize());
            }
            case VhostUserPayload.Opaque opaque -> {
                byte[] bytes = opaque.bytes();
                MemorySegment.copy(bytes, 0, out, ValueLayout.JAVA_BYTE, 0, bytes.length);
            }
        }
    }

    private static void writeMemoryTable(List<MemoryRegion> regions, MemorySegment out) {
        out.set(U32, MEMORY_TABLE_NUM_REGIONS_OFFSET, regions.size());
        for (int i = 0; i < regions.size(); i++) {
            writeRegion(regions.get(i), out, MEMORY_TABLE_HEADER_LENGTH + (long) i * MEMORY_REGION_LENGTH);
        }
    }

    private static void writeRegion(MemoryRegion region, MemorySegment out, long offset) {
        out.set(U64, offset + REGION_GUEST_PHYS_ADDR_OFFSET, region.guestPhysAddr());
        out.set(U64, offset + REGION_MEMORY_SIZE_OFFSET, region.memorySize());
        out.set(U64, offset + REGION_USERSPACE_ADDR_OFFSET, region.userspaceAddr());
        out.set(U64, offset + REGION_MMAP_OFFSET_OFFSET, region.mmapOffset());
    }
}

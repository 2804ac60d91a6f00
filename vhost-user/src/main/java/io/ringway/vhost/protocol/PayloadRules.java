package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.CONFIG_FLAG_MIGRATION;
import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.MAX_CONFIG_SIZE;
import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.VRING_F_LOG;

import io.ringway.vhost.protocol.VhostUserProtocolError.AddressSpace;
import java.util.List;

/**
 * The rules on decoded payload values and on attached fds that one message alone lets the codec
 * check. Shared by decode (peer input) and encode (our own messages).
 */
final class PayloadRules {
    private PayloadRules() {
    }

    static void validate(MessageSchema schema, VhostUserPayload payload, int maxVrings) {
        VhostUserRequest request = schema.request();
        switch (payload) {
            case VhostUserPayload.VringFile file -> checkVringIndex(request, file.index(), maxVrings);
            case VhostUserPayload.VringState state -> checkVringState(request, state, maxVrings);
            case VhostUserPayload.VringAddress address -> {
                checkVringIndex(request, Integer.toUnsignedLong(address.index()), maxVrings);
                // linux/vhost_types.h: VHOST_VRING_F_LOG (bit 0) is the only vring address flag.
                checkBits(request, "flags", Integer.toUnsignedLong(address.flags()), VRING_F_LOG);
            }
            case VhostUserPayload.MemoryTable table -> checkMemoryTable(request, table.regions());
            case VhostUserPayload.SingleMemoryRegion single ->
                    // vhost-user.rst, REM_MEM_REG: "The mmap offset is ignored."
                    checkRegion(request, 0, single.region(), request != VhostUserRequest.REM_MEM_REG);
            case VhostUserPayload.Log log -> checkArea(request, log.mmapOffset(), log.mmapSize());
            case VhostUserPayload.Inflight inflight -> checkArea(request, inflight.mmapOffset(), inflight.mmapSize());
            case VhostUserPayload.Iotlb iotlb -> checkIotlb(request, iotlb);
            case VhostUserPayload.Config config -> {
                checkConfigBounds(request, config.offset(), config.size());
                // vhost-user.rst, "Virtio device config space": flags 0 (writable fields) or 1 (live migration).
                checkBits(request, "flags", Integer.toUnsignedLong(config.flags()), CONFIG_FLAG_MIGRATION);
            }
            case VhostUserPayload.Empty empty -> {
            }
            case VhostUserPayload.U64 u64 -> {
            }
            case VhostUserPayload.Opaque opaque -> {
            }
        }
    }

    private static void checkVringState(VhostUserRequest request, VhostUserPayload.VringState state, int maxVrings) {
        checkVringIndex(request, Integer.toUnsignedLong(state.index()), maxVrings);
        long num = Integer.toUnsignedLong(state.num());
        switch (request) {
            // vhost-user.rst, SET_VRING_ENDIAN: "Little-endian is indicated with state.num set to 0
            // and big-endian is indicated with state.num set to 1. Other values are invalid."
            case SET_VRING_ENDIAN -> checkBits(request, "num", num, 1);
            // SET_VRING_ENABLE: "enable or disable corresponding vring"; QEMU sends 1 or 0.
            case SET_VRING_ENABLE -> checkBits(request, "num", num, 1);
            // vhost-user.rst, VRING_KICK: "The state.num field is currently reserved and must be set to 0."
            case VRING_KICK -> checkBits(request, "num", num, 0);
            // SET_VRING_NUM's size (power of two, at most 32768) is the virtqueue's rule, checked there.
            default -> {
            }
        }
    }

    private static void checkVringIndex(VhostUserRequest request, long index, int maxVrings) {
        if (index >= maxVrings) {
            throw new ProtocolViolation(new VhostUserProtocolError.VringIndexOutOfRange(request, index, maxVrings));
        }
    }

    private static void checkMemoryTable(VhostUserRequest request, List<MemoryRegion> regions) {
        for (int i = 0; i < regions.size(); i++) {
            checkRegion(request, i, regions.get(i), true);
        }
        // Guest addresses and user addresses each "map to the vhost memory region containing that
        // address" (vhost-user.rst, "Memory access"): at most one region may contain any address.
        for (int i = 0; i < regions.size(); i++) {
            for (int j = i + 1; j < regions.size(); j++) {
                MemoryRegion a = regions.get(i);
                MemoryRegion b = regions.get(j);
                if (overlap(a.guestPhysAddr(), a.lastGuestPhysAddr(), b.guestPhysAddr(), b.lastGuestPhysAddr())) {
                    throw new ProtocolViolation(new VhostUserProtocolError.RegionOverlap(i, j, AddressSpace.GUEST_PHYSICAL));
                }
                if (overlap(a.userspaceAddr(), a.lastUserspaceAddr(), b.userspaceAddr(), b.lastUserspaceAddr())) {
                    throw new ProtocolViolation(new VhostUserProtocolError.RegionOverlap(i, j, AddressSpace.USERSPACE));
                }
            }
        }
    }

    private static void checkRegion(VhostUserRequest request, int index, MemoryRegion region, boolean checkMmapOffset) {
        long size = region.memorySize();
        if (size == 0) {
            throw new ProtocolViolation(new VhostUserProtocolError.RegionZeroSize(request, index));
        }
        checkNoWrap(request, index, AddressSpace.GUEST_PHYSICAL, region.guestPhysAddr(), size);
        checkNoWrap(request, index, AddressSpace.USERSPACE, region.userspaceAddr(), size);
        if (checkMmapOffset) {
            checkNoWrap(request, index, AddressSpace.MMAP_OFFSET, region.mmapOffset(), size);
        }
    }

    /** The last byte, start + size - 1, must not wrap past 2^64 - 1. Requires size > 0. */
    private static void checkNoWrap(VhostUserRequest request, int index, AddressSpace space, long start, long size) {
        if (Long.compareUnsigned(start + size - 1, start) < 0) {
            throw new ProtocolViolation(new VhostUserProtocolError.RegionAddressOverflow(request, index, space, start, size));
        }
    }

    /** Inclusive ranges [aFirst, aLast] and [bFirst, bLast], unsigned. */
    private static boolean overlap(long aFirst, long aLast, long bFirst, long bLast) {
        return Long.compareUnsigned(aFirst, bLast) <= 0 && Long.compareUnsigned(bFirst, aLast) <= 0;
    }

    private static void checkArea(VhostUserRequest request, long offset, long size) {
        if (Long.compareUnsigned(offset + size, offset) < 0) {
            throw new ProtocolViolation(new VhostUserProtocolError.AreaOverflow(request, offset, size));
        }
    }

    private static void checkIotlb(VhostUserRequest request, VhostUserPayload.Iotlb iotlb) {
        // vhost-user.rst, "An IOTLB message": type 1 miss, 2 update, 3 invalidate, 4 access fail;
        // permissions 0 none, 1 read, 2 write, 3 read/write.
        if (iotlb.type() < VhostUserPayload.Iotlb.TYPE_MISS || iotlb.type() > VhostUserPayload.Iotlb.TYPE_ACCESS_FAIL) {
            throw new ProtocolViolation(new VhostUserProtocolError.IotlbTypeInvalid(iotlb.type()));
        }
        checkBits(request, "permissions", iotlb.permissions(),
                VhostUserPayload.Iotlb.PERM_READ | VhostUserPayload.Iotlb.PERM_WRITE);
    }

    /**
     * vhost-user.rst, "Virtio device config space" and VHOST_USER_MAX_CONFIG_SIZE (QEMU, DPDK): an
     * access of 1..256 bytes that ends within the 256-byte config space.
     */
    static void checkConfigBounds(VhostUserRequest request, int offset, int size) {
        long end = Integer.toUnsignedLong(offset) + Integer.toUnsignedLong(size);
        if (size == 0 || end > MAX_CONFIG_SIZE) {
            throw new ProtocolViolation(new VhostUserProtocolError.ConfigSizeInvalid(request, offset, size, MAX_CONFIG_SIZE));
        }
    }

    private static void checkBits(VhostUserRequest request, String field, long value, long allowedMask) {
        if ((value & ~allowedMask) != 0) {
            throw new ProtocolViolation(new VhostUserProtocolError.ReservedBitsSet(request, field, value, allowedMask));
        }
    }

    /** vhost-user.rst, "Communication": which messages carry fds in the ancillary data, and how many. */
    static void checkFds(MessageSchema schema, VhostUserPayload payload, int fdCount) {
        switch (schema.fds()) {
            case NONE -> requireFdCount(schema, 0, 0, fdCount);
            case EXACTLY_ONE -> requireFdCount(schema, 1, 1, fdCount);
            case AT_MOST_ONE_DISCARDED -> requireFdCount(schema, 0, 1, fdCount);
            // SET_MEM_TABLE: "The size and ordering of the fds matches the number and ordering of
            // memory regions."
            case ONE_PER_REGION -> {
                int regions = ((VhostUserPayload.MemoryTable) payload).regions().size();
                requireFdCount(schema, regions, regions, fdCount);
            }
            case ONE_UNLESS_NOFD -> checkVringFileFd(schema, (VhostUserPayload.VringFile) payload, fdCount);
        }
    }

    private static void checkVringFileFd(MessageSchema schema, VhostUserPayload.VringFile file, int fdCount) {
        // SET_VRING_KICK/CALL/ERR: "This flag is set when there is no file descriptor in the
        // ancillary data."
        if (file.noFd() && fdCount > 0) {
            throw new ProtocolViolation(new VhostUserProtocolError.NoFdFlagWithFd(schema.request(), file.index(), fdCount));
        }
        if (!file.noFd() && fdCount == 0) {
            throw new ProtocolViolation(new VhostUserProtocolError.MissingFd(schema.request(), file.index()));
        }
        requireFdCount(schema, file.noFd() ? 0 : 1, file.noFd() ? 0 : 1, fdCount);
    }

    private static void requireFdCount(MessageSchema schema, int min, int max, int actual) {
        if (actual < min || actual > max) {
            throw new ProtocolViolation(new VhostUserProtocolError.FdCountMismatch(
                    schema.request(), schema.reply(), min, max, actual));
        }
    }
}

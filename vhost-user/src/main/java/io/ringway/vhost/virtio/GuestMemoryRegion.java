package io.ringway.vhost.virtio;

import java.lang.foreign.MemorySegment;

/**
 * One contiguous piece of guest memory, already mapped into this process.
 *
 * <p>The metadata is what a vhost-user SET_MEM_TABLE entry carries: the guest-physical base, the
 * size, the frontend's (QEMU's) user address of the same memory and the offset into the fd at
 * which the mapping starts. Mapping the fd is done elsewhere; the region takes the resulting
 * segment and, optionally, an owner to close when the memory table is retired.
 *
 * @param guestPhysAddr guest-physical address of the first byte
 * @param size size in bytes, not 0
 * @param userAddr frontend user (virtual) address of the first byte, used by SET_VRING_ADDR
 * @param mmapOffset offset into the backing fd at which this region starts (informational)
 * @param segment the mapping, at least {@code size} bytes; only its first {@code size} bytes are used
 * @param owner released by {@link GuestMemory#close()}, or null
 */
public record GuestMemoryRegion(long guestPhysAddr, long size, long userAddr, long mmapOffset,
        MemorySegment segment, AutoCloseable owner) {

    /**
     * Validates the region.
     *
     * @throws GuestMemoryException REGION_SIZE_ZERO, REGION_END_OVERFLOWS or SEGMENT_SMALLER_THAN_REGION
     */
    public GuestMemoryRegion {
        if (segment == null) {
            throw new NullPointerException("segment");
        }
        if (size == 0) {
            throw new GuestMemoryException(GuestMemoryException.Rule.REGION_SIZE_ZERO, guestPhysAddr);
        }
        // The last byte, base + size - 1, must not wrap past 2^64 - 1 (sizes are unsigned u64).
        if (Long.compareUnsigned(guestPhysAddr + size - 1, guestPhysAddr) < 0) {
            throw new GuestMemoryException(GuestMemoryException.Rule.REGION_END_OVERFLOWS, guestPhysAddr, size);
        }
        if (Long.compareUnsigned(userAddr + size - 1, userAddr) < 0) {
            throw new GuestMemoryException(GuestMemoryException.Rule.REGION_END_OVERFLOWS, userAddr, size);
        }
        if (Long.compareUnsigned(segment.byteSize(), size) < 0) {
            throw new GuestMemoryException(GuestMemoryException.Rule.SEGMENT_SMALLER_THAN_REGION, size,
                    segment.byteSize());
        }
        if (segment.byteSize() != size) {
            segment = segment.asSlice(0, size);
        }
    }

    /**
     * A region without an owner whose user address equals its guest-physical address (handy for
     * tests and for memory this process allocated itself).
     *
     * @param guestPhysAddr guest-physical base
     * @param segment the memory; its size is the region size
     * @return the region
     */
    public static GuestMemoryRegion of(long guestPhysAddr, MemorySegment segment) {
        return new GuestMemoryRegion(guestPhysAddr, segment.byteSize(), guestPhysAddr, 0, segment, null);
    }

    /** @return guest-physical address of the last byte (never wraps) */
    public long lastGuestPhysAddr() {
        return guestPhysAddr + size - 1;
    }

    /** @return frontend user address of the last byte (never wraps) */
    public long lastUserAddr() {
        return userAddr + size - 1;
    }
}

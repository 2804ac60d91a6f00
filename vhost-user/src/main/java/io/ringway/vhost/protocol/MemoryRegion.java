package io.ringway.vhost.protocol;

/**
 * One guest memory region as vhost-user.rst describes it ("A region is: guest address | size |
 * user address | mmap offset"). All four values are unsigned 64-bit numbers held in {@code long}s.
 *
 * @param guestPhysAddr guest-physical address of the first byte
 * @param memorySize    size in bytes
 * @param userspaceAddr address of the first byte in the front-end's address space
 * @param mmapOffset    offset of the first byte in the region's fd
 */
public record MemoryRegion(long guestPhysAddr, long memorySize, long userspaceAddr, long mmapOffset) {

    /** Last guest-physical address in the region; meaningful for a non-zero size without wrap. */
    public long lastGuestPhysAddr() {
        return guestPhysAddr + memorySize - 1;
    }

    /** Last user address in the region; meaningful for a non-zero size without wrap. */
    public long lastUserspaceAddr() {
        return userspaceAddr + memorySize - 1;
    }

    @Override
    public String toString() {
        return "MemoryRegion[gpa=0x" + Long.toHexString(guestPhysAddr)
                + ", size=0x" + Long.toHexString(memorySize)
                + ", uaddr=0x" + Long.toHexString(userspaceAddr)
                + ", mmapOffset=0x" + Long.toHexString(mmapOffset) + "]";
    }
}

package io.ringway.vhost.frontend;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.vhost.protocol.MemoryRegion;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryRegion;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Guest memory as a vhost-user front-end owns it: {@link SharedRegion}s placed at chosen
 * guest-physical addresses. The memory table sent to the back-end carries, for each region, its
 * fd, the guest-physical address and, as {@code userspace_addr}, the address of the region's
 * mapping in this process: ring addresses in SET_VRING_ADDR are such user addresses.
 *
 * <p>{@link #guestMemory()} is the same memory seen the way a driver (DriverSplitQueue,
 * DriverPackedQueue) addresses it: by guest-physical address. The regions stay owned by the
 * caller; {@link #close()} closes them only if {@link #owning} was used.
 */
public final class FrontendMemory implements AutoCloseable {

    /**
     * One region.
     *
     * @param region        the shared region (its fd goes to the back-end)
     * @param guestPhysAddr where it sits in guest-physical address space
     */
    public record Region(SharedRegion region, long guestPhysAddr) {
        /** Requires a region. */
        public Region {
            Objects.requireNonNull(region, "region");
        }

        /** The user address: where the region is mapped in this process. */
        public long userAddr() {
            return region.segment().address();
        }

        /** The memory table entry for this region (mmap offset 0). */
        public MemoryRegion tableEntry() {
            return new MemoryRegion(guestPhysAddr, region.size(), userAddr(), 0);
        }
    }

    private final List<Region> regions;
    private final GuestMemory guestMemory;
    private final boolean owning;

    private FrontendMemory(List<Region> regions, boolean owning) {
        this.regions = List.copyOf(regions);
        List<GuestMemoryRegion> guest = new ArrayList<>();
        for (Region r : this.regions) {
            guest.add(new GuestMemoryRegion(r.guestPhysAddr(), r.region().size(), r.userAddr(), 0,
                    r.region().segment(), null));
        }
        this.guestMemory = GuestMemory.of(guest);
        this.owning = owning;
    }

    /** Memory made of {@code regions}; the caller keeps ownership of them. */
    public static FrontendMemory of(List<Region> regions) {
        return new FrontendMemory(regions, false);
    }

    /** Memory made of {@code regions}; {@link #close()} closes them. */
    public static FrontendMemory owning(List<Region> regions) {
        return new FrontendMemory(regions, true);
    }

    /** One memfd region of {@code size} bytes at guest-physical 0, owned by the result. */
    public static FrontendMemory create(String name, long size) {
        return owning(List.of(new Region(SharedRegion.create(name, size), 0)));
    }

    /** The regions, in the order given. */
    public List<Region> regions() {
        return regions;
    }

    /** The memory addressed by guest-physical address, for driver queues and buffers. */
    public GuestMemory guestMemory() {
        return guestMemory;
    }

    /** The SET_MEM_TABLE entries, in region order. */
    public List<MemoryRegion> table() {
        return regions.stream().map(Region::tableEntry).toList();
    }

    /** The fds to send with SET_MEM_TABLE, in region order. */
    public int[] fds() {
        return regions.stream().mapToInt(r -> r.region().fd()).toArray();
    }

    /**
     * Translates a guest-physical range to the user address the back-end knows it by.
     *
     * @throws io.ringway.vhost.virtio.GuestMemoryException if the range is not inside one region
     */
    public long userAddr(long gpa, long len) {
        int r = guestMemory.findGpa(gpa, len);
        if (r < 0) {
            guestMemory.sliceGpa(gpa, len); // throws the range error
        }
        return guestMemory.region(r).userAddr() + guestMemory.gpaOffset(r, gpa);
    }

    @Override
    public void close() {
        if (owning) {
            for (Region r : regions) {
                r.region().close();
            }
        }
    }
}

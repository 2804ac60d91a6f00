package io.ringway.vhost.virtio;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Guest memory as this process sees it: an ordered, non-overlapping set of mapped regions.
 *
 * <p>Every address that comes from a guest (a descriptor address) or from the frontend (a ring
 * address in SET_VRING_ADDR) is translated here together with its length, and the whole range
 * must lie inside one region. A range that leaves a region or memory is rejected: DPDK's
 * CVE-2018-1059 was a descriptor whose range ran past the end of a region. A range that runs from
 * one region into an <em>adjacent</em> one is rejected too, because each region is a separate
 * mapping and one slice cannot cover both (guests do not hand out such buffers in practice; a
 * device that wanted to accept them would have to split the buffer itself).
 *
 * <p>Hot path: {@link #findGpa(long, long)} returns a region index (or a negative status) without
 * allocating; {@link #segment(int)} and {@link #gpaOffset(int, long)} then give the bytes. The last
 * region hit is cached, so the usual lookup is O(1); a miss is a binary search. The cache of
 * {@link #findGpa(long, long)} is a plain int shared by all threads (a stale value is harmless
 * because every hit is re-checked); the queues keep their own hint instead and call
 * {@link #findGpa(long, long, int)}, so lcores on different regions do not fight over one.
 *
 * <p>Instances are immutable. A new memory table makes a new {@code GuestMemory}; the old one is
 * {@link #close() closed} once no data-plane thread uses it any more.
 */
public final class GuestMemory implements AutoCloseable {
    /** {@link #findGpa}/{@link #findUserAddr} status: the range is not inside any region. */
    public static final int OUTSIDE_MEMORY = -1;
    /** {@link #findGpa}/{@link #findUserAddr} status: the range starts in a region and runs into the adjacent one. */
    public static final int SPANS_REGIONS = -2;

    private final GuestMemoryRegion[] regions;
    private final MemorySegment[] segments;
    private final long[] gpaBase;
    private final long[] gpaSize;
    private final int[] byUser;
    private final long[] uvaBase;
    private int gpaHint;
    private int uvaHint;

    private GuestMemory(GuestMemoryRegion[] sorted) {
        this.regions = sorted;
        int n = sorted.length;
        segments = new MemorySegment[n];
        gpaBase = new long[n];
        gpaSize = new long[n];
        for (int i = 0; i < n; i++) {
            segments[i] = sorted[i].segment();
            gpaBase[i] = sorted[i].guestPhysAddr();
            gpaSize[i] = sorted[i].size();
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Long.compareUnsigned(sorted[a].userAddr(), sorted[b].userAddr()));
        byUser = new int[n];
        uvaBase = new long[n];
        for (int i = 0; i < n; i++) {
            byUser[i] = order[i];
            uvaBase[i] = sorted[order[i]].userAddr();
        }
    }

    /**
     * Builds guest memory from regions, in any order.
     *
     * @param regions the regions (may be empty)
     * @return the memory, regions ordered by guest-physical address
     * @throws GuestMemoryException REGIONS_OVERLAP or USER_RANGES_OVERLAP naming both regions
     */
    public static GuestMemory of(List<GuestMemoryRegion> regions) {
        List<GuestMemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparing(GuestMemoryRegion::guestPhysAddr, Long::compareUnsigned));
        for (int i = 1; i < sorted.size(); i++) {
            GuestMemoryRegion prev = sorted.get(i - 1);
            GuestMemoryRegion cur = sorted.get(i);
            if (Long.compareUnsigned(cur.guestPhysAddr(), prev.lastGuestPhysAddr()) <= 0) {
                throw new GuestMemoryException(GuestMemoryException.Rule.REGIONS_OVERLAP, prev.guestPhysAddr(),
                        prev.size(), cur.guestPhysAddr(), cur.size());
            }
        }
        List<GuestMemoryRegion> byUva = new ArrayList<>(sorted);
        byUva.sort(Comparator.comparing(GuestMemoryRegion::userAddr, Long::compareUnsigned));
        for (int i = 1; i < byUva.size(); i++) {
            GuestMemoryRegion prev = byUva.get(i - 1);
            GuestMemoryRegion cur = byUva.get(i);
            if (Long.compareUnsigned(cur.userAddr(), prev.lastUserAddr()) <= 0) {
                throw new GuestMemoryException(GuestMemoryException.Rule.USER_RANGES_OVERLAP, prev.userAddr(),
                        prev.size(), cur.userAddr(), cur.size());
            }
        }
        return new GuestMemory(sorted.toArray(new GuestMemoryRegion[0]));
    }

    /**
     * Builds guest memory from regions.
     *
     * @param regions the regions
     * @return the memory
     * @throws GuestMemoryException as {@link #of(List)}
     */
    public static GuestMemory of(GuestMemoryRegion... regions) {
        return of(List.of(regions));
    }

    /** @return the number of regions */
    public int regionCount() {
        return regions.length;
    }

    /**
     * @param index region index, in guest-physical order
     * @return the region
     */
    public GuestMemoryRegion region(int index) {
        return regions[index];
    }

    /**
     * The mapping of a region, exactly {@code size} bytes long (no allocation).
     *
     * @param index region index from {@link #findGpa} or {@link #findUserAddr}
     * @return the region's segment
     */
    public MemorySegment segment(int index) {
        return segments[index];
    }

    /**
     * @param index region index from {@link #findGpa}
     * @param gpa a guest-physical address inside that region
     * @return the offset of {@code gpa} in {@link #segment(int)}
     */
    public long gpaOffset(int index, long gpa) {
        return gpa - gpaBase[index];
    }

    /**
     * @param index region index from {@link #findUserAddr}
     * @param uva a frontend user address inside that region
     * @return the offset of {@code uva} in {@link #segment(int)}
     */
    public long userAddrOffset(int index, long uva) {
        return uva - regions[index].userAddr();
    }

    /**
     * Finds the region holding the whole guest-physical range {@code [gpa, gpa + len)}. No
     * allocation, no exception.
     *
     * @param gpa guest-physical start address (unsigned)
     * @param len length in bytes (unsigned); 0 is allowed if {@code gpa} is inside a region
     * @return a region index, or {@link #OUTSIDE_MEMORY} or {@link #SPANS_REGIONS}
     */
    public int findGpa(long gpa, long len) {
        int hint = gpaHint;
        int r = findGpa(gpa, len, hint);
        if (r >= 0 && r != hint) {
            gpaHint = r;
        }
        return r;
    }

    /**
     * {@link #findGpa(long, long)} with a region hint the caller keeps, for callers that look up
     * many addresses from one thread (a queue's poller). The shared hint of {@code findGpa(gpa, len)}
     * is neither read nor written, so threads that work on different regions do not overwrite each
     * other's hint or share a written cache line. Keep the result as the next hint when it is not
     * negative. No allocation, no exception.
     *
     * @param gpa guest-physical start address (unsigned)
     * @param len length in bytes (unsigned); 0 is allowed if {@code gpa} is inside a region
     * @param hint the region to try first: an earlier result on this memory, or any int (0 to start)
     * @return a region index, or {@link #OUTSIDE_MEMORY} or {@link #SPANS_REGIONS}
     */
    public int findGpa(long gpa, long len, int hint) {
        int r = hint;
        if (r < 0 || r >= gpaBase.length || Long.compareUnsigned(gpa - gpaBase[r], gpaSize[r]) >= 0) {
            r = gpaRegion(gpa);
            if (r < 0) {
                return OUTSIDE_MEMORY;
            }
        }
        if (Long.compareUnsigned(len, gpaSize[r] - (gpa - gpaBase[r])) <= 0) {
            return r;
        }
        return gpaRangeStatus(r);
    }

    /** The region whose guest-physical range holds gpa, or -1 (binary search). */
    private int gpaRegion(long gpa) {
        int r = search(gpaBase, gpa);
        if (r < 0 || Long.compareUnsigned(gpa - gpaBase[r], gpaSize[r]) >= 0) {
            return -1;
        }
        return r;
    }

    /** For a range that starts in region r and does not end there: tell "runs into the next region" apart from "runs off the end of memory". */
    private int gpaRangeStatus(int r) {
        if (r + 1 < gpaBase.length && gpaBase[r + 1] == gpaBase[r] + gpaSize[r]) {
            return SPANS_REGIONS;
        }
        return OUTSIDE_MEMORY;
    }

    /**
     * Finds the region holding the whole frontend user address range {@code [uva, uva + len)}
     * (ring addresses of vhost-user SET_VRING_ADDR). No allocation, no exception.
     *
     * @param uva frontend user start address (unsigned)
     * @param len length in bytes (unsigned)
     * @return a region index, or {@link #OUTSIDE_MEMORY} or {@link #SPANS_REGIONS}
     */
    public int findUserAddr(long uva, long len) {
        int k = uvaHint;
        if (k >= uvaBase.length || !containsUser(k, uva)) {
            k = search(uvaBase, uva);
            if (k < 0 || !containsUser(k, uva)) {
                return OUTSIDE_MEMORY;
            }
            uvaHint = k;
        }
        int r = byUser[k];
        long remaining = gpaSize[r] - (uva - uvaBase[k]);
        if (Long.compareUnsigned(len, remaining) <= 0) {
            return r;
        }
        if (k + 1 < uvaBase.length && uvaBase[k + 1] == uvaBase[k] + gpaSize[r]) {
            return SPANS_REGIONS;
        }
        return OUTSIDE_MEMORY;
    }

    private boolean containsUser(int k, long uva) {
        return Long.compareUnsigned(uva - uvaBase[k], gpaSize[byUser[k]]) < 0;
    }

    /** Index of the last base that is unsigned-less-or-equal to addr, or -1. */
    private static int search(long[] bases, long addr) {
        int lo = 0;
        int hi = bases.length - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(bases[mid], addr) <= 0) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    /**
     * A bounds-checked slice of guest memory at a guest-physical address (allocates the slice).
     *
     * @param gpa guest-physical start address
     * @param len length in bytes
     * @return a slice of exactly {@code len} bytes
     * @throws GuestMemoryException RANGE_OUTSIDE_MEMORY or RANGE_SPANS_REGIONS naming gpa and len
     */
    public MemorySegment sliceGpa(long gpa, long len) {
        int r = findGpa(gpa, len);
        if (r < 0) {
            throw rangeError(r, gpa, len);
        }
        return segments[r].asSlice(gpa - gpaBase[r], len);
    }

    /**
     * A bounds-checked slice of guest memory at a frontend user address (allocates the slice).
     *
     * @param uva frontend user start address
     * @param len length in bytes
     * @return a slice of exactly {@code len} bytes
     * @throws GuestMemoryException RANGE_OUTSIDE_MEMORY or RANGE_SPANS_REGIONS naming uva and len
     */
    public MemorySegment sliceUserAddr(long uva, long len) {
        int r = findUserAddr(uva, len);
        if (r < 0) {
            throw rangeError(r, uva, len);
        }
        return segments[r].asSlice(uva - regions[r].userAddr(), len);
    }

    /**
     * Translates a frontend user address to a guest-physical one (the whole range must be in one region).
     *
     * @param uva frontend user address
     * @param len length of the range
     * @return the guest-physical address
     * @throws GuestMemoryException if the range is not inside one region
     */
    public long userAddrToGpa(long uva, long len) {
        int r = findUserAddr(uva, len);
        if (r < 0) {
            throw rangeError(r, uva, len);
        }
        return uva - regions[r].userAddr() + gpaBase[r];
    }

    private static GuestMemoryException rangeError(int status, long addr, long len) {
        return new GuestMemoryException(status == SPANS_REGIONS ? GuestMemoryException.Rule.RANGE_SPANS_REGIONS
                : GuestMemoryException.Rule.RANGE_OUTSIDE_MEMORY, addr, len);
    }

    /**
     * Releases every region's owner (the mappings). Call only after every data-plane thread has
     * stopped using this memory. The first failure is rethrown after all owners were tried.
     */
    @Override
    public void close() throws Exception {
        Exception first = null;
        for (GuestMemoryRegion region : regions) {
            if (region.owner() != null) {
                try {
                    region.owner().close();
                } catch (Exception e) {
                    if (first == null) {
                        first = e;
                    } else {
                        first.addSuppressed(e);
                    }
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}

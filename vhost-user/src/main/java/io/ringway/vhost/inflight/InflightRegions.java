package io.ringway.vhost.inflight;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/** Where a queue's region lies in the in-flight area: the checks split and packed regions share. */
final class InflightRegions {
    private InflightRegions() {
    }

    /**
     * @param area the whole mapped area (its size comes from the front-end)
     * @param queueIndex the queue
     * @param stride bytes of one queue region (fixed by the area's queue_size)
     * @param regionQueueSize queue_size of the area's description
     * @param ringSize the size of the ring the region tracks
     * @return the queue's region
     * @throws InflightAreaException if the ring does not fit, the area is too small or misaligned
     */
    static MemorySegment slice(MemorySegment area, int queueIndex, long stride, int regionQueueSize, int ringSize) {
        long start = stride * queueIndex;
        if (ringSize < 1 || ringSize > regionQueueSize) {
            throw new InflightAreaException(InflightAreaException.Rule.DESC_NUM_MISMATCH, "ring size " + ringSize
                    + " does not fit a region sized for " + regionQueueSize + " descriptors");
        }
        if (queueIndex < 0 || start + stride > area.byteSize()) {
            throw new InflightAreaException(InflightAreaException.Rule.AREA_TOO_SMALL, "queue " + queueIndex
                    + " needs bytes " + start + " to " + (start + stride) + ", the area has " + area.byteSize());
        }
        MemorySegment region = area.asSlice(start, stride);
        if ((region.address() & 7) != 0) {
            throw new InflightAreaException(InflightAreaException.Rule.AREA_MISALIGNED, "queue " + queueIndex
                    + " region at address 0x" + Long.toHexString(region.address()));
        }
        return region;
    }

    /**
     * Reads the header fields both layouts share (version at byte 8, desc_num at byte 10), each
     * once, and checks the copies.
     *
     * @return true if the region is fresh (version 0) and must be formatted
     * @throws InflightAreaException if the version is unknown or desc_num differs from the ring size
     */
    static boolean isFresh(MemorySegment region, int queueIndex, int ringSize) {
        ValueLayout.OfShort u16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        int version = Short.toUnsignedInt(region.get(u16, SplitInflightDescriptor.VERSION_OFFSET));
        int descNum = Short.toUnsignedInt(region.get(u16, SplitInflightDescriptor.DESC_NUM_OFFSET));
        if (version == 0) {
            return true;
        }
        if (version != SplitInflightDescriptor.VERSION) {
            throw new InflightAreaException(InflightAreaException.Rule.UNKNOWN_VERSION, "queue " + queueIndex
                    + ": version " + version + ", only " + SplitInflightDescriptor.VERSION + " is defined");
        }
        if (descNum != ringSize) {
            throw new InflightAreaException(InflightAreaException.Rule.DESC_NUM_MISMATCH, "queue " + queueIndex
                    + ": desc_num " + descNum + ", the ring has " + ringSize + " descriptors");
        }
        return false;
    }

    /**
     * vhost-user.rst, "When reconnecting": in-flight requests are resubmitted in the order of their
     * counters (unsigned; equal counters, which only a damaged area has, by index).
     *
     * @param heads the first {@code n} are the requests' indexes
     * @param counters their counters
     * @param n how many
     * @return the indexes, oldest first
     */
    static int[] inCounterOrder(int[] heads, long[] counters, int n) {
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> {
            int c = Long.compareUnsigned(counters[a], counters[b]);
            return c != 0 ? c : Integer.compare(heads[a], heads[b]);
        });
        int[] result = new int[n];
        for (int i = 0; i < n; i++) {
            result[i] = heads[order[i]];
        }
        return result;
    }
}

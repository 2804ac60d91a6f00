package io.ringway.vcpu.exit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Address ranges claimed by devices, looked up on every exit. Registration (control plane) builds a
 * new sorted snapshot and publishes it; lookup (vCPU thread) is a binary search over the snapshot,
 * without locks or allocation.
 */
public abstract sealed class AddressBus permits IoBus, MmioBus {
    /** A registered range. */
    public record Range(String name, long base, long length, BusDevice device) {
        long end() {
            return base + length;
        }
    }

    private record Snapshot(long[] bases, long[] ends, BusDevice[] devices, Range[] ranges) {
    }

    private final String space;
    private final long limit;
    private volatile Snapshot snapshot = new Snapshot(new long[0], new long[0], new BusDevice[0], new Range[0]);

    AddressBus(String space, long limit) {
        this.space = space;
        this.limit = limit;
    }

    /** Claims [{@code base}, {@code base + length}) for {@code device}; ranges may not overlap. */
    public synchronized void register(String name, long base, long length, BusDevice device) {
        if (length <= 0 || base < 0 || base + length > limit || base + length < base) {
            throw new IllegalArgumentException(space + " range must lie in [0, 0x" + Long.toHexString(limit)
                + ") with a positive length, got base=0x" + Long.toHexString(base) + " length=" + length);
        }
        for (Range r : snapshot.ranges()) {
            if (base < r.end() && r.base() < base + length) {
                throw new IllegalArgumentException(space + " range " + name + " [0x" + Long.toHexString(base) + ", 0x"
                    + Long.toHexString(base + length) + ") overlaps " + r.name() + " [0x" + Long.toHexString(r.base())
                    + ", 0x" + Long.toHexString(r.end()) + ")");
            }
        }
        List<Range> all = new ArrayList<>(Arrays.asList(snapshot.ranges()));
        all.add(new Range(name, base, length, device));
        all.sort(Comparator.comparingLong(Range::base));
        publish(all);
    }

    /** Removes the range starting at {@code base}; returns whether there was one. */
    public synchronized boolean unregister(long base) {
        List<Range> all = new ArrayList<>(Arrays.asList(snapshot.ranges()));
        boolean removed = all.removeIf(r -> r.base() == base);
        publish(all);
        return removed;
    }

    private void publish(List<Range> all) {
        int n = all.size();
        long[] bases = new long[n];
        long[] ends = new long[n];
        BusDevice[] devices = new BusDevice[n];
        for (int i = 0; i < n; i++) {
            bases[i] = all.get(i).base();
            ends[i] = all.get(i).end();
            devices[i] = all.get(i).device();
        }
        snapshot = new Snapshot(bases, ends, devices, all.toArray(new Range[0]));
    }

    /** The registered ranges, by base. */
    public List<Range> ranges() {
        return List.of(snapshot.ranges());
    }

    /**
     * A guest write of {@code size} bytes at {@code address}: returns false when no device claims it
     * (the write is dropped).
     */
    public boolean write(long address, int size, long value) {
        Snapshot s = snapshot;
        int i = find(s, address);
        if (i < 0) {
            return false;
        }
        s.devices()[i].write(address - s.bases()[i], size, value);
        return true;
    }

    /**
     * A guest read of {@code size} bytes at {@code address}: the device's value, or all ones when no
     * device claims it (what an empty bus reads as on real hardware). {@link #claimed} tells the two apart.
     */
    public long read(long address, int size) {
        Snapshot s = snapshot;
        int i = find(s, address);
        if (i < 0) {
            return -1L;
        }
        return s.devices()[i].read(address - s.bases()[i], size);
    }

    /** Whether a device claims {@code address}. */
    public boolean claimed(long address) {
        return find(snapshot, address) >= 0;
    }

    private static int find(Snapshot s, long address) {
        long[] bases = s.bases();
        int lo = 0;
        int hi = bases.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (bases[mid] <= address) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        // hi: the last range whose base <= address
        return hi >= 0 && address < s.ends()[hi] ? hi : -1;
    }
}

package io.ringway.vhost.virtio;

import static io.ringway.vhost.virtio.LittleEndian.U16;
import static io.ringway.vhost.virtio.LittleEndian.U16_ATOMIC;
import static io.ringway.vhost.virtio.LittleEndian.U32;
import static io.ringway.vhost.virtio.LittleEndian.U64;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * The driver side of a split virtqueue (virtio 1.2, 2.7.13 and 2.7.14): lays the rings out in
 * guest memory, makes buffers available, harvests used ones and decides when to kick.
 *
 * <p>It is the mock guest of the device tests and the driver of the vhost-user frontend and load
 * generators, so it allocates nothing per operation. Free descriptors are a linked list kept in
 * a private shadow array (the driver never trusts the table it shares with the device).
 *
 * <p>The raw methods ({@link #writeDescriptor}, {@link #publishHead}, {@link #setAvailIdx}) write
 * whatever they are given, to build broken rings in tests.
 */
public final class DriverSplitQueue {
    private final GuestMemory memory;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final int size;
    private final int mask;
    private final boolean eventIdx;
    private final long descAddr;
    private final long availAddr;
    private final long usedAddr;

    private final int[] shadowNext;
    private final int[] chainTail;
    private final int[] chainCount;
    private int freeHead;
    private int numFree;

    private int availIdx;
    private int publishedAvail;
    private int kickCheckedAvail;
    private int lastUsed;
    private boolean usedNotifications = true;

    /**
     * Lays out and zeroes a split ring at the given guest-physical addresses.
     *
     * @param memory guest memory holding the rings and the buffers
     * @param size queue size, a power of 2 up to 32768
     * @param descAddr descriptor table, 16-aligned
     * @param availAddr available ring, 2-aligned
     * @param usedAddr used ring, 4-aligned
     * @param features negotiated features (EVENT_IDX is honoured)
     * @throws IllegalArgumentException on a bad size or alignment
     * @throws GuestMemoryException if a ring part is not inside one region
     */
    public DriverSplitQueue(GuestMemory memory, int size, long descAddr, long availAddr, long usedAddr,
            long features) {
        if (size <= 0 || size > AbstractVirtqueue.MAX_QUEUE_SIZE || (size & (size - 1)) != 0) {
            throw new IllegalArgumentException("queue size must be a power of 2 in 1..32768, got " + size);
        }
        if ((descAddr & 15) != 0 || (availAddr & 1) != 0 || (usedAddr & 3) != 0) {
            throw new IllegalArgumentException("ring parts must be aligned 16/2/4, got desc=0x"
                    + Long.toHexString(descAddr) + " avail=0x" + Long.toHexString(availAddr) + " used=0x"
                    + Long.toHexString(usedAddr));
        }
        this.memory = memory;
        this.size = size;
        this.mask = size - 1;
        this.eventIdx = VirtioFeatures.has(features, VirtioFeatures.EVENT_IDX);
        this.descAddr = descAddr;
        this.availAddr = availAddr;
        this.usedAddr = usedAddr;
        desc = memory.sliceGpa(descAddr, SplitRing.descTableSize(size));
        avail = memory.sliceGpa(availAddr, SplitRing.availRingSize(size));
        used = memory.sliceGpa(usedAddr, SplitRing.usedRingSize(size));
        desc.fill((byte) 0);
        avail.fill((byte) 0);
        // virtio 1.2, 2.7.10.1: "The driver MUST initialize flags in the used ring to 0".
        used.fill((byte) 0);
        shadowNext = new int[size];
        chainTail = new int[size];
        chainCount = new int[size];
        for (int i = 0; i < size; i++) {
            shadowNext[i] = (i + 1) & mask;
        }
        freeHead = 0;
        numFree = size;
    }

    /** @return a configuration for the device side with the same ring addresses */
    public QueueConfig config(long features) {
        return QueueConfig.guestPhysical(size, descAddr, availAddr, usedAddr, features);
    }

    /** @return the queue size */
    public int size() {
        return size;
    }

    /** @return free descriptors */
    public int numFree() {
        return numFree;
    }

    /** @return buffers made available and not yet harvested as used */
    public int inFlight() {
        return (availIdx - lastUsed) & 0xFFFF;
    }

    /**
     * Places a chain of buffers in the descriptor table and the available ring (visible to the
     * device after {@link #publish()}). Readable buffers should come before writable ones
     * (virtio 1.2, 2.7.4.2); this is not checked, so tests can break it.
     *
     * @param addrs guest-physical addresses
     * @param lens lengths
     * @param writable true for device-writable buffers
     * @param count number of buffers, at least 1
     * @return the head descriptor index, or -1 if not enough descriptors are free
     */
    public int add(long[] addrs, int[] lens, boolean[] writable, int count) {
        if (count <= 0 || count > numFree) {
            return -1;
        }
        int head = freeHead;
        int d = head;
        int last = head;
        for (int i = 0; i < count; i++) {
            int flags = writable[i] ? SplitRing.F_WRITE : 0;
            int next = shadowNext[d];
            if (i + 1 < count) {
                flags |= SplitRing.F_NEXT;
            }
            writeDescriptor(d, addrs[i], lens[i], flags, i + 1 < count ? next : 0);
            last = d;
            d = next;
        }
        freeHead = d;
        return commit(head, last, count);
    }

    /**
     * Writes an indirect descriptor table at {@code tableAddr} (virtio 1.2, 2.7.5.3) and places
     * one descriptor referring to it.
     *
     * @param tableAddr guest-physical address of the table, 16 * count bytes
     * @param addrs guest-physical addresses
     * @param lens lengths
     * @param writable true for device-writable buffers
     * @param count number of buffers, at least 1
     * @return the head descriptor index, or -1 if no descriptor is free
     */
    public int addIndirect(long tableAddr, long[] addrs, int[] lens, boolean[] writable, int count) {
        if (count <= 0 || numFree == 0) {
            return -1;
        }
        int r = memory.findGpa(tableAddr, 16L * count);
        if (r < 0) {
            throw new GuestMemoryException(GuestMemoryException.Rule.RANGE_OUTSIDE_MEMORY, tableAddr, 16L * count);
        }
        MemorySegment seg = memory.segment(r);
        long base = memory.gpaOffset(r, tableAddr);
        for (int i = 0; i < count; i++) {
            long off = base + 16L * i;
            int flags = (writable[i] ? SplitRing.F_WRITE : 0) | (i + 1 < count ? SplitRing.F_NEXT : 0);
            seg.set(U64, off + SplitRing.DESC_ADDR, addrs[i]);
            seg.set(U32, off + SplitRing.DESC_LEN, lens[i]);
            seg.set(U16, off + SplitRing.DESC_FLAGS, (short) flags);
            seg.set(U16, off + SplitRing.DESC_NEXT, (short) (i + 1 < count ? i + 1 : 0));
        }
        int head = freeHead;
        freeHead = shadowNext[head];
        writeDescriptor(head, tableAddr, 16 * count, SplitRing.F_INDIRECT, 0);
        return commit(head, head, 1);
    }

    private int commit(int head, int last, int count) {
        numFree -= count;
        chainTail[head] = last;
        chainCount[head] = count;
        // virtio 1.2, 2.7.13.2: ring[idx % size] = head; idx is updated later, in publish().
        avail.set(U16, SplitRing.RING_ENTRIES + 2L * (availIdx & mask), (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
        return head;
    }

    /**
     * Makes every added chain visible: one release store of avail idx (virtio 1.2, 2.7.13.3.1:
     * "The driver MUST perform a suitable memory barrier before the idx update").
     *
     * @return the number of chains published
     */
    public int publish() {
        int n = (availIdx - publishedAvail) & 0xFFFF;
        if (n != 0) {
            U16_ATOMIC.setRelease(avail, (long) SplitRing.RING_IDX, (short) availIdx);
            publishedAvail = availIdx;
        }
        return n;
    }

    /**
     * Decides whether the device wants a kick for what was published since the last call
     * (virtio 1.2, 2.7.10 and 2.7.13.4).
     *
     * @return true if the driver must notify the device
     */
    public boolean needsKick() {
        int newIdx = publishedAvail;
        int oldIdx = kickCheckedAvail;
        kickCheckedAvail = newIdx;
        if (newIdx == oldIdx) {
            return false;
        }
        // virtio 1.2, 2.7.13.4.1: "The driver MUST perform a suitable memory barrier before reading
        // flags or avail_event, to avoid missing a notification."
        VarHandle.fullFence();
        if (eventIdx) {
            int availEvent = Short.toUnsignedInt(used.get(U16, SplitRing.availEventOffset(size)));
            return EventIndex.needEvent(availEvent, newIdx, oldIdx);
        }
        return (used.get(U16, SplitRing.RING_FLAGS) & SplitRing.USED_F_NO_NOTIFY) == 0;
    }

    /**
     * Harvests one used element and frees its descriptors (virtio 1.2, 2.7.14).
     *
     * @return {@code (id << 32) | (len & 0xFFFFFFFFL)}, or -1 if none is used
     * @throws IllegalStateException if the device returned an id that is not in flight
     */
    public long pollUsed() {
        int idx = Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(used, (long) SplitRing.RING_IDX));
        if (idx == lastUsed) {
            return -1;
        }
        long off = SplitRing.RING_ENTRIES + 8L * (lastUsed & mask);
        int id = used.get(U32, off);
        int len = used.get(U32, off + 4);
        if (id < 0 || id >= size || chainCount[id] == 0) {
            throw new IllegalStateException("device used id " + Integer.toUnsignedString(id) + " which is not in flight");
        }
        lastUsed = (lastUsed + 1) & 0xFFFF;
        shadowNext[chainTail[id]] = freeHead;
        freeHead = id;
        numFree += chainCount[id];
        chainCount[id] = 0;
        if (eventIdx && usedNotifications) {
            // virtio 1.2, 2.7.7.1: notify me when the device writes the entry at lastUsed.
            avail.set(U16, SplitRing.usedEventOffset(size), (short) lastUsed);
        }
        return ((long) id << 32) | (len & 0xFFFF_FFFFL);
    }

    /**
     * Asks the device for used buffer notifications again and re-checks the used ring.
     *
     * @return true if used elements are already there (harvest instead of sleeping)
     */
    public boolean enableUsedNotifications() {
        usedNotifications = true;
        if (eventIdx) {
            U16_ATOMIC.setRelease(avail, SplitRing.usedEventOffset(size), (short) lastUsed);
        } else {
            U16_ATOMIC.setRelease(avail, (long) SplitRing.RING_FLAGS, (short) 0);
        }
        VarHandle.fullFence();
        return Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(used, (long) SplitRing.RING_IDX)) != lastUsed;
    }

    /** Tells the device that used buffer notifications are not needed (virtio 1.2, 2.7.7.1). */
    public void disableUsedNotifications() {
        usedNotifications = false;
        if (!eventIdx) {
            U16_ATOMIC.setRelease(avail, (long) SplitRing.RING_FLAGS, (short) SplitRing.AVAIL_F_NO_INTERRUPT);
        }
    }

    // ---- raw access, for tests and fuzzing ----

    /**
     * Writes a descriptor table entry as given.
     *
     * @param index descriptor index
     * @param addr addr field
     * @param len len field
     * @param flags flags field
     * @param next next field
     */
    public void writeDescriptor(int index, long addr, int len, int flags, int next) {
        long off = (long) SplitRing.DESC_SIZE * index;
        desc.set(U64, off + SplitRing.DESC_ADDR, addr);
        desc.set(U32, off + SplitRing.DESC_LEN, len);
        desc.set(U16, off + SplitRing.DESC_FLAGS, (short) flags);
        desc.set(U16, off + SplitRing.DESC_NEXT, (short) next);
    }

    /**
     * Puts a head index in the next available ring slot and publishes it, bypassing the free list.
     *
     * @param head any value, even out of range
     */
    public void publishHead(int head) {
        avail.set(U16, SplitRing.RING_ENTRIES + 2L * (availIdx & mask), (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
        publish();
    }

    /** @param idx value stored (release) in avail idx, whatever it is */
    public void setAvailIdx(int idx) {
        availIdx = idx & 0xFFFF;
        publishedAvail = availIdx;
        U16_ATOMIC.setRelease(avail, (long) SplitRing.RING_IDX, (short) idx);
    }

    /** @param flags value stored in avail flags */
    public void setAvailFlags(int flags) {
        avail.set(U16, SplitRing.RING_FLAGS, (short) flags);
    }

    /** @param usedEvent value stored in used_event */
    public void setUsedEvent(int usedEvent) {
        avail.set(U16, SplitRing.usedEventOffset(size), (short) usedEvent);
    }

    /** @return the device's avail_event */
    public int availEvent() {
        return Short.toUnsignedInt(used.get(U16, SplitRing.availEventOffset(size)));
    }

    /** @return the device's used flags */
    public int usedFlags() {
        return Short.toUnsignedInt(used.get(U16, SplitRing.RING_FLAGS));
    }

    /** @return the used idx in the ring */
    public int usedIdxInRing() {
        return Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(used, (long) SplitRing.RING_IDX));
    }

    /** @return the driver's next avail idx (published or not) */
    public int availIdx() {
        return availIdx;
    }
}

package io.ringway.vhost.virtio;

import static io.ringway.vhost.virtio.LittleEndian.U16;
import static io.ringway.vhost.virtio.LittleEndian.U16_ATOMIC;
import static io.ringway.vhost.virtio.LittleEndian.U32;
import static io.ringway.vhost.virtio.LittleEndian.U32_ATOMIC;
import static io.ringway.vhost.virtio.LittleEndian.U64;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * The driver side of a packed virtqueue (virtio 1.2, 2.8.21 and 2.8.22): makes buffers available
 * with the driver wrap counter, harvests used descriptors with the used wrap counter, manages
 * buffer ids and free ring slots, and decides when to kick. Allocates nothing per operation.
 *
 * <p>{@link #add} writes a chain but holds back the flags of its first descriptor;
 * {@link #publish()} stores those flags (release), last chain first, so the device sees a batch at
 * once (2.8.21.1: the first descriptor is made available after the rest of the list).
 *
 * <p>It does not follow in-order batches (one used descriptor for several buffers, virtio 1.2,
 * 2.8.9): a front-end that uses it must not negotiate VIRTIO_F_IN_ORDER (none in Ringway does).
 */
public final class DriverPackedQueue {
    private final GuestMemory memory;
    private final MemorySegment desc;
    private final MemorySegment driverEvent;
    private final MemorySegment deviceEvent;
    private final int size;
    private final boolean eventIdx;
    private final long descAddr;
    private final long driverAddr;
    private final long deviceAddr;

    private final int[] freeIds;
    private int freeIdCount;
    private final int[] idSlots;
    private int numFree;

    private int nextAvail;
    private int availWrap = 1;
    private int nextUsed;
    private int usedWrap = 1;

    private final int[] pendingPos;
    private final short[] pendingFlags;
    private int pending;
    private int publishedPos;
    private int kickCheckedPos;
    private boolean publishedSinceKickCheck;
    private boolean usedNotifications = true;

    /**
     * Lays out and zeroes a packed ring (2.8.12: "The descriptor ring is zero-initialized").
     *
     * @param memory guest memory holding the ring and the buffers
     * @param size queue size, 1 to 32768
     * @param descAddr descriptor ring, 16-aligned
     * @param driverAddr driver event suppression, 4-aligned
     * @param deviceAddr device event suppression, 4-aligned
     * @param features negotiated features (EVENT_IDX is honoured)
     */
    public DriverPackedQueue(GuestMemory memory, int size, long descAddr, long driverAddr, long deviceAddr,
            long features) {
        if (size <= 0 || size > AbstractVirtqueue.MAX_QUEUE_SIZE) {
            throw new IllegalArgumentException("queue size must be in 1..32768, got " + size);
        }
        if ((descAddr & 15) != 0 || (driverAddr & 3) != 0 || (deviceAddr & 3) != 0) {
            throw new IllegalArgumentException("ring parts must be aligned 16/4/4");
        }
        this.memory = memory;
        this.size = size;
        this.eventIdx = VirtioFeatures.has(features, VirtioFeatures.EVENT_IDX);
        this.descAddr = descAddr;
        this.driverAddr = driverAddr;
        this.deviceAddr = deviceAddr;
        desc = memory.sliceGpa(descAddr, PackedRing.descRingSize(size));
        driverEvent = memory.sliceGpa(driverAddr, PackedRing.EVENT_SIZE);
        deviceEvent = memory.sliceGpa(deviceAddr, PackedRing.EVENT_SIZE);
        desc.fill((byte) 0);
        driverEvent.fill((byte) 0);
        deviceEvent.fill((byte) 0);
        freeIds = new int[size];
        for (int i = 0; i < size; i++) {
            freeIds[i] = size - 1 - i;
        }
        freeIdCount = size;
        idSlots = new int[size];
        numFree = size;
        pendingPos = new int[size];
        pendingFlags = new short[size];
    }

    /** @return a configuration for the device side with the same ring addresses */
    public QueueConfig config(long features) {
        return QueueConfig.guestPhysical(size, descAddr, driverAddr, deviceAddr, features);
    }

    /** @return the queue size */
    public int size() {
        return size;
    }

    /** @return free ring slots */
    public int numFree() {
        return numFree;
    }

    /** @return the driver ring wrap counter, 0 or 1 */
    public int availWrapCounter() {
        return availWrap;
    }

    /** @return the wrap counter the driver expects in the next used descriptor */
    public int usedWrapCounter() {
        return usedWrap;
    }

    /** @return next ring position the driver will fill */
    public int nextAvail() {
        return nextAvail;
    }

    /** @return the next position the driver reads a used descriptor from, its used wrap counter in bit 15 */
    public int nextUsedIdx() {
        return nextUsed | (usedWrap << 15);
    }

    /**
     * Writes a chain into the ring (virtio 1.2, 2.8.21.1); visible after {@link #publish()}.
     *
     * @param addrs guest-physical addresses
     * @param lens lengths
     * @param writable true for device-writable buffers
     * @param count number of buffers, at least 1
     * @return the buffer id, or -1 if not enough slots or ids are free
     */
    public int add(long[] addrs, int[] lens, boolean[] writable, int count) {
        if (count <= 0 || count > numFree || freeIdCount == 0 || pending == size) {
            return -1;
        }
        int id = freeIds[--freeIdCount];
        int first = nextAvail;
        int firstFlags = 0;
        for (int i = 0; i < count; i++) {
            int flags = PackedRing.availBits(availWrap) | (writable[i] ? PackedRing.F_WRITE : 0)
                    | (i + 1 < count ? PackedRing.F_NEXT : 0);
            long off = (long) nextAvail * 16;
            desc.set(U64, off + PackedRing.DESC_ADDR, addrs[i]);
            desc.set(U32, off + PackedRing.DESC_LEN, lens[i]);
            desc.set(U16, off + PackedRing.DESC_ID, (short) id);
            if (i == 0) {
                firstFlags = flags;
            } else {
                desc.set(U16, off + PackedRing.DESC_FLAGS, (short) flags);
            }
            advanceAvail();
        }
        return commit(id, count, first, firstFlags);
    }

    /**
     * Writes an indirect table at {@code tableAddr} (virtio 1.2, 2.8.8) and one ring descriptor
     * referring to it.
     *
     * @param tableAddr guest-physical address of the table, 16 * count bytes
     * @param addrs guest-physical addresses
     * @param lens lengths
     * @param writable true for device-writable buffers
     * @param count number of buffers
     * @return the buffer id, or -1 if no slot or id is free
     */
    public int addIndirect(long tableAddr, long[] addrs, int[] lens, boolean[] writable, int count) {
        if (count <= 0 || numFree == 0 || freeIdCount == 0 || pending == size) {
            return -1;
        }
        MemorySegment table = memory.sliceGpa(tableAddr, 16L * count);
        for (int i = 0; i < count; i++) {
            long off = 16L * i;
            table.set(U64, off + PackedRing.DESC_ADDR, addrs[i]);
            table.set(U32, off + PackedRing.DESC_LEN, lens[i]);
            table.set(U16, off + PackedRing.DESC_ID, (short) 0);
            // 2.8.8: "The VIRTQ_DESC_F_WRITE flags bit is the only valid flag for descriptors in the indirect table."
            table.set(U16, off + PackedRing.DESC_FLAGS, (short) (writable[i] ? PackedRing.F_WRITE : 0));
        }
        int id = freeIds[--freeIdCount];
        int first = nextAvail;
        long off = (long) nextAvail * 16;
        desc.set(U64, off + PackedRing.DESC_ADDR, tableAddr);
        desc.set(U32, off + PackedRing.DESC_LEN, 16 * count);
        desc.set(U16, off + PackedRing.DESC_ID, (short) id);
        int flags = PackedRing.availBits(availWrap) | PackedRing.F_INDIRECT;
        advanceAvail();
        return commit(id, 1, first, flags);
    }

    private void advanceAvail() {
        if (++nextAvail == size) {
            nextAvail = 0;
            // 2.8.1: the driver flips its wrap counter after making the last descriptor available.
            availWrap ^= 1;
        }
    }

    private int commit(int id, int count, int first, int firstFlags) {
        idSlots[id] = count;
        numFree -= count;
        pendingPos[pending] = first;
        pendingFlags[pending] = (short) firstFlags;
        pending++;
        return id;
    }

    /**
     * Makes every added chain available: stores the held-back first flags with release, last chain
     * first (2.8.21.1.1: "The driver MUST perform a suitable memory barrier before the flags update").
     *
     * @return chains published
     */
    public int publish() {
        int n = pending;
        for (int i = n - 1; i >= 0; i--) {
            U16_ATOMIC.setRelease(desc, (long) pendingPos[i] * 16 + PackedRing.DESC_FLAGS, pendingFlags[i]);
        }
        pending = 0;
        if (n > 0) {
            publishedPos = nextAvail;
            publishedSinceKickCheck = true;
        }
        return n;
    }

    /**
     * Decides whether the device wants a kick for what was published since the last call
     * (virtio 1.2, 2.8.10 and 2.8.21.3).
     *
     * @return true if the driver must notify the device
     */
    public boolean needsKick() {
        if (!publishedSinceKickCheck) {
            return false;
        }
        publishedSinceKickCheck = false;
        int oldPos = kickCheckedPos;
        kickCheckedPos = publishedPos;
        // 2.8.21.3.1: "The driver MUST perform a suitable memory barrier before reading the Event
        // Suppression structure occupying the Device Area."
        VarHandle.fullFence();
        int v = (int) U32_ATOMIC.getAcquire(deviceEvent, 0L);
        int flags = (v >>> 16) & 3;
        if (flags == PackedRing.EVENT_FLAGS_DISABLE) {
            return false;
        }
        if (flags == PackedRing.EVENT_FLAGS_DESC && eventIdx) {
            return EventIndex.packedNeedEvent(v & 0xFFFF, availWrap, size, publishedPos, oldPos);
        }
        return true;
    }

    /**
     * Harvests one used descriptor (virtio 1.2, 2.8.22), frees its id and skips its slots.
     *
     * @return {@code (id << 32) | (len & 0xFFFFFFFFL)}, or -1 if none is used
     * @throws IllegalStateException if the device used an id that is not in flight
     */
    public long pollUsed() {
        long off = (long) nextUsed * 16;
        int flags = Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(desc, off + PackedRing.DESC_FLAGS));
        if (!PackedRing.isUsed(flags, usedWrap)) {
            return -1;
        }
        int id = Short.toUnsignedInt(desc.get(U16, off + PackedRing.DESC_ID));
        int len = desc.get(U32, off + PackedRing.DESC_LEN);
        if (id >= size || idSlots[id] == 0) {
            throw new IllegalStateException("device used buffer id " + id + " which is not in flight");
        }
        int slots = idSlots[id];
        idSlots[id] = 0;
        freeIds[freeIdCount++] = id;
        numFree += slots;
        nextUsed += slots;
        if (nextUsed >= size) {
            nextUsed -= size;
            usedWrap ^= 1;
        }
        if (eventIdx && usedNotifications) {
            writeDriverEvent(PackedRing.EVENT_FLAGS_DESC);
        }
        return ((long) id << 32) | (len & 0xFFFF_FFFFL);
    }

    /**
     * Asks for used buffer notifications again and re-checks the ring (2.8.22 example).
     *
     * @return true if a used descriptor is already there
     */
    public boolean enableUsedNotifications() {
        usedNotifications = true;
        writeDriverEvent(eventIdx ? PackedRing.EVENT_FLAGS_DESC : PackedRing.EVENT_FLAGS_ENABLE);
        VarHandle.fullFence();
        int flags = Short.toUnsignedInt(
                (short) U16_ATOMIC.getAcquire(desc, (long) nextUsed * 16 + PackedRing.DESC_FLAGS));
        return PackedRing.isUsed(flags, usedWrap);
    }

    /** Tells the device that used buffer notifications are not needed. */
    public void disableUsedNotifications() {
        usedNotifications = false;
        writeDriverEvent(PackedRing.EVENT_FLAGS_DISABLE);
    }

    private void writeDriverEvent(int flags) {
        int offWrap = flags == PackedRing.EVENT_FLAGS_DESC ? nextUsed | (usedWrap << 15) : 0;
        U32_ATOMIC.setRelease(driverEvent, 0L, offWrap | (flags << 16));
    }

    // ---- raw access, for tests and fuzzing ----

    /**
     * Writes a ring descriptor as given; flags last, with release.
     *
     * @param pos ring position
     * @param addr addr field
     * @param len len field
     * @param id buffer id field
     * @param flags flags field, AVAIL/USED bits included
     */
    public void writeDescriptor(int pos, long addr, int len, int id, int flags) {
        long off = (long) pos * 16;
        desc.set(U64, off + PackedRing.DESC_ADDR, addr);
        desc.set(U32, off + PackedRing.DESC_LEN, len);
        desc.set(U16, off + PackedRing.DESC_ID, (short) id);
        U16_ATOMIC.setRelease(desc, off + PackedRing.DESC_FLAGS, (short) flags);
    }

    /**
     * Stores the driver event suppression structure as given.
     *
     * @param flags RING_EVENT_FLAGS_*
     * @param offWrap offset in bits 0-14, wrap counter in bit 15
     */
    public void setDriverEvent(int flags, int offWrap) {
        U32_ATOMIC.setRelease(driverEvent, 0L, (offWrap & 0xFFFF) | (flags << 16));
    }

    /** @return the device event suppression flags */
    public int deviceEventFlags() {
        return Short.toUnsignedInt(deviceEvent.get(U16, PackedRing.EVENT_FLAGS));
    }

    /** @return the device event suppression off_wrap */
    public int deviceEventOffWrap() {
        return Short.toUnsignedInt(deviceEvent.get(U16, PackedRing.EVENT_OFF_WRAP));
    }

    /**
     * @param pos ring position
     * @return that descriptor's flags
     */
    public int descriptorFlags(int pos) {
        return Short.toUnsignedInt(desc.get(U16, (long) pos * 16 + PackedRing.DESC_FLAGS));
    }
}

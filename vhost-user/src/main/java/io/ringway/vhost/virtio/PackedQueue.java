package io.ringway.vhost.virtio;

import static io.ringway.vhost.virtio.LittleEndian.U16;
import static io.ringway.vhost.virtio.LittleEndian.U16_ATOMIC;
import static io.ringway.vhost.virtio.LittleEndian.U32;
import static io.ringway.vhost.virtio.LittleEndian.U32_ATOMIC;
import static io.ringway.vhost.virtio.LittleEndian.U64;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * The device side of a packed virtqueue (virtio 1.2, 2.8).
 *
 * <p>The device keeps two ring positions with their wrap counters (both start at 1, 2.8.1): the
 * next descriptor to read ({@code lastAvail}) and the next to overwrite with a used descriptor.
 * Used descriptors are written with id and len first; their flags are stored, in reverse order
 * and with release, by {@link #publishUsed()}, so the driver sees a batch at once.
 *
 * <p>Per virtio 1.2, 2.8.11 the queue size need not be a power of 2 for packed rings.
 */
public final class PackedQueue extends AbstractVirtqueue {
    private MemorySegment desc;
    private MemorySegment driverEvent;
    private MemorySegment deviceEvent;

    private int lastAvail;
    private int availWrap = 1;
    private int usedPos;
    private int usedWrap = 1;
    private boolean usedSet;

    private final int[] pendingPos;
    private final short[] pendingFlags;
    private int pending;
    private int publishedPos;
    private int publishedWrap = 1;
    private int notifiedPos;
    private boolean publishedSinceCheck;
    private boolean notificationsEnabled = true;

    /**
     * @param maxSize the largest queue size the device offers (1 to 32768)
     */
    public PackedQueue(int maxSize) {
        super(maxSize);
        pendingPos = new int[maxSize];
        pendingFlags = new short[maxSize];
    }

    @Override
    public void activate(GuestMemory mem, QueueConfig config) {
        beginActivation(mem, config);
        int n = config.size();
        // virtio 1.2, 2.8: "Packed virtqueues support up to 2^15 entries each"; 2.8.11: any size.
        checkSize(n, false);
        size = n;
        // virtio 1.2, 2.8.11: descriptor ring align 16, event suppression structures align 4, 4 bytes.
        desc = ringPart(mem, config.addressSpace(), config.descAddr(), PackedRing.descRingSize(n),
                PackedRing.DESC_ALIGN);
        driverEvent = ringPart(mem, config.addressSpace(), config.driverAddr(), PackedRing.EVENT_SIZE,
                PackedRing.EVENT_ALIGN);
        deviceEvent = ringPart(mem, config.addressSpace(), config.deviceAddr(), PackedRing.EVENT_SIZE,
                PackedRing.EVENT_ALIGN);
        if (lastAvail >= n) {
            throw activationError(VirtqueueError.Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, lastAvail, n);
        }
        if (usedPos >= n) {
            throw activationError(VirtqueueError.Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, usedPos, n);
        }
        pending = 0;
        publishedPos = usedPos;
        publishedWrap = usedWrap;
        notifiedPos = usedPos;
        publishedSinceCheck = false;
        ready = true;
        writeNotificationState();
    }

    @Override
    public void reset() {
        ready = false;
        peekLeft = 0;
        clearBroken();
        memory = null;
        desc = null;
        driverEvent = null;
        deviceEvent = null;
        size = 0;
        lastAvail = 0;
        availWrap = 1;
        usedPos = 0;
        usedWrap = 1;
        usedSet = false;
        pending = 0;
        publishedPos = 0;
        publishedWrap = 1;
        notifiedPos = 0;
        publishedSinceCheck = false;
        notificationsEnabled = true;
    }

    @Override
    public boolean pop(DescriptorChain chain) {
        // A pop moves lastAvail: what an earlier peek read no longer starts there.
        peekLeft = 0;
        if (!ready) {
            return false;
        }
        checkChainCapacity(chain);
        int pos = lastAvail;
        int wrap = availWrap;
        // virtio 1.2, 2.8.21.1: the driver writes flags last, with a barrier; read them with acquire.
        int flags = Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(desc, (long) pos * 16 + PackedRing.DESC_FLAGS));
        // virtio 1.2, 2.8.1 / 2.8.13.1: "A device MUST NOT use a descriptor unless it observes the
        // VIRTQ_DESC_F_AVAIL bit in its flags being changed".
        if (!PackedRing.isAvailable(flags, wrap)) {
            return false;
        }
        beginWalk(chain);
        int slots = 0;
        int id;
        for (;;) {
            long off = (long) pos * 16;
            // Read each guest field once; flags of the first descriptor were read above.
            long addr = desc.get(U64, off + PackedRing.DESC_ADDR);
            int len = desc.get(U32, off + PackedRing.DESC_LEN);
            int bufferId = Short.toUnsignedInt(desc.get(U16, off + PackedRing.DESC_ID));
            slots++;
            pos++;
            if (pos == size) {
                pos = 0;
                wrap ^= 1;
            }
            if ((flags & PackedRing.F_INDIRECT) != 0) {
                // virtio 1.2, 2.8.8: "A driver MUST NOT write direct descriptors with
                // VIRTQ_DESC_F_INDIRECT set in a scatter-gather list linked by VIRTQ_DESC_F_NEXT".
                if (!walkIndirect(chain, pos == 0 ? size - 1 : pos - 1, addr, len, flags, slots)) {
                    chain.reset(memory);
                    return false;
                }
                id = bufferId;
                break;
            }
            if (!addElement(chain, addr, len, (flags & PackedRing.F_WRITE) != 0)) {
                chain.reset(memory);
                return false;
            }
            if ((flags & PackedRing.F_NEXT) == 0) {
                // virtio 1.2, 2.8.6: "Buffer ID is included in the last descriptor in the list."
                id = bufferId;
                break;
            }
            // virtio 1.2, 2.8.7.1: no list longer than the Queue Size; a list that would wrap onto itself is one.
            if (slots >= size) {
                chain.reset(memory);
                return fail(VirtqueueError.Rule.DESCRIPTOR_CHAIN_TOO_LONG, size);
            }
            // The first descriptor's flags were made available last (2.8.6), so the rest of the list
            // is visible after the acquire above.
            flags = Short.toUnsignedInt(desc.get(U16, (long) pos * 16 + PackedRing.DESC_FLAGS));
        }
        lastAvail = pos;
        availWrap = wrap;
        chain.finish(id, slots);
        if (eventIdx && notificationsEnabled) {
            writeDeviceEvent(PackedRing.EVENT_FLAGS_DESC);
        }
        return true;
    }

    @Override
    public int peekSimple(SimpleChains out, int max, boolean writable) {
        if (!beginPeek(out)) {
            return 0;
        }
        final MemorySegment ring = desc;
        final GuestMemory mem = memory;
        final int sz = size;
        final int n = Math.min(Math.min(max, out.capacity()), sz);
        // virtio 1.2, 2.8.1: NEXT 1, WRITE 2, INDIRECT 4, AVAIL 7, USED 15; here only WRITE, as asked.
        final int expected = writable ? PackedRing.F_WRITE : 0;
        final int ringBits = PackedRing.F_AVAIL | PackedRing.F_USED;
        int pos = lastAvail;
        int wrap = availWrap;
        int i = 0;
        boolean all = false;
        for (; i < n; i++) {
            long off = (long) pos * 16;
            // virtio 1.2, 2.8.21.1: flags are written last, with a barrier: read them with acquire,
            // then the rest of the descriptor, each field once.
            int flags = Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(ring, off + PackedRing.DESC_FLAGS));
            if (!PackedRing.isAvailable(flags, wrap)) {
                all = true;
                break;
            }
            if ((flags & ~ringBits) != expected) {
                break;
            }
            long addr = ring.get(U64, off + PackedRing.DESC_ADDR);
            int len = ring.get(U32, off + PackedRing.DESC_LEN);
            int id = Short.toUnsignedInt(ring.get(U16, off + PackedRing.DESC_ID));
            if (len < 0) {
                break;
            }
            if (!addSimple(out, i, id, addr, len)) {
                break;
            }
            if (++pos == sz) {
                pos = 0;
                wrap ^= 1;
            }
        }
        out.filled(mem, i, all);
        peekLeft = i;
        return i;
    }

    @Override
    public void pushUsedEmpty(SimpleChains chains, int k) {
        if (inOrder && k > 1) {
            // virtio 1.2, 2.8.9: with IN_ORDER the device may use a batch with one used descriptor
            // carrying the last buffer's id, and skip forward in the ring by the batch's size.
            pushUsed(chains.head[k - 1], k, 0);
            return;
        }
        for (int i = 0; i < k; i++) {
            pushUsed(chains.head[i], 1, 0);
        }
    }

    @Override
    public void takeSimple(int k) {
        if (!beginTake(k)) {
            return;
        }
        // One descriptor per chain: k ring slots, at most one wrap (k <= size).
        int pos = lastAvail + k;
        if (pos >= size) {
            pos -= size;
            availWrap ^= 1;
        }
        lastAvail = pos;
        if (eventIdx && notificationsEnabled) {
            writeDeviceEvent(PackedRing.EVENT_FLAGS_DESC);
        }
    }

    /**
     * Walks a chain from descriptors recorded earlier instead of from the ring: the in-flight
     * resubmission after a back-end restart (vhost-user.rst, "Inflight I/O tracking", packed),
     * where the ring slots of a request still in flight may already hold used descriptors of
     * others. Every element is validated as {@link #pop} validates it; the ring positions do not
     * move.
     *
     * @param chain reusable chain, capacity at least {@link #size()}
     * @param addrs recorded descriptor addresses, in chain order
     * @param lens recorded descriptor lengths
     * @param flags recorded descriptor flags
     * @param count number of ring descriptors the request took (1 to {@link #size()})
     * @param id the buffer id to answer with
     * @return true if the chain is valid; false (queue broken) otherwise
     */
    public boolean popRecorded(DescriptorChain chain, long[] addrs, int[] lens, int[] flags, int count, int id) {
        if (!ready) {
            return false;
        }
        checkChainCapacity(chain);
        if (count < 1 || count > size || count > addrs.length) {
            return fail(VirtqueueError.Rule.DESCRIPTOR_CHAIN_TOO_LONG, size);
        }
        beginWalk(chain);
        for (int i = 0; i < count; i++) {
            int f = flags[i];
            if ((f & PackedRing.F_INDIRECT) != 0) {
                if (i != count - 1 || !walkIndirect(chain, i, addrs[i], lens[i], f, i + 1)) {
                    chain.reset(memory);
                    return i != count - 1 ? fail(VirtqueueError.Rule.INDIRECT_WITH_NEXT, i, f) : false;
                }
                break;
            }
            if (!addElement(chain, addrs[i], lens[i], (f & PackedRing.F_WRITE) != 0)) {
                chain.reset(memory);
                return false;
            }
        }
        chain.finish(id, count);
        return true;
    }

    /**
     * Restarts an activated queue at the given positions (in-flight recovery: where the in-flight
     * area says the device was, not what SET_VRING_BASE said). Nothing may be pending.
     *
     * @param lastAvailIdx next position to read, avail wrap counter in bit 15
     * @param usedIdx next used position, used wrap counter in bit 15
     * @throws VirtqueueException if a position is not below the queue size
     */
    public void resume(int lastAvailIdx, int usedIdx) {
        int avail = lastAvailIdx & 0x7FFF;
        int used = usedIdx & 0x7FFF;
        if (avail >= size) {
            throw activationError(VirtqueueError.Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, avail, size);
        }
        if (used >= size) {
            throw activationError(VirtqueueError.Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, used, size);
        }
        peekLeft = 0;
        lastAvail = avail;
        availWrap = (lastAvailIdx >>> 15) & 1;
        usedPos = used;
        usedWrap = (usedIdx >>> 15) & 1;
        usedSet = true;
        pending = 0;
        publishedPos = usedPos;
        publishedWrap = usedWrap;
        notifiedPos = usedPos;
        publishedSinceCheck = false;
        writeNotificationState();
    }

    /** Address field of ring descriptor {@code pos}, as the ring holds it now (in-flight tracking). */
    public long ringDescriptorAddr(int pos) {
        return desc.get(U64, (long) pos * 16 + PackedRing.DESC_ADDR);
    }

    /** Length field of ring descriptor {@code pos}, as the ring holds it now (in-flight tracking). */
    public int ringDescriptorLen(int pos) {
        return desc.get(U32, (long) pos * 16 + PackedRing.DESC_LEN);
    }

    /** Buffer id field of ring descriptor {@code pos}, as the ring holds it now (in-flight tracking). */
    public int ringDescriptorId(int pos) {
        return Short.toUnsignedInt(desc.get(U16, (long) pos * 16 + PackedRing.DESC_ID));
    }

    /** Flags of ring descriptor {@code pos}, read with acquire (in-flight tracking and recovery). */
    public int ringDescriptorFlags(int pos) {
        return Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(desc, (long) pos * 16 + PackedRing.DESC_FLAGS));
    }

    private boolean walkIndirect(DescriptorChain chain, int ringPos, long addr, int len, int flags, int slots) {
        if (!indirectDesc) {
            return fail(VirtqueueError.Rule.INDIRECT_NOT_NEGOTIATED, ringPos);
        }
        if ((flags & PackedRing.F_NEXT) != 0 || slots > 1) {
            return fail(VirtqueueError.Rule.INDIRECT_WITH_NEXT, ringPos, flags);
        }
        long tableLen = Integer.toUnsignedLong(len);
        // virtio 1.2, 2.8.8: struct pvirtq_desc desc[len / sizeof(struct pvirtq_desc)].
        if (tableLen == 0 || (tableLen & (PackedRing.DESC_SIZE - 1)) != 0) {
            return fail(VirtqueueError.Rule.INDIRECT_TABLE_LENGTH_INVALID, tableLen);
        }
        int r = findGpa(addr, tableLen);
        if (r < 0) {
            return fail(VirtqueueError.Rule.INDIRECT_TABLE_OUTSIDE_MEMORY, addr, tableLen);
        }
        long entries = tableLen >>> 4;
        if (entries > size) {
            return fail(VirtqueueError.Rule.DESCRIPTOR_CHAIN_TOO_LONG, size);
        }
        MemorySegment table = memory.segment(r);
        long base = memory.gpaOffset(r, addr);
        // virtio 1.2, 2.8.8: the table's descriptors follow each other; NEXT and the buffer id are
        // reserved and ignored. INDIRECT is a "MUST NOT" for the driver: we reject it rather than ignore it.
        for (int i = 0; i < entries; i++) {
            long off = base + 16L * i;
            long a = table.get(U64, off + PackedRing.DESC_ADDR);
            int l = table.get(U32, off + PackedRing.DESC_LEN);
            int f = Short.toUnsignedInt(table.get(U16, off + PackedRing.DESC_FLAGS));
            if ((f & PackedRing.F_INDIRECT) != 0) {
                return fail(VirtqueueError.Rule.NESTED_INDIRECT, i);
            }
            if (!addElement(chain, a, l, (f & PackedRing.F_WRITE) != 0)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Queues a used descriptor (virtio 1.2, 2.8.22): id and len are written now, flags at {@link #publishUsed()}.
     *
     * @param id the buffer id ({@link DescriptorChain#head()})
     * @param ringSlots the chain's {@link DescriptorChain#ringSlots()}: how far the used position moves
     * @param len bytes written into the buffer
     */
    @Override
    public void pushUsed(int id, int ringSlots, int len) {
        if (!ready) {
            return;
        }
        if (ringSlots <= 0 || ringSlots > size || pending >= pendingPos.length) {
            fail(VirtqueueError.Rule.USED_HEAD_OUT_OF_RANGE, id, size);
            return;
        }
        long off = (long) usedPos * 16;
        desc.set(U16, off + PackedRing.DESC_ID, (short) id);
        desc.set(U32, off + PackedRing.DESC_LEN, len);
        // virtio 1.2, 2.8.1: used = AVAIL and USED both equal to the device wrap counter;
        // 2.8.4: WRITE in a used descriptor says whether the device wrote anything.
        int flags = PackedRing.usedBits(usedWrap) | (len != 0 ? PackedRing.F_WRITE : 0);
        pendingPos[pending] = usedPos;
        pendingFlags[pending] = (short) flags;
        pending++;
        usedPos += ringSlots;
        if (usedPos >= size) {
            usedPos -= size;
            usedWrap ^= 1;
        }
    }

    @Override
    public int publishUsed() {
        if (!ready) {
            return 0;
        }
        int n = pending;
        if (n == 0) {
            return 0;
        }
        // virtio 1.2, 2.8.13: "A device MUST NOT change a descriptor after changing its VIRTQ_DESC_F_USED bit":
        // id/len are already written; flags go last with release, the first of the batch at the very
        // end, so the driver (which polls in ring order) sees the whole batch at once.
        for (int i = n - 1; i >= 0; i--) {
            U16_ATOMIC.setRelease(desc, (long) pendingPos[i] * 16 + PackedRing.DESC_FLAGS, pendingFlags[i]);
        }
        pending = 0;
        publishedPos = usedPos;
        publishedWrap = usedWrap;
        publishedSinceCheck = true;
        return n;
    }

    @Override
    public boolean needsNotification() {
        if (!ready || !publishedSinceCheck) {
            return false;
        }
        publishedSinceCheck = false;
        int oldPos = notifiedPos;
        notifiedPos = publishedPos;
        // Used flags must be visible before we read the driver's event suppression (store-load).
        VarHandle.fullFence();
        // Read off_wrap and flags together, as one snapshot.
        int v = (int) U32_ATOMIC.getAcquire(driverEvent, 0L);
        int offWrap = v & 0xFFFF;
        int flags = (v >>> 16) & 3;
        // virtio 1.2, 2.8.10: DISABLE: no used buffer notifications.
        if (flags == PackedRing.EVENT_FLAGS_DISABLE) {
            return false;
        }
        // virtio 1.2, 2.8.10: DESC is only valid with EVENT_IDX; otherwise (and for the reserved
        // value 3) notify, since drivers must handle spurious notifications.
        if (flags == PackedRing.EVENT_FLAGS_DESC && eventIdx) {
            return EventIndex.packedNeedEvent(offWrap, publishedWrap, size, publishedPos, oldPos);
        }
        return true;
    }

    @Override
    public boolean enableNotifications() {
        notificationsEnabled = true;
        if (!ready) {
            return false;
        }
        writeNotificationState();
        VarHandle.fullFence();
        // Re-check: a descriptor made available before the driver saw the new state has no kick.
        int flags = Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(desc, (long) lastAvail * 16 + PackedRing.DESC_FLAGS));
        return PackedRing.isAvailable(flags, availWrap);
    }

    @Override
    public void disableNotifications() {
        notificationsEnabled = false;
        if (ready) {
            writeNotificationState();
        }
    }

    private void writeNotificationState() {
        if (!notificationsEnabled) {
            writeDeviceEvent(PackedRing.EVENT_FLAGS_DISABLE);
        } else if (eventIdx) {
            writeDeviceEvent(PackedRing.EVENT_FLAGS_DESC);
        } else {
            writeDeviceEvent(PackedRing.EVENT_FLAGS_ENABLE);
        }
    }

    /** virtio 1.2, 2.8.10: the Device Event Suppression structure, written as one 32-bit store. */
    private void writeDeviceEvent(int flags) {
        int offWrap = flags == PackedRing.EVENT_FLAGS_DESC ? lastAvail | (availWrap << 15) : 0;
        U32_ATOMIC.setRelease(deviceEvent, 0L, offWrap | (flags << 16));
    }

    /** @return true if the device currently asks for kicks */
    public boolean notificationsEnabled() {
        return notificationsEnabled;
    }

    /** @return the avail wrap counter, 0 or 1 */
    public int availWrapCounter() {
        return availWrap;
    }

    /** @return the used wrap counter, 0 or 1 */
    public int usedWrapCounter() {
        return usedWrap;
    }

    /** @return next descriptor position to read, with the avail wrap counter in bit 15 */
    @Override
    public int lastAvailIdx() {
        return lastAvail | (availWrap << 15);
    }

    /** @return next used descriptor position (unpublished included), with the used wrap counter in bit 15 */
    @Override
    public int usedIdx() {
        return usedPos | (usedWrap << 15);
    }

    /** @param idx position in bits 0-14, avail wrap counter in bit 15 (vhost-user SET_VRING_BASE) */
    @Override
    public void setLastAvailIdx(int idx) {
        peekLeft = 0;
        lastAvail = idx & 0x7FFF;
        availWrap = (idx >>> 15) & 1;
        if (!usedSet) {
            usedPos = lastAvail;
            usedWrap = availWrap;
        }
    }

    /** @param idx position in bits 0-14, used wrap counter in bit 15 */
    @Override
    public void setUsedIdx(int idx) {
        usedPos = idx & 0x7FFF;
        usedWrap = (idx >>> 15) & 1;
        usedSet = true;
    }
}

package io.ringway.vhost.virtio;

import static io.ringway.vhost.virtio.LittleEndian.U16;
import static io.ringway.vhost.virtio.LittleEndian.U16_ATOMIC;
import static io.ringway.vhost.virtio.LittleEndian.U32;
import static io.ringway.vhost.virtio.LittleEndian.U64;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The device side of a split virtqueue (virtio 1.2, 2.7).
 *
 * <p>Ring addresses are validated once, at {@link #activate}; afterwards the three ring parts are
 * segments of exactly their size, so ring accesses need no translation. Each descriptor is read
 * once into locals and the copy is validated and kept in the {@link DescriptorChain}.
 *
 * <p>Typical poll loop: {@code while (q.pop(chain)) { ...; q.pushUsed(chain, n); }} then
 * {@code if (q.publishUsed() > 0 && q.needsNotification()) signal();}.
 */
public final class SplitQueue extends AbstractVirtqueue {
    private MemorySegment desc;
    private MemorySegment avail;
    private MemorySegment used;
    private int mask;
    private long usedEventOffset;
    private long availEventOffset;

    private int lastAvail;
    private int cachedAvail;
    private int usedIdx;
    private int publishedUsed;
    private int notifiedUsed;
    private boolean notificationsEnabled = true;

    /**
     * @param maxSize the largest queue size the device offers (1 to 32768)
     */
    public SplitQueue(int maxSize) {
        super(maxSize);
    }

    @Override
    public void activate(GuestMemory mem, QueueConfig config) {
        beginActivation(mem, config);
        int n = config.size();
        // virtio 1.2, 2.7: "Queue Size value is always a power of 2. The maximum Queue Size value is 32768."
        checkSize(n, true);
        size = n;
        // virtio 1.2, 2.7.2: alignment 16 / 2 / 4; each part physically contiguous (inside one region).
        desc = ringPart(mem, config.addressSpace(), config.descAddr(), SplitRing.descTableSize(n),
                SplitRing.DESC_ALIGN);
        avail = ringPart(mem, config.addressSpace(), config.driverAddr(), SplitRing.availRingSize(n),
                SplitRing.AVAIL_ALIGN);
        used = ringPart(mem, config.addressSpace(), config.deviceAddr(), SplitRing.usedRingSize(n),
                SplitRing.USED_ALIGN);
        mask = n - 1;
        usedEventOffset = SplitRing.usedEventOffset(n);
        availEventOffset = SplitRing.availEventOffset(n);
        cachedAvail = lastAvail;
        publishedUsed = usedIdx;
        notifiedUsed = usedIdx;
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
        avail = null;
        used = null;
        size = 0;
        lastAvail = 0;
        cachedAvail = 0;
        usedIdx = 0;
        publishedUsed = 0;
        notifiedUsed = 0;
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
        int last = lastAvail;
        if (last == cachedAvail && !refreshAvail()) {
            return false;
        }
        // virtio 1.2, 2.7.6: ring[idx % size]; read once.
        int head = Short.toUnsignedInt(avail.get(U16, SplitRing.RING_ENTRIES + 2L * (last & mask)));
        if (head >= size) {
            return fail(VirtqueueError.Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, head, size);
        }
        beginWalk(chain);
        int slots = walk(chain, head);
        if (slots < 0) {
            chain.reset(memory);
            return false;
        }
        chain.finish(head, slots);
        lastAvail = (last + 1) & 0xFFFF;
        if (eventIdx && notificationsEnabled) {
            // virtio 1.2, 2.7.10: kick me when the driver writes the entry at lastAvail.
            used.set(U16, availEventOffset, (short) lastAvail);
        }
        return true;
    }

    /** Sink for the values {@link #prefetch} reads, so that the compiler keeps the loads. */
    private long prefetchSink;

    @Override
    public int prefetch(int max, long touchOffset) {
        if (!ready) {
            return 0;
        }
        final int last = lastAvail;
        final int idx = Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(avail, (long) SplitRing.RING_IDX));
        final int outstanding = (idx - last) & 0xFFFF;
        // More than size outstanding is a driver error that pop reports; read nothing ahead then.
        final int n = outstanding > size ? 0 : Math.min(max, outstanding);
        if (n <= 0) {
            return 0;
        }
        final MemorySegment table = desc;
        final int m = mask;
        final int sz = size;
        final GuestMemory mem = memory;
        long sink = 0;
        // Each entry's descriptor and, if asked, a byte of its buffer. The loop body is short, so
        // the misses of several entries are in flight at once (one loop measured a little better
        // than a pass over the descriptors followed by a pass over the buffers).
        for (int i = 0; i < n; i++) {
            int head = Short.toUnsignedInt(avail.get(U16, SplitRing.RING_ENTRIES + 2L * ((last + i) & m)));
            if (head >= sz) {
                continue;
            }
            long off = (long) head << 4;
            long addr = table.get(U64, off + SplitRing.DESC_ADDR);
            if (touchOffset < 0) {
                sink += addr;
                continue;
            }
            long len = Integer.toUnsignedLong(table.get(U32, off + SplitRing.DESC_LEN));
            if (touchOffset >= len) {
                continue;
            }
            int r = findGpa(addr, len);
            if (r >= 0) {
                sink += mem.segment(r).get(ValueLayout.JAVA_BYTE, mem.gpaOffset(r, addr) + touchOffset);
            }
        }
        prefetchSink = sink;
        return n;
    }

    @Override
    public int peekSimple(SimpleChains out, int max, boolean writable) {
        if (!beginPeek(out)) {
            return 0;
        }
        final int last = lastAvail;
        int outstanding = (cachedAvail - last) & 0xFFFF;
        if (outstanding < max && outstanding < out.capacity()) {
            // idx is read only when what was seen last time does not fill the burst.
            refreshAvail();
            if (!ready) {
                out.filled(memory, 0, false);
                return 0;
            }
            outstanding = (cachedAvail - last) & 0xFFFF;
        }
        final int n = Math.min(Math.min(max, out.capacity()), outstanding);
        final MemorySegment ring = avail;
        final MemorySegment table = desc;
        final GuestMemory mem = memory;
        final int m = mask;
        final int sz = size;
        // virtio 1.2, 2.7.5: NEXT 1, WRITE 2, INDIRECT 4; the one flag allowed here is WRITE, as asked.
        final int expected = writable ? SplitRing.F_WRITE : 0;
        int i = 0;
        for (; i < n; i++) {
            // virtio 1.2, 2.7.6: ring[idx % size]; each field read once, only the copies are used.
            int head = Short.toUnsignedInt(ring.get(U16, SplitRing.RING_ENTRIES + 2L * ((last + i) & m)));
            if (head >= sz) {
                break;
            }
            long off = (long) head << 4;
            long addr = table.get(U64, off + SplitRing.DESC_ADDR);
            int len = table.get(U32, off + SplitRing.DESC_LEN);
            int flags = Short.toUnsignedInt(table.get(U16, off + SplitRing.DESC_FLAGS));
            if (flags != expected || len < 0) {
                break;
            }
            if (!addSimple(out, i, head, addr, len)) {
                break;
            }
        }
        out.filled(mem, i, i == outstanding);
        peekLeft = i;
        return i;
    }

    @Override
    public void takeSimple(int k) {
        if (!beginTake(k)) {
            return;
        }
        lastAvail = (lastAvail + k) & 0xFFFF;
        if (eventIdx && notificationsEnabled) {
            // virtio 1.2, 2.7.10: kick me when the driver writes the entry at lastAvail (as pop does).
            used.set(U16, availEventOffset, (short) lastAvail);
        }
    }

    /**
     * Walks the chain at {@code head} again, without taking an available ring entry: for a head a
     * previous back-end took and never returned (vhost-user in-flight resubmission).
     *
     * @param chain reusable chain
     * @param head the chain head, below {@link #size()}
     * @return true if the chain is valid; false (the queue is then broken) if not, or not ready
     */
    public boolean popHead(DescriptorChain chain, int head) {
        if (!ready) {
            return false;
        }
        checkChainCapacity(chain);
        if (head < 0 || head >= size) {
            return fail(VirtqueueError.Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, head, size);
        }
        beginWalk(chain);
        int slots = walk(chain, head);
        if (slots < 0) {
            chain.reset(memory);
            return false;
        }
        chain.finish(head, slots);
        return true;
    }

    /** @return the idx field of the used ring in guest memory (acquire), or -1 if not ready */
    public int usedRingIdx() {
        if (!ready) {
            return -1;
        }
        return Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(used, (long) SplitRing.RING_IDX));
    }

    /** Reads avail idx (acquire) and checks it; true if new entries are there. */
    private boolean refreshAvail() {
        // virtio 1.2, 2.7.13.3.1: the driver updates idx after the ring entries (release); read it with acquire.
        int idx = Short.toUnsignedInt((short) U16_ATOMIC.getAcquire(avail, (long) SplitRing.RING_IDX));
        // virtio 1.2, 2.7.6: the driver cannot have more than size buffers outstanding.
        if (((idx - lastAvail) & 0xFFFF) > size) {
            fail(VirtqueueError.Rule.INVALID_AVAIL_RING_INDEX, idx, lastAvail, size);
            return false;
        }
        cachedAvail = idx;
        return idx != lastAvail;
    }

    /**
     * Walks a chain from head; returns descriptors used in the table, or -1 after a violation.
     * Indirect tables and errors are in other methods, so this body stays small enough for C2 to
     * inline into {@link #pop} (FreqInlineSize).
     */
    private int walk(DescriptorChain chain, int head) {
        MemorySegment table = desc;
        int slots = 0;
        int idx = head;
        for (;;) {
            long off = (long) idx << 4;
            // Read each guest field exactly once; only the copies are validated and used.
            long addr = table.get(U64, off + SplitRing.DESC_ADDR);
            int len = table.get(U32, off + SplitRing.DESC_LEN);
            int flags = Short.toUnsignedInt(table.get(U16, off + SplitRing.DESC_FLAGS));
            int next = Short.toUnsignedInt(table.get(U16, off + SplitRing.DESC_NEXT));
            slots++;
            if ((flags & SplitRing.F_INDIRECT) != 0) {
                return walkIndirect(chain, idx, addr, len, flags, slots);
            }
            if (!addElement(chain, addr, len, (flags & SplitRing.F_WRITE) != 0)) {
                return -1;
            }
            if ((flags & SplitRing.F_NEXT) == 0) {
                return slots;
            }
            if (next >= size) {
                return nextOutOfRange(next, size);
            }
            idx = next;
        }
    }

    /** The rest of a chain from an indirect descriptor at ring index idx; returns slots, or -1. */
    private int walkIndirect(DescriptorChain chain, int idx, long addr, int len, int flags, int slots) {
        if (!indirectDesc) {
            // virtio 1.2, 2.7.5.3.1: not unless VIRTIO_F_INDIRECT_DESC was negotiated.
            fail(VirtqueueError.Rule.INDIRECT_NOT_NEGOTIATED, idx);
            return -1;
        }
        if ((flags & SplitRing.F_NEXT) != 0) {
            // virtio 1.2, 2.7.5.3.1: "A driver MUST NOT set both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT".
            fail(VirtqueueError.Rule.INDIRECT_WITH_NEXT, idx, flags);
            return -1;
        }
        long tableLen = Integer.toUnsignedLong(len);
        // virtio 1.2, 2.7.5.3: struct virtq_desc desc[len / 16].
        if (tableLen == 0 || (tableLen & (SplitRing.DESC_SIZE - 1)) != 0) {
            fail(VirtqueueError.Rule.INDIRECT_TABLE_LENGTH_INVALID, tableLen);
            return -1;
        }
        int r = findGpa(addr, tableLen);
        if (r < 0) {
            fail(VirtqueueError.Rule.INDIRECT_TABLE_OUTSIDE_MEMORY, addr, tableLen);
            return -1;
        }
        // virtio 1.2, 2.7.5.3.2: the WRITE flag of the descriptor that refers to the table is ignored.
        MemorySegment table = memory.segment(r);
        long base = memory.gpaOffset(r, addr);
        long tableSize = tableLen >>> 4;
        int i = 0;
        for (;;) {
            long off = base + ((long) i << 4);
            long a = table.get(U64, off + SplitRing.DESC_ADDR);
            int l = table.get(U32, off + SplitRing.DESC_LEN);
            int f = Short.toUnsignedInt(table.get(U16, off + SplitRing.DESC_FLAGS));
            int next = Short.toUnsignedInt(table.get(U16, off + SplitRing.DESC_NEXT));
            if ((f & SplitRing.F_INDIRECT) != 0) {
                // virtio 1.2, 2.7.5.3.1: "The driver MUST NOT set the VIRTQ_DESC_F_INDIRECT flag within an indirect descriptor".
                fail(VirtqueueError.Rule.NESTED_INDIRECT, i);
                return -1;
            }
            // Chain length (addElement) bounds this loop: a table that links back onto itself is too long.
            if (!addElement(chain, a, l, (f & SplitRing.F_WRITE) != 0)) {
                return -1;
            }
            if ((f & SplitRing.F_NEXT) == 0) {
                return slots;
            }
            if (next >= tableSize) {
                return nextOutOfRange(next, tableSize);
            }
            i = next;
        }
    }

    private int nextOutOfRange(int next, long tableSize) {
        fail(VirtqueueError.Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, next, tableSize);
        return -1;
    }

    /**
     * Queues a used element for a head this queue popped (split rings ignore ring slots).
     *
     * @param head the chain head
     * @param len bytes written into the buffer
     */
    public void pushUsed(int head, int len) {
        if (!ready) {
            return;
        }
        if (head < 0 || head >= size) {
            fail(VirtqueueError.Rule.USED_HEAD_OUT_OF_RANGE, head, size);
            return;
        }
        long off = SplitRing.RING_ENTRIES + (long) SplitRing.USED_ENTRY_SIZE * (usedIdx & mask);
        used.set(U32, off, head);
        used.set(U32, off + 4, len);
        usedIdx = (usedIdx + 1) & 0xFFFF;
    }

    @Override
    public void pushUsed(int head, int ringSlots, int len) {
        pushUsed(head, len);
    }

    @Override
    public int publishUsed() {
        if (!ready) {
            return 0;
        }
        int n = (usedIdx - publishedUsed) & 0xFFFF;
        if (n == 0) {
            return 0;
        }
        // virtio 1.2, 2.7.8.2: "The device MUST set len prior to updating the used idx" (release store).
        U16_ATOMIC.setRelease(used, (long) SplitRing.RING_IDX, (short) usedIdx);
        publishedUsed = usedIdx;
        return n;
    }

    @Override
    public boolean needsNotification() {
        if (!ready) {
            return false;
        }
        int newIdx = publishedUsed;
        int oldIdx = notifiedUsed;
        notifiedUsed = newIdx;
        if (newIdx == oldIdx) {
            return false;
        }
        // The used idx store must be visible before we read the driver's suppression fields
        // (store-load order), or a notification the driver asked for can be lost.
        VarHandle.fullFence();
        if (eventIdx) {
            // virtio 1.2, 2.7.7.2: notify iff the used idx passed used_event; the lower bit of flags is ignored.
            int usedEvent = Short.toUnsignedInt(avail.get(U16, usedEventOffset));
            return EventIndex.needEvent(usedEvent, newIdx, oldIdx);
        }
        // virtio 1.2, 2.7.7.2: without EVENT_IDX, flags 1 (NO_INTERRUPT) means no notification.
        int flags = Short.toUnsignedInt(avail.get(U16, SplitRing.RING_FLAGS));
        return (flags & SplitRing.AVAIL_F_NO_INTERRUPT) == 0;
    }

    @Override
    public boolean enableNotifications() {
        notificationsEnabled = true;
        if (!ready) {
            return false;
        }
        writeNotificationState();
        // Re-check after enabling: a buffer made available before the driver saw the new state
        // would otherwise wait for a kick that never comes.
        VarHandle.fullFence();
        return refreshAvail();
    }

    @Override
    public void disableNotifications() {
        notificationsEnabled = false;
        if (ready) {
            writeNotificationState();
        }
    }

    private void writeNotificationState() {
        if (eventIdx) {
            // virtio 1.2, 2.7.10.2: with EVENT_IDX the device MUST set flags to 0 and MAY use avail_event.
            // Disabled: avail_event is left behind, so at most one more kick arrives.
            if (notificationsEnabled) {
                U16_ATOMIC.setRelease(used, availEventOffset, (short) lastAvail);
            }
        } else {
            // virtio 1.2, 2.7.10.2: without EVENT_IDX the device sets flags to 0 or 1 (NO_NOTIFY).
            U16_ATOMIC.setRelease(used, (long) SplitRing.RING_FLAGS,
                    (short) (notificationsEnabled ? 0 : SplitRing.USED_F_NO_NOTIFY));
        }
    }

    /** @return true if the device currently asks for kicks */
    public boolean notificationsEnabled() {
        return notificationsEnabled;
    }

    @Override
    public int lastAvailIdx() {
        return lastAvail;
    }

    @Override
    public int usedIdx() {
        return usedIdx;
    }

    @Override
    public void setLastAvailIdx(int idx) {
        peekLeft = 0;
        lastAvail = idx & 0xFFFF;
        cachedAvail = lastAvail;
        usedIdx = lastAvail;
        publishedUsed = usedIdx;
        notifiedUsed = usedIdx;
    }

    @Override
    public void setUsedIdx(int idx) {
        usedIdx = idx & 0xFFFF;
        publishedUsed = usedIdx;
        notifiedUsed = usedIdx;
    }
}

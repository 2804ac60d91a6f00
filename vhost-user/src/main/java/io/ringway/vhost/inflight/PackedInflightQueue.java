package io.ringway.vhost.inflight;

import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_ADDR_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_COUNTER_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_FLAGS_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_ID_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_INFLIGHT_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_LAST_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_LEN_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_NEXT_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_NUM_ENTRY_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_NUM_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.FEATURES_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.FREE_HEAD_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.OLD_FREE_HEAD_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.OLD_USED_IDX_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.OLD_USED_WRAP_COUNTER_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.USED_IDX_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.USED_WRAP_COUNTER_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.VERSION;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.VERSION_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.descOffset;

import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.PackedQueue;
import io.ringway.vhost.virtio.PackedRing;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.IntUnaryOperator;

/**
 * One packed queue's region of the in-flight area (vhost-user.rst, "Inflight I/O tracking",
 * packed virtqueue). A request's ring descriptors are copied into entries taken from the region's
 * free list as the device takes the request; its entries go back to the free list with its used
 * descriptor; a restarted back-end rolls back or commits the last used batch, and resubmits the
 * head entries still in flight, in counter order, from the copies (the ring slots of a request
 * still in flight may already hold used descriptors of others).
 *
 * <p>Device side, in the spec's order:
 * <ol>
 *   <li>{@link #taken} right after a pop: descriptors copied, then num, last, counter, inflight = 1,
 *       then free_head and old_free_head;</li>
 *   <li>{@link #used} with each used descriptor: remembered, nothing written yet;</li>
 *   <li>{@link #beforePublish()} just before the used flags are stored: each entry chain goes back
 *       to the free list, used_idx and used_wrap_counter move on;</li>
 *   <li>{@link #published()} after the flags were stored: inflight = 0 for the batch, then
 *       old_free_head, old_used_idx, old_used_wrap_counter catch up.</li>
 * </ol>
 * Steps 3 and 4 both happen in the publication, not at each used descriptor, so that a pop
 * between two used descriptors never takes an entry whose request is not yet published (a crash
 * would then roll back the free list under an entry in use).
 *
 * <p>A request whose buffer id is not tracked (the free list ran out, which only a driver that
 * reuses buffer ids still in flight can cause) goes untracked; recovery after a crash is then
 * as good as the driver's own state. Owned by the queue's lcore; not thread-safe.
 */
public final class PackedInflightQueue {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U8_ATOMIC = ValueLayout.JAVA_BYTE.varHandle();
    private static final VarHandle U16_ATOMIC = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final char NO_ENTRY = 0xFFFF;

    private final MemorySegment region;
    private final int size;
    /** Head entry of each buffer id in flight (ids are 16 bits; NO_ENTRY if untracked). */
    private final char[] entryOfId = new char[1 << 16];
    /** Our own copies of each head entry's num and last: the region is front-end memory. */
    private final int[] numOf;
    private final int[] lastOf;
    private final int[] batch;
    private int batchCount;
    private int batchSlots;
    private int freeHead;
    private int freeCount;
    private int usedIdx;
    private int usedWrap;
    private long counter;
    private boolean fresh;
    private int resumeAvail;
    // Resubmission scratch (cold path).
    private final long[] addrs;
    private final int[] lens;
    private final int[] flags;

    private PackedInflightQueue(MemorySegment region, int size, boolean fresh) {
        this.region = region;
        this.size = size;
        this.fresh = fresh;
        this.numOf = new int[size];
        this.lastOf = new int[size];
        this.batch = new int[size];
        this.addrs = new long[size];
        this.lens = new int[size];
        this.flags = new int[size];
        Arrays.fill(entryOfId, NO_ENTRY);
    }

    /**
     * Attaches to queue {@code queueIndex}'s region of an in-flight area. A fresh region (version 0)
     * is formatted: desc_num = {@code ringSize}, every entry in the free list (next = i + 1), both
     * wrap counters 1, version 1. A region of version 1 keeps its contents for {@link #recover}.
     *
     * @param area the whole mapped area
     * @param queueIndex the queue
     * @param regionQueueSize queue_size of the area's description: fixes where each region starts
     * @param ringSize the size of the ring this region tracks (SET_VRING_NUM)
     * @throws InflightAreaException if the area is too small, misaligned, or holds another layout
     */
    public static PackedInflightQueue attach(MemorySegment area, int queueIndex, int regionQueueSize, int ringSize) {
        MemorySegment region = InflightRegions.slice(area, queueIndex,
                PackedInflightDescriptor.queueRegionSize(regionQueueSize), regionQueueSize, ringSize);
        boolean fresh = InflightRegions.isFresh(region, queueIndex, ringSize);
        if (fresh) {
            region.fill((byte) 0);
            region.set(U16, DESC_NUM_OFFSET, (short) ringSize);
            region.set(U64, FEATURES_OFFSET, 0L);
            for (int i = 0; i < ringSize; i++) {
                region.set(U16, descOffset(i) + DESC_NEXT_OFFSET, (short) (i + 1));
            }
            region.set(ValueLayout.JAVA_BYTE, USED_WRAP_COUNTER_OFFSET, (byte) 1);
            region.set(ValueLayout.JAVA_BYTE, OLD_USED_WRAP_COUNTER_OFFSET, (byte) 1);
            U16_ATOMIC.setRelease(region, VERSION_OFFSET, (short) VERSION);
        }
        return new PackedInflightQueue(region, ringSize, fresh);
    }

    /** @return the number of entries (the ring size) */
    public int size() {
        return size;
    }

    /**
     * The recovery procedure (vhost-user.rst, "When reconnecting", packed). If used_idx differs from
     * old_used_idx, a used batch was being published: the ring descriptor at old_used_idx says
     * whether the driver can see it (still available in the old used wrap: roll back; otherwise
     * commit). Then free_head, used_idx and used_wrap_counter take the old values, every entry of
     * the free list is marked not in flight, and the head entries still in flight are returned in
     * counter order. For a region just formatted, the used position is {@code ringUsedIdx}.
     *
     * @param ringUsedIdx the ring's used position (wrap counter in bit 15) as SET_VRING_BASE gave it;
     *     only used for a fresh region
     * @param ringFlags reads the flags of a ring descriptor position (acquire)
     * @return head entries to submit again with {@link #resubmit}, oldest first
     * @throws InflightAreaException if the region's links, positions or flags are not ones a device wrote
     */
    public int[] recover(int ringUsedIdx, IntUnaryOperator ringFlags) {
        batchCount = 0;
        batchSlots = 0;
        Arrays.fill(entryOfId, NO_ENTRY);
        if (fresh) {
            fresh = false;
            usedIdx = ringUsedIdx & 0x7FFF;
            usedWrap = (ringUsedIdx >>> 15) & 1;
            if (usedIdx >= size) {
                throw new InflightAreaException(InflightAreaException.Rule.FREE_LIST_INVALID, "used position "
                        + usedIdx + ", the queue has " + size);
            }
            freeHead = 0;
            freeCount = size;
            counter = 0;
            resumeAvail = usedIdx | (usedWrap << 15);
            writeUsedState();
            writeOld();
            return new int[0];
        }
        // Copy each front-end-controlled header field once and check the copy.
        int free = u16(FREE_HEAD_OFFSET);
        int oldFree = u16(OLD_FREE_HEAD_OFFSET);
        int used = u16(USED_IDX_OFFSET);
        int oldUsed = u16(OLD_USED_IDX_OFFSET);
        int wrap = u8(USED_WRAP_COUNTER_OFFSET);
        int oldWrap = u8(OLD_USED_WRAP_COUNTER_OFFSET);
        if (used >= size || oldUsed >= size) {
            throw new InflightAreaException(InflightAreaException.Rule.FREE_LIST_INVALID, "used_idx " + used
                    + ", old_used_idx " + oldUsed + ", the queue has " + size);
        }
        if (wrap > 1 || oldWrap > 1) {
            throw new InflightAreaException(InflightAreaException.Rule.WRAP_COUNTER_INVALID, "used_wrap_counter "
                    + wrap + ", old_used_wrap_counter " + oldWrap);
        }
        if (used != oldUsed || wrap != oldWrap) {
            int f = ringFlags.applyAsInt(oldUsed);
            if (!PackedRing.isAvailable(f, oldWrap)) {
                // The driver can see the batch: commit it.
                oldFree = free;
                oldUsed = used;
                oldWrap = wrap;
            }
        }
        // Roll back anything in progress.
        freeHead = oldFree;
        usedIdx = oldUsed;
        usedWrap = oldWrap;
        writeUsedState();
        writeOld();
        // Every entry of the free list is not in flight.
        int n = 0;
        boolean[] inFree = new boolean[size];
        for (int e = freeHead; e < size; e = u16(descOffset(e) + DESC_NEXT_OFFSET)) {
            if (inFree[e]) {
                throw new InflightAreaException(InflightAreaException.Rule.FREE_LIST_INVALID, "the free list loops at entry "
                        + e);
            }
            inFree[e] = true;
            n++;
            U8_ATOMIC.setRelease(region, descOffset(e) + DESC_INFLIGHT_OFFSET, (byte) 0);
        }
        freeCount = n;
        // The head entries still in flight, each with a chain of num entries that are not free.
        int heads = 0;
        int[] head = new int[size];
        long[] order = new long[size];
        long max = -1;
        int slots = 0;
        for (int i = 0; i < size; i++) {
            int flag = u8(descOffset(i) + DESC_INFLIGHT_OFFSET);
            if (flag == 0) {
                continue;
            }
            if (flag != 1) {
                throw new InflightAreaException(InflightAreaException.Rule.INFLIGHT_FLAG_INVALID, "entry " + i
                        + ": inflight " + flag);
            }
            int num = u16(descOffset(i) + DESC_NUM_ENTRY_OFFSET);
            int e = i;
            for (int k = 1; k < num && e < size; k++) {
                e = u16(descOffset(e) + DESC_NEXT_OFFSET);
            }
            int last = u16(descOffset(i) + DESC_LAST_OFFSET);
            if (num < 1 || num > size || e >= size || last != e || inFree[i]) {
                throw new InflightAreaException(InflightAreaException.Rule.CHAIN_INVALID, "in-flight entry " + i
                        + ": num " + num + ", last " + last + ", chain ends at " + e);
            }
            slots += num;
            numOf[i] = num;
            lastOf[i] = last;
            long c = region.get(U64, descOffset(i) + DESC_COUNTER_OFFSET);
            head[heads] = i;
            order[heads] = c;
            heads++;
            if (heads == 1 || Long.compareUnsigned(c, max) > 0) {
                max = c;
            }
        }
        if (slots > size) {
            throw new InflightAreaException(InflightAreaException.Rule.CHAIN_INVALID, "requests in flight hold "
                    + slots + " ring descriptors, the queue has " + size);
        }
        int[] result = InflightRegions.inCounterOrder(head, order, heads);
        counter = heads == 0 ? 0 : max + 1;
        // The device took used + the slots still in flight.
        int avail = usedIdx + slots;
        int availWrap = usedWrap;
        if (avail >= size) {
            avail -= size;
            availWrap ^= 1;
        }
        resumeAvail = avail | (availWrap << 15);
        return result;
    }

    /** @return where the ring resumes reading after {@link #recover}: position, avail wrap counter in bit 15 */
    public int resumeAvailIdx() {
        return resumeAvail;
    }

    /** @return where the ring resumes writing used descriptors: position, used wrap counter in bit 15 */
    public int resumeUsedIdx() {
        return usedIdx | (usedWrap << 15);
    }

    /**
     * Submits head entry {@code entry} again (returned by {@link #recover}): its chain is rebuilt
     * from the copied descriptors and validated by the queue. It stays in flight: a second crash
     * resubmits it again.
     *
     * @return false if the queue refused the chain (the queue is then broken and says why)
     */
    public boolean resubmit(PackedQueue queue, DescriptorChain chain, int entry) {
        int num = numOf[entry];
        int e = entry;
        for (int k = 0; k < num; k++) {
            long off = descOffset(e);
            addrs[k] = region.get(U64, off + DESC_ADDR_OFFSET);
            lens[k] = region.get(U32, off + DESC_LEN_OFFSET);
            flags[k] = u16(off + DESC_FLAGS_OFFSET);
            if (k < num - 1) {
                e = u16(off + DESC_NEXT_OFFSET);
            }
        }
        // virtio 1.2, 2.8.6: the buffer id is in the last descriptor of the list.
        int id = u16(descOffset(e) + DESC_ID_OFFSET);
        if (!queue.popRecorded(chain, addrs, lens, flags, num, id)) {
            return false;
        }
        entryOfId[id] = (char) entry;
        return true;
    }

    /**
     * Records a request the queue just popped: its {@code chain.ringSlots()} ring descriptors, which
     * end just before the queue's next avail position, are copied into entries of the free list.
     */
    public void taken(PackedQueue queue, DescriptorChain chain) {
        int num = chain.ringSlots();
        int id = chain.head() & 0xFFFF;
        if (num > freeCount || num < 1 || entryOfId[id] != NO_ENTRY) {
            return;
        }
        int pos = (queue.lastAvailIdx() & 0x7FFF) - num;
        if (pos < 0) {
            pos += size;
        }
        int h = freeHead;
        int e = h;
        int last = h;
        for (int k = 0; k < num; k++) {
            long off = descOffset(e);
            region.set(U64, off + DESC_ADDR_OFFSET, queue.ringDescriptorAddr(pos));
            region.set(U32, off + DESC_LEN_OFFSET, queue.ringDescriptorLen(pos));
            region.set(U16, off + DESC_ID_OFFSET, (short) queue.ringDescriptorId(pos));
            region.set(U16, off + DESC_FLAGS_OFFSET, (short) queue.ringDescriptorFlags(pos));
            last = e;
            // Our own entries: the links were checked when the list was recovered or formatted.
            e = u16(off + DESC_NEXT_OFFSET);
            if (++pos == size) {
                pos = 0;
            }
        }
        long hoff = descOffset(h);
        region.set(U16, hoff + DESC_NUM_ENTRY_OFFSET, (short) num);
        region.set(U16, hoff + DESC_LAST_OFFSET, (short) last);
        region.set(U64, hoff + DESC_COUNTER_OFFSET, counter++);
        U8_ATOMIC.setRelease(region, hoff + DESC_INFLIGHT_OFFSET, (byte) 1);
        freeHead = e;
        freeCount -= num;
        region.set(U16, FREE_HEAD_OFFSET, (short) e);
        U16_ATOMIC.setRelease(region, OLD_FREE_HEAD_OFFSET, (short) e);
        numOf[h] = num;
        lastOf[h] = last;
        entryOfId[id] = (char) h;
    }

    /**
     * A used descriptor for buffer {@code id} taking {@code ringSlots} positions was queued; it
     * reaches the region in {@link #beforePublish()}.
     */
    public void used(int id, int ringSlots) {
        batchSlots += ringSlots;
        int entry = entryOfId[id & 0xFFFF];
        if (entry == NO_ENTRY || batchCount == batch.length) {
            return;
        }
        entryOfId[id & 0xFFFF] = NO_ENTRY;
        batch[batchCount++] = entry;
    }

    /**
     * Steps 1 to 6 of "When supplying used buffers": each head entry's chain goes back to the free
     * list (desc[last].next = free_head, free_head = entry), used_idx and used_wrap_counter move by
     * the batch. Call just before the used flags are stored (that release store orders these).
     */
    public void beforePublish() {
        for (int i = 0; i < batchCount; i++) {
            int entry = batch[i];
            region.set(U16, descOffset(lastOf[entry]) + DESC_NEXT_OFFSET, (short) freeHead);
            freeHead = entry;
            freeCount += numOf[entry];
        }
        usedIdx += batchSlots;
        while (usedIdx >= size) {
            usedIdx -= size;
            usedWrap ^= 1;
        }
        batchSlots = 0;
        writeUsedState();
    }

    /**
     * The batch's flags were stored: inflight = 0 for each of its head entries, then the old_*
     * fields take the current values.
     */
    public void published() {
        for (int i = 0; i < batchCount; i++) {
            U8_ATOMIC.setRelease(region, descOffset(batch[i]) + DESC_INFLIGHT_OFFSET, (byte) 0);
        }
        batchCount = 0;
        writeOld();
    }

    /** @return true if head entry {@code entry} is marked in flight (tests, diagnostics) */
    public boolean isInflight(int entry) {
        return entry >= 0 && entry < size && u8(descOffset(entry) + DESC_INFLIGHT_OFFSET) != 0;
    }

    /** @return the head entry of buffer {@code id} in flight, or -1 */
    public int entryOf(int id) {
        int e = entryOfId[id & 0xFFFF];
        return e == NO_ENTRY ? -1 : e;
    }

    private void writeUsedState() {
        region.set(U16, FREE_HEAD_OFFSET, (short) freeHead);
        region.set(U16, USED_IDX_OFFSET, (short) usedIdx);
        U8_ATOMIC.setRelease(region, USED_WRAP_COUNTER_OFFSET, (byte) usedWrap);
    }

    private void writeOld() {
        region.set(U16, OLD_FREE_HEAD_OFFSET, (short) freeHead);
        region.set(U16, OLD_USED_IDX_OFFSET, (short) usedIdx);
        U8_ATOMIC.setRelease(region, OLD_USED_WRAP_COUNTER_OFFSET, (byte) usedWrap);
    }

    private int u16(long offset) {
        return Short.toUnsignedInt(region.get(U16, offset));
    }

    private int u8(long offset) {
        return Byte.toUnsignedInt(region.get(ValueLayout.JAVA_BYTE, offset));
    }
}

package io.ringway.vhost.inflight;

import static io.ringway.vhost.inflight.SplitInflightDescriptor.DESC_COUNTER_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.DESC_INFLIGHT_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.DESC_NEXT_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.DESC_NUM_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.FEATURES_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.LAST_BATCH_HEAD_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.USED_IDX_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.VERSION;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.VERSION_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.descOffset;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * One split queue's region of the in-flight area (vhost-user.rst, "Inflight I/O tracking"): the
 * device records every head it takes from the available ring and every head it returns, so that
 * a back-end restarted after a crash knows which requests to submit again.
 *
 * <p>Device side, in the spec's order:
 * <ol>
 *   <li>{@link #taken(int)} right after a pop, before the request is processed: counter, then inflight = 1;</li>
 *   <li>{@link #used(int)} with each used element, before the used idx is published:
 *       desc[head].next = last_batch_head, last_batch_head = head;</li>
 *   <li>{@link #published(int)} after the used idx was published: inflight = 0 for the batch,
 *       then used_idx = the ring's used idx.</li>
 * </ol>
 * Each ordering-critical store is a release store, so the JIT cannot move a later store of the
 * area before an earlier store to the ring, and a crash (the process dies; the shared memory stays)
 * leaves a state {@link #recover(int)} can repair.
 *
 * <p>Owned by the queue's lcore; not thread-safe.
 */
public final class SplitInflightQueue {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U8_ATOMIC = ValueLayout.JAVA_BYTE.varHandle();
    private static final VarHandle U16_ATOMIC = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    private final MemorySegment region;
    private final int size;
    private final int[] batch;
    private int batchCount;
    private int lastBatchHead;
    private long counter;
    private boolean fresh;

    private SplitInflightQueue(MemorySegment region, int size, boolean fresh) {
        this.region = region;
        this.size = size;
        this.fresh = fresh;
        this.batch = new int[size];
        this.lastBatchHead = Short.toUnsignedInt(region.get(U16, LAST_BATCH_HEAD_OFFSET));
    }

    /**
     * Attaches to queue {@code queueIndex}'s region of an in-flight area. A fresh region (version 0,
     * as the back-end allocates it) is formatted: version 1, desc_num = {@code ringSize}, every
     * state zero. A region of version 1 keeps its contents for {@link #recover(int)}.
     *
     * @param area the whole mapped area
     * @param queueIndex the queue
     * @param regionQueueSize queue_size of the area's description: fixes where each region starts
     * @param ringSize the size of the ring this region tracks (SET_VRING_NUM)
     * @throws InflightAreaException if the area is too small, misaligned, or holds another layout
     */
    public static SplitInflightQueue attach(MemorySegment area, int queueIndex, int regionQueueSize, int ringSize) {
        MemorySegment region = InflightRegions.slice(area, queueIndex,
                SplitInflightDescriptor.queueRegionSize(regionQueueSize), regionQueueSize, ringSize);
        boolean fresh = InflightRegions.isFresh(region, queueIndex, ringSize);
        if (fresh) {
            region.fill((byte) 0);
            region.set(U16, DESC_NUM_OFFSET, (short) ringSize);
            region.set(U64, FEATURES_OFFSET, 0L);
            U16_ATOMIC.setRelease(region, VERSION_OFFSET, (short) VERSION);
        }
        return new SplitInflightQueue(region, ringSize, fresh);
    }

    /** @return the number of descriptors tracked */
    public int size() {
        return size;
    }

    /**
     * The recovery procedure (vhost-user.rst, "When reconnecting"): if used_idx differs from the
     * ring's used idx, the crash came between publishing a batch and clearing it, so the batch
     * (found from last_batch_head through the next links) is cleared and used_idx catches up; then
     * every head still in flight is returned in the order the device took them (counter order).
     * The counter continues after the largest one found.
     *
     * @param usedRingIdx the idx field of the used ring, read from guest memory
     * @return heads to submit again, oldest first
     * @throws InflightAreaException if the region's links or flags are not ones a device wrote
     */
    public int[] recover(int usedRingIdx) {
        int usedIdx = usedRingIdx & 0xFFFF;
        if (fresh) {
            // Just formatted: nothing was in flight; the region starts at the ring's used idx.
            fresh = false;
            U16_ATOMIC.setRelease(region, USED_IDX_OFFSET, (short) usedIdx);
            return new int[0];
        }
        int recorded = Short.toUnsignedInt(region.get(U16, USED_IDX_OFFSET));
        if (recorded != usedIdx) {
            int batchSize = (usedIdx - recorded) & 0xFFFF;
            if (batchSize > size) {
                throw new InflightAreaException(InflightAreaException.Rule.BATCH_TOO_LARGE, "used idx " + usedIdx
                        + " is " + batchSize + " past used_idx " + recorded + ", the queue has " + size);
            }
            int head = Short.toUnsignedInt(region.get(U16, LAST_BATCH_HEAD_OFFSET));
            for (int i = 0; i < batchSize; i++) {
                if (head >= size) {
                    throw new InflightAreaException(i == 0 ? InflightAreaException.Rule.LAST_BATCH_HEAD_OUT_OF_RANGE
                            : InflightAreaException.Rule.BATCH_NEXT_OUT_OF_RANGE, "head " + head + " at position " + i
                            + " of the last batch, the queue has " + size);
                }
                U8_ATOMIC.setRelease(region, descOffset(head) + DESC_INFLIGHT_OFFSET, (byte) 0);
                head = Short.toUnsignedInt(region.get(U16, descOffset(head) + DESC_NEXT_OFFSET));
            }
            U16_ATOMIC.setRelease(region, USED_IDX_OFFSET, (short) usedIdx);
        }
        int n = 0;
        long[] found = new long[size];
        int[] heads = new int[size];
        long max = -1;
        for (int i = 0; i < size; i++) {
            int flag = Byte.toUnsignedInt(region.get(ValueLayout.JAVA_BYTE, descOffset(i) + DESC_INFLIGHT_OFFSET));
            if (flag == 0) {
                continue;
            }
            if (flag != 1) {
                throw new InflightAreaException(InflightAreaException.Rule.INFLIGHT_FLAG_INVALID, "descriptor " + i
                        + ": inflight " + flag);
            }
            long c = region.get(U64, descOffset(i) + DESC_COUNTER_OFFSET);
            found[n] = c;
            heads[n] = i;
            n++;
            if (n == 1 || Long.compareUnsigned(c, max) > 0) {
                max = c;
            }
        }
        int[] result = InflightRegions.inCounterOrder(heads, found, n);
        counter = n == 0 ? 0 : max + 1;
        lastBatchHead = Short.toUnsignedInt(region.get(U16, LAST_BATCH_HEAD_OFFSET));
        batchCount = 0;
        return result;
    }

    /**
     * Records that the device took {@code head} from the available ring: counter first, then
     * inflight = 1 (release).
     */
    public void taken(int head) {
        if (head < 0 || head >= size) {
            return;
        }
        long off = descOffset(head);
        region.set(U64, off + DESC_COUNTER_OFFSET, counter++);
        U8_ATOMIC.setRelease(region, off + DESC_INFLIGHT_OFFSET, (byte) 1);
    }

    /**
     * Adds {@code head} to the batch of used elements not yet published: desc[head].next =
     * last_batch_head, then last_batch_head = head. Call with the used element, before the used
     * idx is published (the ring's release store orders these stores before it).
     */
    public void used(int head) {
        if (head < 0 || head >= size || batchCount == batch.length) {
            return;
        }
        region.set(U16, descOffset(head) + DESC_NEXT_OFFSET, (short) lastBatchHead);
        region.set(U16, LAST_BATCH_HEAD_OFFSET, (short) head);
        lastBatchHead = head;
        batch[batchCount++] = head;
    }

    /**
     * The batch was published (the ring's used idx is now {@code usedIdx}): inflight = 0 for each
     * of its heads, then used_idx = {@code usedIdx}.
     */
    public void published(int usedIdx) {
        for (int i = 0; i < batchCount; i++) {
            U8_ATOMIC.setRelease(region, descOffset(batch[i]) + DESC_INFLIGHT_OFFSET, (byte) 0);
        }
        batchCount = 0;
        U16_ATOMIC.setRelease(region, USED_IDX_OFFSET, (short) usedIdx);
    }

    /** @return true if {@code head} is marked in flight (tests, diagnostics) */
    public boolean isInflight(int head) {
        return head >= 0 && head < size
                && region.get(ValueLayout.JAVA_BYTE, descOffset(head) + DESC_INFLIGHT_OFFSET) != 0;
    }
}

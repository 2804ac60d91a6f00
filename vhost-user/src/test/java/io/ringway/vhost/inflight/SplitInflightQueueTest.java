package io.ringway.vhost.inflight;

import static io.ringway.vhost.inflight.SplitInflightDescriptor.DESC_COUNTER_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.DESC_INFLIGHT_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.DESC_NEXT_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.DESC_NUM_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.LAST_BATCH_HEAD_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.USED_IDX_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.VERSION_OFFSET;
import static io.ringway.vhost.inflight.SplitInflightDescriptor.descOffset;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** vhost-user.rst, "Inflight I/O tracking": the split queue region, one rule per test. */
class SplitInflightQueueTest {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int QS = 8;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment area = arena.allocate(2 * SplitInflightDescriptor.queueRegionSize(QS), 64);

    @AfterEach
    void close() {
        arena.close();
    }

    /** A region as a device of version 1 left it: used_idx, last_batch_head, and {head, counter} in flight. */
    private MemorySegment handBuilt(int queue, int usedIdx, int lastBatchHead, long[][] inflight) {
        MemorySegment r = area.asSlice(queue * SplitInflightDescriptor.queueRegionSize(QS),
                SplitInflightDescriptor.queueRegionSize(QS));
        r.set(U16, VERSION_OFFSET, (short) 1);
        r.set(U16, DESC_NUM_OFFSET, (short) QS);
        r.set(U16, USED_IDX_OFFSET, (short) usedIdx);
        r.set(U16, LAST_BATCH_HEAD_OFFSET, (short) lastBatchHead);
        for (long[] e : inflight) {
            r.set(ValueLayout.JAVA_BYTE, descOffset((int) e[0]) + DESC_INFLIGHT_OFFSET, (byte) 1);
            r.set(U64, descOffset((int) e[0]) + DESC_COUNTER_OFFSET, e[1]);
        }
        return r;
    }

    @Test
    void freshRegionIsFormattedAndHasNothingInFlight() {
        area.fill((byte) 0x5a);
        area.asSlice(0, 16).fill((byte) 0);
        SplitInflightQueue q = SplitInflightQueue.attach(area, 0, QS, QS);
        assertEquals(0, q.recover(7).length);
        assertEquals(1, area.get(U16, VERSION_OFFSET));
        assertEquals(QS, area.get(U16, DESC_NUM_OFFSET));
        assertEquals(7, area.get(U16, USED_IDX_OFFSET));
        for (int i = 0; i < QS; i++) {
            assertFalse(q.isInflight(i));
        }
    }

    @Test
    void crashBeforeUsedUpdateResubmitsEverythingTaken() {
        // Heads 3 and 5 taken (counters 10, 11); the crash came before any used element.
        handBuilt(0, 4, 0, new long[][] {{3, 10}, {5, 11}});
        SplitInflightQueue q = SplitInflightQueue.attach(area, 0, QS, QS);
        assertArrayEquals(new int[] {3, 5}, q.recover(4));
    }

    @Test
    void crashAfterUsedRingUpdateBeforeInflightClearDropsTheLastBatch() {
        // Heads 2, 6, 1 in flight; 6 then 1 were returned in one batch (1.next = 6, 6.next = old head 0),
        // the used idx went from 4 to 6, and the crash came before their inflight flags were cleared.
        MemorySegment r = handBuilt(0, 4, 1, new long[][] {{2, 20}, {6, 21}, {1, 22}});
        r.set(U16, descOffset(1) + DESC_NEXT_OFFSET, (short) 6);
        r.set(U16, descOffset(6) + DESC_NEXT_OFFSET, (short) 0);
        SplitInflightQueue q = SplitInflightQueue.attach(area, 0, QS, QS);
        assertArrayEquals(new int[] {2}, q.recover(6));
        assertEquals(6, r.get(U16, USED_IDX_OFFSET));
        assertFalse(q.isInflight(6));
        assertFalse(q.isInflight(1));
        assertTrue(q.isInflight(2));
    }

    @Test
    void crashHalfwayThroughClearingTheBatchIsRepairedToo() {
        // As above, but 6 was already cleared when the crash came.
        MemorySegment r = handBuilt(0, 4, 1, new long[][] {{2, 20}, {1, 22}});
        r.set(U16, descOffset(1) + DESC_NEXT_OFFSET, (short) 6);
        SplitInflightQueue q = SplitInflightQueue.attach(area, 0, QS, QS);
        assertArrayEquals(new int[] {2}, q.recover(6));
    }

    @Test
    void inflightHeadsAreResubmittedInCounterOrder() {
        handBuilt(0, 0, 0, new long[][] {{7, 31}, {0, 29}, {4, 30}, {2, 33}});
        SplitInflightQueue q = SplitInflightQueue.attach(area, 0, QS, QS);
        assertArrayEquals(new int[] {0, 4, 7, 2}, q.recover(0));
        // The counter continues after the largest: a new head orders after every resubmitted one.
        q.taken(5);
        assertEquals(34, area.get(U64, descOffset(5) + DESC_COUNTER_OFFSET));
    }

    @Test
    void usedIdxWrapsAt16Bits() {
        MemorySegment r = handBuilt(0, 0xFFFF, 3, new long[][] {{3, 1}, {4, 2}});
        r.set(U16, descOffset(3) + DESC_NEXT_OFFSET, (short) 0);
        SplitInflightQueue q = SplitInflightQueue.attach(area, 0, QS, QS);
        assertArrayEquals(new int[] {4}, q.recover(0));
    }

    @Test
    void deviceSideOrderLeavesARecoverableStateAtEveryStep() {
        SplitInflightQueue q = SplitInflightQueue.attach(area, 0, QS, QS);
        q.recover(0);
        q.taken(2);
        q.taken(5);
        q.used(5);
        q.used(2);
        // Published (used idx 0 -> 2) but not cleared: recovery drops the batch.
        SplitInflightQueue after = SplitInflightQueue.attach(area, 0, QS, QS);
        assertArrayEquals(new int[0], after.recover(2));
        // Not published: both are resubmitted, 2 first (taken first).
        q = SplitInflightQueue.attach(area, 0, QS, QS);
        q.recover(2);
        q.taken(2);
        q.taken(5);
        q.used(5);
        assertArrayEquals(new int[] {2, 5}, SplitInflightQueue.attach(area, 0, QS, QS).recover(2));
        q.published(3);
        assertArrayEquals(new int[] {2}, SplitInflightQueue.attach(area, 0, QS, QS).recover(3));
    }

    @Test
    void secondQueueRegionStartsAtTheAlignedStride() {
        handBuilt(1, 0, 0, new long[][] {{6, 1}});
        assertArrayEquals(new int[] {6}, SplitInflightQueue.attach(area, 1, QS, QS).recover(0));
        assertEquals(0, SplitInflightQueue.attach(area, 0, QS, QS).recover(0).length);
    }

    @Test
    void descNumNotMatchingTheRingIsRejected() {
        handBuilt(0, 0, 0, new long[0][]);
        var e = assertThrows(InflightAreaException.class, () -> SplitInflightQueue.attach(area, 0, QS, QS / 2));
        assertEquals(InflightAreaException.Rule.DESC_NUM_MISMATCH, e.rule());
    }

    @Test
    void unknownVersionIsRejected() {
        handBuilt(0, 0, 0, new long[0][]).set(U16, VERSION_OFFSET, (short) 2);
        var e = assertThrows(InflightAreaException.class, () -> SplitInflightQueue.attach(area, 0, QS, QS));
        assertEquals(InflightAreaException.Rule.UNKNOWN_VERSION, e.rule());
    }

    @Test
    void areaTooSmallForTheQueueIsRejected() {
        var e = assertThrows(InflightAreaException.class, () -> SplitInflightQueue.attach(area, 2, QS, QS));
        assertEquals(InflightAreaException.Rule.AREA_TOO_SMALL, e.rule());
        assertThrows(InflightAreaException.class, () -> SplitInflightQueue.attach(area.asSlice(0, 100), 0, QS, QS));
    }

    @Test
    void misalignedRegionIsRejected() {
        var e = assertThrows(InflightAreaException.class, () -> SplitInflightQueue.attach(area.asSlice(3), 0, QS, QS));
        assertEquals(InflightAreaException.Rule.AREA_MISALIGNED, e.rule());
    }

    @Test
    void lastBatchHeadOutOfRangeIsRejected() {
        handBuilt(0, 0, 200, new long[0][]);
        var e = assertThrows(InflightAreaException.class, () -> SplitInflightQueue.attach(area, 0, QS, QS).recover(1));
        assertEquals(InflightAreaException.Rule.LAST_BATCH_HEAD_OUT_OF_RANGE, e.rule());
    }

    @Test
    void batchNextOutOfRangeIsRejected() {
        handBuilt(0, 0, 1, new long[0][]).set(U16, descOffset(1) + DESC_NEXT_OFFSET, (short) 9000);
        var e = assertThrows(InflightAreaException.class, () -> SplitInflightQueue.attach(area, 0, QS, QS).recover(2));
        assertEquals(InflightAreaException.Rule.BATCH_NEXT_OUT_OF_RANGE, e.rule());
    }

    @Test
    void batchLargerThanTheQueueIsRejected() {
        handBuilt(0, 0, 1, new long[0][]);
        var e = assertThrows(InflightAreaException.class, () -> SplitInflightQueue.attach(area, 0, QS, QS).recover(QS + 1));
        assertEquals(InflightAreaException.Rule.BATCH_TOO_LARGE, e.rule());
    }

    @Test
    void inflightFlagOtherThanZeroOrOneIsRejected() {
        handBuilt(0, 0, 0, new long[0][]).set(ValueLayout.JAVA_BYTE, descOffset(3), (byte) 7);
        var e = assertThrows(InflightAreaException.class, () -> SplitInflightQueue.attach(area, 0, QS, QS).recover(0));
        assertEquals(InflightAreaException.Rule.INFLIGHT_FLAG_INVALID, e.rule());
    }
}

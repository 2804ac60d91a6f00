package io.ringway.vhost.inflight;

import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_INFLIGHT_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_NEXT_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_NUM_ENTRY_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.DESC_NUM_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.OLD_USED_WRAP_COUNTER_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.USED_WRAP_COUNTER_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.VERSION_OFFSET;
import static io.ringway.vhost.inflight.PackedInflightDescriptor.descOffset;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.DriverPackedQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryRegion;
import io.ringway.vhost.virtio.PackedQueue;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioFeatures;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** vhost-user.rst, "Inflight I/O tracking", packed virtqueue: one rule per test, plus a crash model. */
class PackedInflightQueueTest {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
            | VirtioFeatures.mask(VirtioFeatures.RING_PACKED) | VirtioFeatures.mask(VirtioFeatures.INDIRECT_DESC);
    private static final int QS = 8;
    private static final long BUFFERS = 0x80000;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment ram = arena.allocate(1 << 20, 4096);
    private final GuestMemory memory = GuestMemory.of(GuestMemoryRegion.of(0, ram));
    private final MemorySegment area = arena.allocate(2 * PackedInflightDescriptor.queueRegionSize(QS), 64);
    private final DriverPackedQueue driver = new DriverPackedQueue(memory, QS, 0x1000, 0x2000, 0x3000, FEATURES);
    private final QueueConfig config = driver.config(FEATURES);
    private final DescriptorChain chain = new DescriptorChain(QS);
    /** Driver's view: first buffer address of each id it posted and has not seen used. */
    private final Map<Integer, Long> outstanding = new HashMap<>();
    private int posted;

    @AfterEach
    void close() {
        arena.close();
    }

    /** One "back-end": a device queue on the shared ring plus a tracker on the shared area. */
    private final class Device {
        final PackedQueue queue = new PackedQueue(QS);
        final PackedInflightQueue tracker;
        final List<Integer> resubmit = new ArrayList<>();

        Device(int freshUsedIdx) {
            queue.setLastAvailIdx(freshUsedIdx);
            queue.activate(memory, config);
            tracker = PackedInflightQueue.attach(area, 0, QS, QS);
            for (int e : tracker.recover(queue.usedIdx(), queue::ringDescriptorFlags)) {
                resubmit.add(e);
            }
            queue.resume(tracker.resumeAvailIdx(), tracker.resumeUsedIdx());
        }

        /** Pops one request (resubmitted ones first): its id, or -1. */
        int pop() {
            if (!resubmit.isEmpty()) {
                assertTrue(tracker.resubmit(queue, chain, resubmit.remove(0)), () -> "resubmit: " + queue.brokenReason());
                return chain.head();
            }
            if (!queue.pop(chain)) {
                return -1;
            }
            tracker.taken(queue, chain);
            return chain.head();
        }

        void used(int id, int slots) {
            queue.pushUsed(id, slots, 0);
            tracker.used(id, slots);
        }

        void publishAll() {
            tracker.beforePublish();
            queue.publishUsed();
            tracker.published();
        }
    }

    /** Posts a request of 1 to 3 descriptors (or an indirect one); returns its id. */
    private int post(Random rnd) {
        long base = BUFFERS + 0x1000L * (posted++ % 64);
        int kind = rnd.nextInt(4);
        int id;
        if (kind == 3) {
            id = driver.addIndirect(base + 0x800, new long[] {base, base + 0x100}, new int[] {16, 512},
                    new boolean[] {false, true}, 2);
        } else {
            int n = kind + 1;
            long[] a = new long[n];
            int[] l = new int[n];
            boolean[] w = new boolean[n];
            for (int i = 0; i < n; i++) {
                a[i] = base + 0x100L * i;
                l[i] = 64;
                w[i] = i == n - 1;
            }
            id = driver.add(a, l, w, n);
        }
        if (id >= 0) {
            driver.publish();
            outstanding.put(id, base);
        }
        return id;
    }

    private void drainUsed() {
        long u;
        while ((u = driver.pollUsed()) >= 0) {
            int id = (int) (u >>> 32);
            assertTrue(outstanding.remove(id) != null, "used id " + id + " was not outstanding (completed twice?)");
        }
    }

    @Test
    void freshRegionIsFormattedWithEveryEntryFree() {
        area.fill((byte) 0);
        PackedInflightQueue t = PackedInflightQueue.attach(area, 1, QS, QS);
        MemorySegment r = area.asSlice(PackedInflightDescriptor.queueRegionSize(QS));
        assertEquals(1, r.get(U16, VERSION_OFFSET));
        assertEquals(QS, r.get(U16, DESC_NUM_OFFSET));
        assertEquals(1, r.get(ValueLayout.JAVA_BYTE, USED_WRAP_COUNTER_OFFSET));
        assertEquals(1, r.get(ValueLayout.JAVA_BYTE, OLD_USED_WRAP_COUNTER_OFFSET));
        for (int i = 0; i < QS; i++) {
            assertEquals(i + 1, r.get(U16, descOffset(i) + DESC_NEXT_OFFSET), "entry " + i + " links to the next");
        }
        assertEquals(0, t.recover(1 << 15, p -> 0).length);
        assertEquals(1 << 15, t.resumeUsedIdx());
        assertEquals(1 << 15, t.resumeAvailIdx());
    }

    @Test
    void requestsInFlightAreResubmittedInCounterOrderWithTheirDescriptors() {
        Random rnd = new Random(1);
        Device first = new Device(1 << 15);
        int a = post(rnd);
        int b = post(rnd);
        int c = post(rnd);
        assertEquals(a, first.pop());
        int bSlots = chainSlotsOfNextPop(first, b);
        assertEquals(c, first.pop());
        int cLen = chain.length();
        first.used(b, bSlots);
        first.publishAll();
        drainUsed();
        // Crash: a new device on the same ring and area.
        Device second = new Device(0);
        assertEquals(2, second.resubmit.size());
        assertEquals(a, second.pop(), "oldest first");
        assertEquals(outstanding.get(a), chain.addr(0));
        assertEquals(c, second.pop());
        assertEquals(cLen, chain.length(), "the chain is rebuilt from the copies");
        assertEquals(-1, second.pop(), "nothing new: the ring resumes after the requests in flight");
    }

    private int chainSlotsOfNextPop(Device d, int expectedId) {
        assertEquals(expectedId, d.pop());
        return chain.ringSlots();
    }

    @Test
    void aBatchNotYetVisibleToTheDriverIsRolledBack() {
        Random rnd = new Random(2);
        Device first = new Device(1 << 15);
        int a = post(rnd);
        assertEquals(a, first.pop());
        first.used(a, chain.ringSlots());
        first.tracker.beforePublish(); // crash before the used flags are stored
        Device second = new Device(0);
        assertEquals(1, second.resubmit.size());
        assertEquals(a, second.pop());
        assertEquals(1 << 15, second.tracker.resumeUsedIdx(), "used position rolled back");
    }

    @Test
    void aBatchTheDriverCanSeeIsCommitted() {
        Random rnd = new Random(3);
        Device first = new Device(1 << 15);
        int a = post(rnd);
        assertEquals(a, first.pop());
        int slots = chain.ringSlots();
        first.used(a, slots);
        first.tracker.beforePublish();
        first.queue.publishUsed(); // crash before inflight = 0
        Device second = new Device(0);
        assertEquals(0, second.resubmit.size(), "the published request is not resubmitted");
        assertEquals(slots | (1 << 15), second.tracker.resumeUsedIdx());
        drainUsed();
        assertTrue(outstanding.isEmpty());
    }

    /**
     * A crash model: random posts, pops, out-of-order completions across many ring wraps, and a
     * crash at a random point (between operations, after the region update, after the flags). After
     * each restart the set of requests resubmitted is exactly the set the driver still waits for,
     * and no request completes twice (the driver would throw).
     */
    @Test
    void afterAnyCrashExactlyTheRequestsTheDriverStillWaitsForAreResubmitted() {
        Random rnd = new Random(42);
        Device d = new Device(1 << 15);
        List<int[]> held = new ArrayList<>();
        for (int step = 0; step < 3000; step++) {
            int op = rnd.nextInt(10);
            if (op < 3) {
                post(rnd);
            } else if (op < 6) {
                int id = d.pop();
                if (id >= 0) {
                    held.add(new int[] {id, chain.ringSlots()});
                }
            } else if (op < 9 && !held.isEmpty()) {
                int n = 1 + rnd.nextInt(held.size());
                for (int i = 0; i < n; i++) {
                    int[] r = held.remove(rnd.nextInt(held.size()));
                    d.used(r[0], r[1]);
                }
                int crash = rnd.nextInt(8);
                if (crash == 0) {
                    d.tracker.beforePublish();
                } else if (crash == 1) {
                    d.tracker.beforePublish();
                    d.queue.publishUsed();
                } else {
                    d.publishAll();
                    crash = -1;
                }
                if (crash >= 0) {
                    d = restart(held);
                }
                drainUsed();
            } else {
                drainUsed();
                d = restart(held);
            }
        }
    }

    private Device restart(List<int[]> held) {
        drainUsed();
        held.clear();
        Device d = new Device(0);
        Set<Integer> resubmitted = new HashSet<>();
        while (!d.resubmit.isEmpty()) {
            int id = d.pop();
            assertTrue(resubmitted.add(id), "id " + id + " resubmitted twice");
            assertEquals(outstanding.get(id), chain.addr(0), "id " + id + " rebuilt from its own descriptors");
            held.add(new int[] {id, chain.ringSlots()});
        }
        // Everything the driver waits for was either resubmitted or is still in the ring.
        int id;
        while ((id = d.pop()) >= 0) {
            assertFalse(resubmitted.contains(id), "id " + id + " popped again from the ring");
            held.add(new int[] {id, chain.ringSlots()});
            resubmitted.add(id);
        }
        assertEquals(outstanding.keySet(), resubmitted, "the device holds exactly what the driver waits for");
        return d;
    }

    @Test
    void aLoopingFreeListIsRejected() {
        corrupt(r -> r.set(U16, descOffset(1) + DESC_NEXT_OFFSET, (short) 0), InflightAreaException.Rule.FREE_LIST_INVALID);
    }

    @Test
    void anInflightFlagOtherThanZeroOrOneIsRejected() {
        corrupt(r -> {
            // Entries of the free list are cleared, not checked: take entry 7 out of it first.
            r.set(U16, descOffset(6) + DESC_NEXT_OFFSET, (short) QS);
            r.set(ValueLayout.JAVA_BYTE, descOffset(7) + DESC_INFLIGHT_OFFSET, (byte) 2);
        }, InflightAreaException.Rule.INFLIGHT_FLAG_INVALID);
    }

    @Test
    void aWrapCounterOtherThanZeroOrOneIsRejected() {
        corrupt(r -> r.set(ValueLayout.JAVA_BYTE, USED_WRAP_COUNTER_OFFSET, (byte) 7),
                InflightAreaException.Rule.WRAP_COUNTER_INVALID);
    }

    @Test
    void anInflightHeadWithAnImpossibleChainIsRejected() {
        corrupt(r -> {
            // Entry 7 is the end of the free list: make a request of it that claims 5 entries.
            r.set(U16, descOffset(6) + DESC_NEXT_OFFSET, (short) QS);
            r.set(ValueLayout.JAVA_BYTE, descOffset(7) + DESC_INFLIGHT_OFFSET, (byte) 1);
            r.set(U16, descOffset(7) + DESC_NUM_ENTRY_OFFSET, (short) 5);
        }, InflightAreaException.Rule.CHAIN_INVALID);
    }

    private void corrupt(java.util.function.Consumer<MemorySegment> damage, InflightAreaException.Rule rule) {
        new Device(1 << 15);
        damage.accept(area.asSlice(0, PackedInflightDescriptor.queueRegionSize(QS)));
        InflightAreaException e = assertThrows(InflightAreaException.class, () -> new Device(0));
        assertEquals(rule, e.rule(), e.getMessage());
    }

    @Test
    void aRingSizeOtherThanDescNumIsRejected() {
        PackedInflightQueue.attach(area, 0, QS, QS);
        InflightAreaException e = assertThrows(InflightAreaException.class, () -> PackedInflightQueue.attach(area, 0, QS, 4));
        assertEquals(InflightAreaException.Rule.DESC_NUM_MISMATCH, e.rule());
    }
}

package io.ringway.vhost.virtio;

import static io.ringway.vhost.virtio.MockGuest.BUFFERS;
import static io.ringway.vhost.virtio.MockGuest.assertBroken;
import static io.ringway.vhost.virtio.MockGuest.bytes;
import static io.ringway.vhost.virtio.PackedRing.F_INDIRECT;
import static io.ringway.vhost.virtio.PackedRing.F_NEXT;
import static io.ringway.vhost.virtio.PackedRing.F_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringway.vhost.virtio.VirtqueueError.Rule;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Device-side packed queue against the mock driver; one test per rule (virtio 1.2, 2.8). */
class PackedQueueTest {
    static final long BASE_FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
            | VirtioFeatures.mask(VirtioFeatures.RING_PACKED) | VirtioFeatures.mask(VirtioFeatures.INDIRECT_DESC);
    static final long EVENT_IDX = VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);
    static final long TABLE = BUFFERS + 0x10000;

    MockGuest g;
    DriverPackedQueue d0;
    DriverPackedQueue d1;
    PackedQueue q0;
    PackedQueue q1;
    DescriptorChain chain;

    @BeforeEach
    void setUp() {
        g = new MockGuest();
        start(8, BASE_FEATURES);
    }

    @AfterEach
    void tearDown() {
        g.close();
    }

    void start(int size, long features) {
        d0 = new DriverPackedQueue(g.memory, size, 0x1000, 0x20000, 0x30000, features);
        d1 = new DriverPackedQueue(g.memory, 8, 0x40000, 0x41000, 0x42000, features);
        q0 = new PackedQueue(256);
        q1 = new PackedQueue(256);
        q0.activate(g.memory, d0.config(features));
        q1.activate(g.memory, d1.config(features));
        chain = new DescriptorChain(256);
    }

    static int add(DriverPackedQueue d, long gpa, int len, boolean writable) {
        return d.add(new long[] {gpa}, new int[] {len}, new boolean[] {writable}, 1);
    }

    /** Makes a raw list available: descriptors after the first are written first (2.8.6). */
    void writeList(long[] addrs, int[] lens, int[] flags, int id) {
        int avail = PackedRing.availBits(1);
        for (int i = addrs.length - 1; i >= 0; i--) {
            d0.writeDescriptor(i, addrs[i], lens[i], id, flags[i] | avail);
        }
    }

    void writeTableEntry(long table, int i, long addr, int len, int flags) {
        g.ram.set(LittleEndian.U64, table + 16L * i, addr);
        g.ram.set(LittleEndian.U32, table + 16L * i + 8, len);
        g.ram.set(LittleEndian.U16, table + 16L * i + 12, (short) 0);
        g.ram.set(LittleEndian.U16, table + 16L * i + 14, (short) flags);
    }

    void assertOtherQueueWorks() {
        byte[] data = bytes(32, 3);
        g.write(BUFFERS + 0x7000, data);
        int id = add(d1, BUFFERS + 0x7000, 32, false);
        d1.publish();
        assertTrue(q1.pop(chain));
        assertArrayEquals(data, chain.slice(0).toArray(ValueLayout.JAVA_BYTE));
        q1.pushUsed(chain, 0);
        q1.publishUsed();
        assertEquals((long) id << 32, d1.pollUsed());
        assertFalse(q1.isBroken());
    }

    // ---- round trips ----

    @Test
    void simpleChainRoundTrip() {
        byte[] data = bytes(100, 1);
        g.write(BUFFERS, data);
        int id = add(d0, BUFFERS, 100, false);
        assertFalse(q0.pop(chain), "the first flags are stored at publish");
        d0.publish();
        assertTrue(q0.pop(chain));
        assertEquals(id, chain.head());
        assertEquals(1, chain.ringSlots());
        assertEquals(1, chain.readableCount());
        assertArrayEquals(data, chain.slice(0).toArray(ValueLayout.JAVA_BYTE));
        assertFalse(q0.pop(chain));
        q0.pushUsed(chain, 0);
        assertEquals(1, q0.publishUsed());
        assertEquals((long) id << 32, d0.pollUsed());
        assertEquals(-1, d0.pollUsed());
        assertEquals(8, d0.numFree());
    }

    @Test
    void chainWithSeveralReadableAndWritableDescriptors() {
        g.write(BUFFERS + 0x100, bytes(512, 2));
        long[] addrs = {BUFFERS, BUFFERS + 0x100, BUFFERS + 0x1000, BUFFERS + 0x2000, BUFFERS + 0x3000};
        int[] lens = {16, 512, 64, 128, 1};
        boolean[] w = {false, false, true, true, true};
        int id = d0.add(addrs, lens, w, 5);
        d0.publish();
        assertEquals(3, d0.numFree());
        assertTrue(q0.pop(chain));
        assertEquals(id, chain.head());
        assertEquals(5, chain.length());
        assertEquals(5, chain.ringSlots());
        assertEquals(2, chain.readableCount());
        assertEquals(3, chain.writableCount());
        for (int i = 0; i < 5; i++) {
            assertEquals(addrs[i], chain.addr(i));
            assertEquals(lens[i], chain.len(i));
            assertEquals(w[i], chain.isWritable(i));
        }
        assertArrayEquals(bytes(512, 2), chain.slice(1).toArray(ValueLayout.JAVA_BYTE));
        q0.pushUsed(chain, 193);
        q0.publishUsed();
        assertEquals(((long) id << 32) | 193, d0.pollUsed());
        assertEquals(8, d0.numFree());
    }

    @Test
    void indirectTable() {
        long[] addrs = {BUFFERS, BUFFERS + 0x100, BUFFERS + 0x200, BUFFERS + 0x300};
        int[] lens = {10, 20, 30, 40};
        boolean[] w = {false, false, true, true};
        int id = d0.addIndirect(TABLE, addrs, lens, w, 4);
        d0.publish();
        assertEquals(7, d0.numFree());
        assertTrue(q0.pop(chain));
        assertEquals(id, chain.head());
        assertEquals(4, chain.length());
        assertEquals(1, chain.ringSlots());
        assertEquals(70, chain.writableBytes());
        q0.pushUsed(chain, 70);
        q0.publishUsed();
        assertEquals(((long) id << 32) | 70, d0.pollUsed());
    }

    @Test
    void usedLenReportedAndWriteFlagSet() {
        int id = add(d0, BUFFERS, 4096, true);
        d0.publish();
        assertTrue(q0.pop(chain));
        q0.pushUsed(chain, 1234);
        q0.publishUsed();
        assertEquals(F_WRITE, d0.descriptorFlags(0) & F_WRITE, "2.8.4: WRITE says the device wrote data");
        assertEquals(((long) id << 32) | 1234, d0.pollUsed());
    }

    @Test
    void batchedUsedPublication() {
        for (int i = 0; i < 5; i++) {
            add(d0, BUFFERS + 0x100L * i, 16, true);
        }
        d0.publish();
        int n = 0;
        while (q0.pop(chain)) {
            q0.pushUsed(chain, n++);
            assertEquals(-1, d0.pollUsed(), "nothing is used before publishUsed");
        }
        assertEquals(5, n);
        assertEquals(5, q0.publishUsed());
        for (int i = 0; i < 5; i++) {
            assertEquals(i, (int) d0.pollUsed());
        }
        assertEquals(-1, d0.pollUsed());
    }

    @Test
    void outOfOrderCompletion() {
        int a = d0.add(new long[] {BUFFERS, BUFFERS}, new int[] {8, 8}, new boolean[] {false, true}, 2);
        int b = add(d0, BUFFERS, 8, false);
        int c = d0.add(new long[] {BUFFERS, BUFFERS, BUFFERS}, new int[] {8, 8, 8}, new boolean[] {false, true, true}, 3);
        d0.publish();
        int[] ids = new int[3];
        int[] slots = new int[3];
        for (int i = 0; i < 3; i++) {
            assertTrue(q0.pop(chain));
            ids[i] = chain.head();
            slots[i] = chain.ringSlots();
        }
        assertArrayEquals(new int[] {a, b, c}, ids);
        assertArrayEquals(new int[] {2, 1, 3}, slots);
        // Complete c, a, b: used descriptors are written in completion order (2.8.13.1).
        q0.pushUsed(ids[2], slots[2], 3);
        q0.pushUsed(ids[0], slots[0], 1);
        q0.pushUsed(ids[1], slots[1], 2);
        q0.publishUsed();
        assertEquals(((long) c << 32) | 3, d0.pollUsed());
        assertEquals(((long) a << 32) | 1, d0.pollUsed());
        assertEquals(((long) b << 32) | 2, d0.pollUsed());
        assertEquals(8, d0.numFree());
    }

    @Test
    void descriptorChangedByDriverAfterPopKeepsValidatedCopy() {
        d0.add(new long[] {BUFFERS, BUFFERS + 0x100}, new int[] {64, 32}, new boolean[] {false, true}, 2);
        d0.publish();
        assertTrue(q0.pop(chain));
        d0.writeDescriptor(0, 0xdead_0000_0000L, -1, 7, F_INDIRECT | PackedRing.availBits(1));
        d0.writeDescriptor(1, 0xbeef_0000_0000L, 0x7fff_ffff, 7, PackedRing.availBits(1));
        assertEquals(BUFFERS, chain.addr(0));
        assertEquals(64, chain.len(0));
        assertEquals(BUFFERS + 0x100, chain.addr(1));
        assertEquals(32, chain.len(1));
        assertTrue(chain.isWritable(1));
        assertFalse(q0.isBroken());
    }

    @Test
    void wrapCounterFlips() {
        start(4, BASE_FEATURES);
        assertEquals(1, q0.availWrapCounter());
        assertEquals(1, q0.usedWrapCounter());
        for (int i = 0; i < 4; i++) {
            add(d0, BUFFERS, 8, false);
        }
        d0.publish();
        assertEquals(0, d0.availWrapCounter(), "the driver flips after making the last descriptor available");
        for (int i = 0; i < 4; i++) {
            assertTrue(q0.pop(chain));
            q0.pushUsed(chain, 0);
        }
        assertEquals(0, q0.availWrapCounter());
        assertEquals(0, q0.usedWrapCounter());
        assertEquals(0, q0.lastAvailIdx(), "position 0, wrap counter 0 in bit 15");
        q0.publishUsed();
        for (int i = 0; i < 4; i++) {
            assertEquals(PackedRing.F_AVAIL | PackedRing.F_USED, d0.descriptorFlags(i) & 0x8080, "used in wrap 1");
            assertNotEquals(-1, d0.pollUsed());
        }
        assertEquals(0, d0.usedWrapCounter());
        // Second lap: available means AVAIL=0, USED=1; used means both 0.
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertEquals(PackedRing.F_USED, d0.descriptorFlags(0) & 0x8080);
        assertTrue(q0.pop(chain));
        q0.pushUsed(chain, 0);
        q0.publishUsed();
        assertEquals(0, d0.descriptorFlags(0) & 0x8080);
        assertNotEquals(-1, d0.pollUsed());
        assertEquals(1 | (0 << 15), q0.lastAvailIdx());
    }

    @Test
    void chainWrappingAroundTheRingEnd() {
        start(4, BASE_FEATURES);
        add(d0, BUFFERS, 8, false);
        add(d0, BUFFERS, 8, false);
        d0.publish();
        for (int i = 0; i < 2; i++) {
            assertTrue(q0.pop(chain));
            q0.pushUsed(chain, 0);
        }
        q0.publishUsed();
        d0.pollUsed();
        d0.pollUsed();
        int id = d0.add(new long[] {BUFFERS, BUFFERS + 8, BUFFERS + 16}, new int[] {8, 8, 8},
                new boolean[] {false, false, true}, 3);
        d0.publish();
        assertTrue(q0.pop(chain));
        assertEquals(id, chain.head());
        assertEquals(3, chain.length());
        assertEquals(BUFFERS + 16, chain.addr(2));
        assertEquals(1, q0.lastAvailIdx(), "position 1 in wrap 0");
        q0.pushUsed(chain, 8);
        q0.publishUsed();
        assertEquals(((long) id << 32) | 8, d0.pollUsed());
    }

    @Test
    void wrapAroundOfManyEntriesWithNonPowerOfTwoSize() {
        // virtio 1.2, 2.8.11: "The Queue Size value does not have to be a power of 2."
        start(3, BASE_FEATURES | EVENT_IDX);
        int total = 70_000;
        int sent = 0;
        int done = 0;
        while (done < total) {
            while (sent < total && d0.numFree() > 0) {
                g.ram.set(ValueLayout.JAVA_INT, BUFFERS + 0x100L * (sent % 3), sent);
                int count = (sent % 5 == 0 && d0.numFree() >= 2) ? 2 : 1;
                long[] a = {BUFFERS + 0x100L * (sent % 3), BUFFERS + 0x800};
                assertNotEquals(-1, d0.add(a, new int[] {4, 4}, new boolean[] {false, true}, count));
                sent++;
            }
            d0.publish();
            while (q0.pop(chain)) {
                int v = chain.segment(0).get(ValueLayout.JAVA_INT, chain.offset(0));
                q0.pushUsed(chain, v & 0xff);
            }
            q0.publishUsed();
            long used;
            while ((used = d0.pollUsed()) != -1) {
                assertEquals(done & 0xff, (int) used);
                done++;
            }
        }
        assertFalse(q0.isBroken());
        assertEquals(3, d0.numFree());
    }

    @Test
    void vringBaseCarriesWrapCounter() {
        start(4, BASE_FEATURES);
        for (int i = 0; i < 3; i++) {
            add(d0, BUFFERS, 8, false);
        }
        d0.publish();
        for (int i = 0; i < 3; i++) {
            assertTrue(q0.pop(chain));
            q0.pushUsed(chain, 0);
        }
        q0.publishUsed();
        for (int i = 0; i < 3; i++) {
            d0.pollUsed();
        }
        for (int i = 0; i < 2; i++) {
            add(d0, BUFFERS, 8, false);
        }
        d0.publish();
        assertTrue(q0.pop(chain));
        assertEquals(0, q0.lastAvailIdx(), "position 0 after the wrap, wrap counter 0");
        PackedQueue resumed = new PackedQueue(4);
        resumed.setLastAvailIdx(q0.lastAvailIdx());
        resumed.setUsedIdx(q0.usedIdx());
        resumed.activate(g.memory, d0.config(BASE_FEATURES));
        assertTrue(resumed.pop(chain));
        assertEquals(1, resumed.lastAvailIdx());
        assertFalse(resumed.pop(chain));
    }

    // ---- violations ----

    @Test
    void descriptorChainTooLongWhenListWrapsOntoItself() {
        long[] a = new long[8];
        int[] l = new int[8];
        int[] f = new int[8];
        for (int i = 0; i < 8; i++) {
            a[i] = BUFFERS;
            l[i] = 8;
            f[i] = F_NEXT;
        }
        writeList(a, l, f, 0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_CHAIN_TOO_LONG, 8);
        assertOtherQueueWorks();
    }

    @Test
    void descriptorChainTooLongWhenIndirectTableExceedsQueueSize() {
        for (int i = 0; i < 9; i++) {
            writeTableEntry(TABLE, i, BUFFERS, 4, 0);
        }
        writeList(new long[] {TABLE}, new int[] {16 * 9}, new int[] {F_INDIRECT}, 0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_CHAIN_TOO_LONG, 8);
        assertOtherQueueWorks();
    }

    @Test
    void nestedIndirect() {
        writeTableEntry(TABLE, 0, BUFFERS, 4, 0);
        writeTableEntry(TABLE, 1, BUFFERS + 0x20000, 16, F_INDIRECT);
        writeList(new long[] {TABLE}, new int[] {32}, new int[] {F_INDIRECT}, 0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.NESTED_INDIRECT, 1);
        assertOtherQueueWorks();
    }

    @Test
    void indirectNotNegotiated() {
        start(8, VirtioFeatures.mask(VirtioFeatures.VERSION_1) | VirtioFeatures.mask(VirtioFeatures.RING_PACKED));
        d0.addIndirect(TABLE, new long[] {BUFFERS}, new int[] {8}, new boolean[] {false}, 1);
        d0.publish();
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_NOT_NEGOTIATED, 0);
        assertOtherQueueWorks();
    }

    @Test
    void indirectWithNext() {
        writeTableEntry(TABLE, 0, BUFFERS, 4, 0);
        writeList(new long[] {TABLE, BUFFERS}, new int[] {16, 8}, new int[] {F_INDIRECT | F_NEXT, 0}, 0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_WITH_NEXT, 0, F_INDIRECT | F_NEXT | PackedRing.F_AVAIL);
    }

    @Test
    void indirectInsideNextList() {
        // virtio 1.2, 2.8.8: no INDIRECT descriptor in a list linked by NEXT, not even the last one.
        writeTableEntry(TABLE, 0, BUFFERS, 4, 0);
        writeList(new long[] {BUFFERS, TABLE}, new int[] {8, 16}, new int[] {F_NEXT, F_INDIRECT}, 0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_WITH_NEXT, 1, F_INDIRECT | PackedRing.F_AVAIL);
    }

    @Test
    void indirectTableLengthNotMultipleOf16() {
        writeList(new long[] {TABLE}, new int[] {40}, new int[] {F_INDIRECT}, 0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_TABLE_LENGTH_INVALID, 40);
        assertOtherQueueWorks();
    }

    @Test
    void indirectTableLengthZero() {
        writeList(new long[] {TABLE}, new int[] {0}, new int[] {F_INDIRECT}, 0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_TABLE_LENGTH_INVALID, 0);
    }

    @Test
    void indirectTableOutsideMemory() {
        long addr = MockGuest.MEMORY_SIZE - 16;
        writeList(new long[] {addr}, new int[] {32}, new int[] {F_INDIRECT}, 0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_TABLE_OUTSIDE_MEMORY, addr, 32);
        assertOtherQueueWorks();
    }

    @Test
    void descriptorOutsideMemory() {
        add(d0, 0x4000_0000L, 64, false);
        d0.publish();
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_OUTSIDE_MEMORY, 0x4000_0000L, 64);
        assertOtherQueueWorks();
    }

    @Test
    void descriptorRunningPastEndOfMemory() {
        long addr = MockGuest.MEMORY_SIZE - 16;
        add(d0, addr, 17, true);
        d0.publish();
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_OUTSIDE_MEMORY, addr, 17);
    }

    @Test
    void descriptorInIndirectTableOutsideMemory() {
        writeTableEntry(TABLE, 0, 1L << 40, 4, 0);
        writeList(new long[] {TABLE}, new int[] {16}, new int[] {F_INDIRECT}, 0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_OUTSIDE_MEMORY, 1L << 40, 4);
    }

    @Test
    void readableAfterWritable() {
        d0.add(new long[] {BUFFERS, BUFFERS + 0x100}, new int[] {8, 8}, new boolean[] {true, false}, 2);
        d0.publish();
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.READABLE_AFTER_WRITABLE, 1);
        assertOtherQueueWorks();
    }

    @Test
    void chainLengthOverflow(@TempDir Path dir) throws IOException {
        long big = 1L << 31;
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(dir.resolve("sparse"), StandardOpenOption.CREATE,
                        StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.SPARSE)) {
            ch.truncate(big);
            MemorySegment sparse = ch.map(FileChannel.MapMode.READ_WRITE, 0, big, arena);
            GuestMemory mem = GuestMemory.of(GuestMemoryRegion.of(0, g.ram), GuestMemoryRegion.of(1L << 32, sparse));
            PackedQueue q = new PackedQueue(8);
            q.activate(mem, d0.config(BASE_FEATURES));
            int len = 0x6000_0000;
            d0.add(new long[] {1L << 32, 1L << 32, 1L << 32}, new int[] {len, len, len},
                    new boolean[] {false, false, false}, 3);
            d0.publish();
            assertFalse(q.pop(chain));
            assertBroken(q, Rule.CHAIN_LENGTH_OVERFLOW, 2L * len, len);
            assertOtherQueueWorks();
        }
    }

    @Test
    void queueSizeZero() {
        PackedQueue q = new PackedQueue(256);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(0, 0x1000, 0x20000, 0x30000, 0)));
        assertBroken(q, Rule.QUEUE_SIZE_ZERO, 0);
        assertOtherQueueWorks();
    }

    @Test
    void queueSizeTooLarge() {
        PackedQueue q = new PackedQueue(256);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(300, 0x1000, 0x20000, 0x30000, 0)));
        assertBroken(q, Rule.QUEUE_SIZE_TOO_LARGE, 300, 256);
    }

    @Test
    void queueSizeNeedNotBePowerOfTwo() {
        PackedQueue q = new PackedQueue(256);
        q.activate(g.memory, QueueConfig.guestPhysical(100, 0x1000, 0x20000, 0x30000, 0));
        assertTrue(q.isReady());
    }

    @Test
    void ringMisaligned() {
        PackedQueue q = new PackedQueue(256);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, 0x1004, 0x20000, 0x30000, 0)));
        assertBroken(q, Rule.RING_MISALIGNED, 0x1004, 16);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, 0x1000, 0x20002, 0x30000, 0)));
        assertBroken(q, Rule.RING_MISALIGNED, 0x20002, 4);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, 0x1000, 0x20000, 0x30001, 0)));
        assertBroken(q, Rule.RING_MISALIGNED, 0x30001, 4);
        assertOtherQueueWorks();
    }

    @Test
    void ringOutsideMemory() {
        PackedQueue q = new PackedQueue(256);
        long descAddr = MockGuest.MEMORY_SIZE - 64;
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, descAddr, 0x20000, 0x30000, 0)));
        assertBroken(q, Rule.RING_OUTSIDE_MEMORY, descAddr, 128);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, 0x1000, 1L << 40, 0x30000, 0)));
        assertBroken(q, Rule.RING_OUTSIDE_MEMORY, 1L << 40, 4);
        assertOtherQueueWorks();
    }

    // ---- event suppression (virtio 1.2, 2.8.10 and 2.8.13) ----

    private void roundTrip(int n) {
        for (int i = 0; i < n; i++) {
            add(d0, BUFFERS, 8, false);
        }
        d0.publish();
        while (q0.pop(chain)) {
            q0.pushUsed(chain, 0);
        }
        q0.publishUsed();
        while (d0.pollUsed() != -1) {
            // drain
        }
    }

    @Test
    void driverEventFlagsEnableAndDisable() {
        d0.setDriverEvent(PackedRing.EVENT_FLAGS_DISABLE, 0);
        roundTrip(1);
        assertFalse(q0.needsNotification());
        d0.setDriverEvent(PackedRing.EVENT_FLAGS_ENABLE, 0);
        roundTrip(1);
        assertTrue(q0.needsNotification());
        assertFalse(q0.needsNotification(), "nothing new since the last decision");
        // DESC is only valid with EVENT_IDX; without it the device notifies.
        d0.setDriverEvent(PackedRing.EVENT_FLAGS_DESC, 7);
        roundTrip(1);
        assertTrue(q0.needsNotification());
    }

    @Test
    void driverEventDescAtExactBoundaries() {
        start(8, BASE_FEATURES | EVENT_IDX);
        // Stop the mock driver from moving the event itself while it harvests.
        d0.disableUsedNotifications();
        // Position 0 -> 1 in wrap 1: only off 0 / wrap 1 triggers.
        d0.setDriverEvent(PackedRing.EVENT_FLAGS_DESC, 1 | (1 << 15));
        roundTrip(1);
        assertFalse(q0.needsNotification());
        d0.setDriverEvent(PackedRing.EVENT_FLAGS_DESC, 1 | (1 << 15));
        roundTrip(1);
        assertTrue(q0.needsNotification(), "descriptor 1 of wrap 1 was used");
        // 2 -> 5: offsets 2, 3, 4 trigger, 5 does not.
        d0.setDriverEvent(PackedRing.EVENT_FLAGS_DESC, 5 | (1 << 15));
        roundTrip(3);
        assertFalse(q0.needsNotification());
        d0.setDriverEvent(PackedRing.EVENT_FLAGS_DESC, 6 | (1 << 15));
        roundTrip(2);
        assertTrue(q0.needsNotification(), "5 -> 7 passes 6");
        // 7 -> 1 crosses the ring end into wrap 0: off 0 / wrap 0 triggers, off 0 / wrap 1 does not.
        d0.setDriverEvent(PackedRing.EVENT_FLAGS_DESC, 0);
        roundTrip(2);
        assertTrue(q0.needsNotification());
        assertEquals(0, q0.usedWrapCounter());
        d0.setDriverEvent(PackedRing.EVENT_FLAGS_DESC, 1 | (1 << 15));
        roundTrip(1);
        assertFalse(q0.needsNotification(), "an event in the previous wrap was already passed");
    }

    @Test
    void packedNeedEventArithmetic() {
        // size 8, from position 6 to 2 (wrapped, now wrap 0): covers 6, 7 (wrap 1) and 0, 1 (wrap 0).
        assertTrue(EventIndex.packedNeedEvent(7 | (1 << 15), 0, 8, 2, 6));
        assertTrue(EventIndex.packedNeedEvent(1, 0, 8, 2, 6));
        assertFalse(EventIndex.packedNeedEvent(2, 0, 8, 2, 6));
        assertFalse(EventIndex.packedNeedEvent(5 | (1 << 15), 0, 8, 2, 6));
        // A full lap: old == new means size entries, 4..7 of wrap 1 then 0..3 of wrap 0.
        assertTrue(EventIndex.packedNeedEvent(4 | (1 << 15), 0, 8, 4, 4));
        assertTrue(EventIndex.packedNeedEvent(3, 0, 8, 4, 4));
        assertFalse(EventIndex.packedNeedEvent(3 | (1 << 15), 0, 8, 4, 4));
    }

    @Test
    void deviceEventWrittenWhenNotificationsEnabled() {
        start(8, BASE_FEATURES | EVENT_IDX);
        assertEquals(PackedRing.EVENT_FLAGS_DESC, d0.deviceEventFlags());
        roundTrip(3);
        assertEquals(3 | (1 << 15), d0.deviceEventOffWrap(), "kick me when descriptor 3 of wrap 1 is made available");
        q0.disableNotifications();
        assertEquals(PackedRing.EVENT_FLAGS_DISABLE, d0.deviceEventFlags());
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertFalse(d0.needsKick());
        assertTrue(q0.enableNotifications(), "re-check finds the descriptor made available while kicks were off");
        assertEquals(PackedRing.EVENT_FLAGS_DESC, d0.deviceEventFlags());
        assertTrue(q0.pop(chain));
        assertEquals(4 | (1 << 15), d0.deviceEventOffWrap());
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertTrue(d0.needsKick(), "descriptor 4 is the one the device asked about");
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertFalse(d0.needsKick(), "descriptor 5 is past it; the device has not caught up");
    }

    @Test
    void deviceEventEnableWithoutEventIdx() {
        q0.disableNotifications();
        assertEquals(PackedRing.EVENT_FLAGS_DISABLE, d0.deviceEventFlags());
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertFalse(d0.needsKick());
        assertTrue(q0.enableNotifications());
        assertEquals(PackedRing.EVENT_FLAGS_ENABLE, d0.deviceEventFlags());
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertTrue(d0.needsKick());
    }

    @Test
    void driverEnablesUsedNotificationsAndReChecks() {
        start(8, BASE_FEATURES | EVENT_IDX);
        d0.disableUsedNotifications();
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertTrue(q0.pop(chain));
        q0.pushUsed(chain, 0);
        q0.publishUsed();
        assertFalse(q0.needsNotification());
        assertTrue(d0.enableUsedNotifications(), "a used descriptor is already there");
        assertNotEquals(-1, d0.pollUsed());
        assertFalse(d0.enableUsedNotifications());
    }

    // ---- peekSimple / takeSimple: the one-descriptor burst path ----

    @Test
    void peekSimpleReadsOneDescriptorChainsWithoutTakingThem() {
        int[] ids = new int[3];
        for (int i = 0; i < 3; i++) {
            g.write(BUFFERS + 0x100L * i, bytes(64, i + 1));
            ids[i] = add(d0, BUFFERS + 0x100L * i, 64 + i, false);
        }
        d0.publish();
        int before = q0.lastAvailIdx();
        SimpleChains c = new SimpleChains(32);
        assertEquals(2, q0.peekSimple(c, 2, false), "at most max");
        assertFalse(c.exhausted());
        assertEquals(3, q0.peekSimple(c, 32, false), "every available chain");
        assertTrue(c.exhausted(), "stopped at a descriptor the driver has not made available");
        for (int i = 0; i < 3; i++) {
            assertEquals(ids[i], c.head[i], "the buffer id");
            assertEquals(64 + i, c.length[i]);
            assertArrayEquals(bytes(64, i + 1), c.segment(i).asSlice(c.offset[i], 64).toArray(ValueLayout.JAVA_BYTE));
        }
        assertEquals(before, q0.lastAvailIdx(), "a peek takes nothing");
        assertEquals(0, q0.peekSimple(c, 32, true), "readable buffers are not writable ones");
        assertEquals(3, q0.peekSimple(c, 32, false));
        q0.takeSimple(2);
        q0.pushUsed(c.head[0], 1, 0);
        q0.pushUsed(c.head[1], 1, 0);
        q0.publishUsed();
        assertEquals((long) ids[0] << 32, d0.pollUsed());
        assertEquals((long) ids[1] << 32, d0.pollUsed());
        assertTrue(q0.pop(chain), "the third pops the usual way");
        assertEquals(BUFFERS + 0x200L, chain.addr(0));
        assertEquals(0, q0.peekSimple(c, 32, false), "nothing left");
        assertTrue(c.exhausted());
        assertFalse(q0.isBroken());
    }

    @Test
    void peekSimpleStopsAtChainsOfOtherShapesAndLeavesHostileOnesToPop() {
        SimpleChains c = new SimpleChains(32);
        add(d0, BUFFERS, 64, false);
        d0.add(new long[] {BUFFERS + 0x100, BUFFERS + 0x200}, new int[] {12, 64}, new boolean[2], 2);
        d0.addIndirect(TABLE, new long[] {BUFFERS}, new int[] {64}, new boolean[1], 1);
        add(d0, BUFFERS + 0x300, 64, true);
        d0.publish();
        assertEquals(1, q0.peekSimple(c, 32, false), "stops before the two-descriptor list");
        assertFalse(c.exhausted());
        q0.takeSimple(1);
        assertTrue(q0.pop(chain));
        assertEquals(2, chain.length());
        assertEquals(0, q0.peekSimple(c, 32, false), "an indirect descriptor is not a one-descriptor chain");
        assertTrue(q0.pop(chain));
        assertEquals(0, q0.peekSimple(c, 32, false), "a writable buffer where readable ones are asked for");
        assertEquals(1, q0.peekSimple(c, 32, true));
        q0.takeSimple(1);
        // A buffer outside guest memory: left to pop, which breaks the queue by name.
        add(d0, 0x4000_0000L, 64, false);
        d0.publish();
        assertEquals(0, q0.peekSimple(c, 32, false));
        assertFalse(q0.isBroken(), "a peek reports nothing");
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_OUTSIDE_MEMORY, 0x4000_0000L, 64);
        assertEquals(0, q0.peekSimple(c, 32, false), "a broken queue peeks nothing");
        assertFalse(c.exhausted());
    }

    @Test
    void peekAndTakeFollowTheWrapCounterAroundTheRing() {
        SimpleChains c = new SimpleChains(32);
        roundTrip(6);
        for (int round = 0; round < 3; round++) {
            int[] ids = new int[5];
            for (int i = 0; i < 5; i++) {
                ids[i] = add(d0, BUFFERS + 0x100L * i, 32 + i, false);
            }
            d0.publish();
            assertEquals(5, q0.peekSimple(c, 32, false), "round " + round + ": five chains across the ring's end");
            for (int i = 0; i < 5; i++) {
                assertEquals(ids[i], c.head[i]);
                assertEquals(32 + i, c.length[i]);
            }
            q0.takeSimple(5);
            for (int i = 0; i < 5; i++) {
                q0.pushUsed(c.head[i], 1, 0);
            }
            q0.publishUsed();
            for (int i = 0; i < 5; i++) {
                assertEquals((long) ids[i] << 32, d0.pollUsed(), "round " + round + " used " + i);
            }
            assertEquals(0, q0.peekSimple(c, 32, false), "round " + round + ": nothing more");
        }
        assertEquals(d0.nextAvail() | d0.availWrapCounter() << 15, q0.lastAvailIdx(), "device and driver agree");
        assertFalse(q0.isBroken());
    }

    @Test
    void takeSimpleTakesOnlyWhatTheLastPeekLeft() {
        for (int i = 0; i < 3; i++) {
            add(d0, BUFFERS + 0x100L * i, 64, false);
        }
        d0.publish();
        SimpleChains c = new SimpleChains(8);
        assertEquals(3, q0.peekSimple(c, 8, false));
        assertThrows(IllegalArgumentException.class, () -> q0.takeSimple(4));
        q0.takeSimple(1);
        assertTrue(q0.pop(chain), "the second, popped the usual way");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q0.takeSimple(1));
        assertTrue(e.getMessage().contains("the last peek left 0"), e.getMessage());
        assertEquals(1, q0.peekSimple(c, 8, false), "a new peek starts at the third");
        assertEquals(BUFFERS + 0x200L, c.segment(0).address() + c.offset[0] - g.memory.segment(0).address());
    }

    @Test
    void takeSimpleWritesTheDeviceEventAsPopDoes() {
        start(8, BASE_FEATURES | EVENT_IDX);
        add(d0, BUFFERS, 64, false);
        d0.publish();
        SimpleChains c = new SimpleChains(8);
        assertEquals(1, q0.peekSimple(c, 8, false));
        q0.takeSimple(1);
        DescriptorChain other = new DescriptorChain(256);
        PackedQueue p = new PackedQueue(256);
        DriverPackedQueue d = new DriverPackedQueue(g.memory, 8, 0x50000, 0x51000, 0x52000, BASE_FEATURES | EVENT_IDX);
        p.activate(g.memory, d.config(BASE_FEATURES | EVENT_IDX));
        add(d, BUFFERS, 64, false);
        d.publish();
        assertTrue(p.pop(other));
        assertEquals(d.deviceEventFlags(), d0.deviceEventFlags(), "the same device event as after a pop");
        assertEquals(d.deviceEventOffWrap(), d0.deviceEventOffWrap());
    }

    @Test
    void withInOrderATransmitBurstIsReturnedAsOneUsedDescriptor() {
        long inOrder = BASE_FEATURES | VirtioFeatures.mask(VirtioFeatures.IN_ORDER);
        start(8, inOrder);
        roundTrip(6);
        int firstUsed = q0.usedIdx();
        int[] ids = new int[4];
        for (int i = 0; i < 4; i++) {
            ids[i] = add(d0, BUFFERS + 0x100L * i, 64, false);
        }
        d0.publish();
        SimpleChains c = new SimpleChains(8);
        assertEquals(4, q0.peekSimple(c, 8, false));
        q0.takeSimple(4);
        q0.pushUsedEmpty(c, 4);
        assertEquals(1, q0.publishUsed(), "one used descriptor for the batch");
        // virtio 1.2, 2.8.9: at the batch's first slot, the last buffer's id; the ring moves on by 4.
        int pos = firstUsed & 0x7FFF;
        assertTrue((d0.descriptorFlags(pos) & PackedRing.F_USED) != 0 == ((firstUsed >>> 15) == 1));
        assertEquals(ids[3], Short.toUnsignedInt(g.memory.segment(0).get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED,
                0x1000 + pos * 16L + PackedRing.DESC_ID)), "the last buffer's id");
        int next = (pos + 4) % 8 | (pos + 4 >= 8 ? (firstUsed ^ 0x8000) & 0x8000 : firstUsed & 0x8000);
        assertEquals(next, q0.usedIdx(), "the used position skipped the batch, wrap counter followed");
        assertEquals(q0.lastAvailIdx(), q0.usedIdx(), "every buffer taken is used");
    }

    @Test
    void withoutInOrderEveryBufferGetsItsUsedDescriptor() {
        for (int i = 0; i < 3; i++) {
            add(d0, BUFFERS + 0x100L * i, 64, false);
        }
        d0.publish();
        SimpleChains c = new SimpleChains(8);
        assertEquals(3, q0.peekSimple(c, 8, false));
        q0.takeSimple(3);
        q0.pushUsedEmpty(c, 3);
        assertEquals(3, q0.publishUsed());
        for (int i = 0; i < 3; i++) {
            assertEquals((long) c.head[i] << 32, d0.pollUsed());
        }
    }
}

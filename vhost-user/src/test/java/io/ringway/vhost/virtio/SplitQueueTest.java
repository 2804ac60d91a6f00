package io.ringway.vhost.virtio;

import static io.ringway.vhost.virtio.MockGuest.BUFFERS;
import static io.ringway.vhost.virtio.MockGuest.assertBroken;
import static io.ringway.vhost.virtio.MockGuest.bytes;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Device-side split queue against the mock driver; one test per rule (virtio 1.2, 2.7). */
class SplitQueueTest {
    static final long BASE_FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
            | VirtioFeatures.mask(VirtioFeatures.INDIRECT_DESC);
    static final long EVENT_IDX = VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);

    MockGuest g;
    DriverSplitQueue d0;
    DriverSplitQueue d1;
    SplitQueue q0;
    SplitQueue q1;
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
        d0 = new DriverSplitQueue(g.memory, size, 0x1000, 0x20000, 0x30000, features);
        d1 = new DriverSplitQueue(g.memory, 8, 0x40000, 0x41000, 0x42000, features);
        q0 = new SplitQueue(256);
        q1 = new SplitQueue(256);
        q0.activate(g.memory, d0.config(features));
        q1.activate(g.memory, d1.config(features));
        chain = new DescriptorChain(256);
    }

    static int add(DriverSplitQueue d, long gpa, int len, boolean writable) {
        return d.add(new long[] {gpa}, new int[] {len}, new boolean[] {writable}, 1);
    }

    /** The rule of the design: one broken queue does not stop the others. */
    void assertOtherQueueWorks() {
        byte[] data = bytes(32, 3);
        g.write(BUFFERS + 0x7000, data);
        int head = add(d1, BUFFERS + 0x7000, 32, false);
        d1.publish();
        assertTrue(q1.pop(chain));
        assertArrayEquals(data, chain.slice(0).toArray(ValueLayout.JAVA_BYTE));
        q1.pushUsed(chain, 0);
        q1.publishUsed();
        assertEquals((long) head << 32, d1.pollUsed());
        assertFalse(q1.isBroken());
    }

    // ---- round trips ----

    @Test
    void simpleChainRoundTrip() {
        byte[] data = bytes(100, 1);
        g.write(BUFFERS, data);
        int head = add(d0, BUFFERS, 100, false);
        assertFalse(q0.pop(chain), "nothing is visible before publish");
        d0.publish();
        assertTrue(q0.pop(chain));
        assertEquals(head, chain.head());
        assertEquals(1, chain.length());
        assertEquals(1, chain.readableCount());
        assertEquals(0, chain.writableCount());
        assertEquals(BUFFERS, chain.addr(0));
        assertEquals(100, chain.len(0));
        assertArrayEquals(data, chain.segment(0).asSlice(chain.offset(0), 100).toArray(ValueLayout.JAVA_BYTE));
        assertFalse(q0.pop(chain));
        q0.pushUsed(chain.head(), 0);
        assertEquals(1, q0.publishUsed());
        assertEquals((long) head << 32, d0.pollUsed());
        assertEquals(-1, d0.pollUsed());
        assertEquals(8, d0.numFree());
    }

    @Test
    void chainWithSeveralReadableAndWritableDescriptors() {
        g.write(BUFFERS, bytes(16, 1));
        g.write(BUFFERS + 0x100, bytes(512, 2));
        long[] addrs = {BUFFERS, BUFFERS + 0x100, BUFFERS + 0x1000, BUFFERS + 0x2000, BUFFERS + 0x3000};
        int[] lens = {16, 512, 64, 128, 1};
        boolean[] w = {false, false, true, true, true};
        int head = d0.add(addrs, lens, w, 5);
        d0.publish();
        assertEquals(3, d0.numFree());
        assertTrue(q0.pop(chain));
        assertEquals(5, chain.length());
        assertEquals(5, chain.ringSlots());
        assertEquals(2, chain.readableCount());
        assertEquals(3, chain.writableCount());
        assertEquals(528, chain.readableBytes());
        assertEquals(193, chain.writableBytes());
        for (int i = 0; i < 5; i++) {
            assertEquals(addrs[i], chain.addr(i));
            assertEquals(lens[i], chain.len(i));
            assertEquals(w[i], chain.isWritable(i));
        }
        assertArrayEquals(bytes(512, 2), chain.slice(1).toArray(ValueLayout.JAVA_BYTE));
        chain.segment(4).set(ValueLayout.JAVA_BYTE, chain.offset(4), (byte) 0x5a);
        q0.pushUsed(chain, 1);
        q0.publishUsed();
        assertEquals(((long) head << 32) | 1, d0.pollUsed());
        assertEquals(0x5a, g.read(BUFFERS + 0x3000, 1)[0]);
        assertEquals(8, d0.numFree());
    }

    @Test
    void indirectTable() {
        long[] addrs = {BUFFERS, BUFFERS + 0x100, BUFFERS + 0x200, BUFFERS + 0x300};
        int[] lens = {10, 20, 30, 40};
        boolean[] w = {false, false, true, true};
        int head = d0.addIndirect(BUFFERS + 0x10000, addrs, lens, w, 4);
        d0.publish();
        assertEquals(7, d0.numFree(), "an indirect table takes one ring descriptor");
        assertTrue(q0.pop(chain));
        assertEquals(head, chain.head());
        assertEquals(4, chain.length());
        assertEquals(1, chain.ringSlots());
        assertEquals(2, chain.readableCount());
        assertEquals(70, chain.writableBytes());
        assertEquals(BUFFERS + 0x300, chain.addr(3));
        q0.pushUsed(chain, 70);
        q0.publishUsed();
        assertEquals(((long) head << 32) | 70, d0.pollUsed());
    }

    @Test
    void directDescriptorsFollowedByIndirectTable() {
        // virtio 1.2, 2.7.5.3.2: zero or more chained descriptors followed by one INDIRECT descriptor.
        d0.writeDescriptor(0, BUFFERS, 8, SplitRing.F_NEXT, 1);
        g.ram.set(LittleEndian.U64, BUFFERS + 0x10000, BUFFERS + 0x100);
        g.ram.set(LittleEndian.U32, BUFFERS + 0x10000 + 8, 16);
        g.ram.set(LittleEndian.U16, BUFFERS + 0x10000 + 12, (short) SplitRing.F_WRITE);
        d0.writeDescriptor(1, BUFFERS + 0x10000, 16, SplitRing.F_INDIRECT, 0);
        d0.publishHead(0);
        assertTrue(q0.pop(chain));
        assertEquals(2, chain.length());
        assertEquals(2, chain.ringSlots());
        assertFalse(chain.isWritable(0));
        assertTrue(chain.isWritable(1));
    }

    @Test
    void usedLenReported() {
        int head = add(d0, BUFFERS, 4096, true);
        d0.publish();
        assertTrue(q0.pop(chain));
        assertEquals(4096, chain.writableBytes());
        q0.pushUsed(chain.head(), 1234);
        q0.publishUsed();
        long used = d0.pollUsed();
        assertEquals(head, (int) (used >>> 32));
        assertEquals(1234, (int) used);
    }

    @Test
    void batchedUsedPublication() {
        for (int i = 0; i < 5; i++) {
            add(d0, BUFFERS + 0x100L * i, 16, true);
        }
        d0.publish();
        int popped = 0;
        while (q0.pop(chain)) {
            q0.pushUsed(chain, popped);
            popped++;
            assertEquals(0, d0.usedIdxInRing(), "used idx moves only at publish");
            assertEquals(-1, d0.pollUsed());
        }
        assertEquals(5, popped);
        assertEquals(5, q0.usedIdx());
        assertEquals(5, q0.publishUsed());
        assertEquals(0, q0.publishUsed());
        assertEquals(5, d0.usedIdxInRing());
        for (int i = 0; i < 5; i++) {
            long used = d0.pollUsed();
            assertEquals(i, (int) used);
        }
        assertEquals(-1, d0.pollUsed());
    }

    @Test
    void descriptorChangedByDriverAfterPopKeepsValidatedCopy() {
        int head = d0.add(new long[] {BUFFERS, BUFFERS + 0x100}, new int[] {64, 32}, new boolean[] {false, true}, 2);
        d0.publish();
        assertTrue(q0.pop(chain));
        // A hostile driver rewrites the descriptors after the device validated them.
        d0.writeDescriptor(head, 0xdead_0000_0000L, -1, SplitRing.F_NEXT | SplitRing.F_INDIRECT, head);
        d0.writeDescriptor((head + 1) & 7, 0xbeef_0000_0000L, 0x7fff_ffff, SplitRing.F_WRITE, 0);
        assertEquals(BUFFERS, chain.addr(0));
        assertEquals(64, chain.len(0));
        assertFalse(chain.isWritable(0));
        assertEquals(BUFFERS + 0x100, chain.addr(1));
        assertEquals(32, chain.len(1));
        assertEquals(32, chain.slice(1).byteSize());
        assertEquals(96, chain.readableBytes() + chain.writableBytes());
        assertFalse(q0.isBroken());
    }

    @Test
    void wrapAroundOf16BitIndices() {
        tearDown();
        g = new MockGuest();
        start(4, BASE_FEATURES | EVENT_IDX);
        int total = 70_000;
        int sent = 0;
        int done = 0;
        while (done < total) {
            while (sent < total && d0.numFree() > 0) {
                g.ram.set(ValueLayout.JAVA_INT, BUFFERS + 0x100L * (sent & 3), sent);
                assertNotEquals(-1, add(d0, BUFFERS + 0x100L * (sent & 3), 4, false));
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
        assertEquals(total & 0xFFFF, q0.lastAvailIdx());
        assertEquals(total & 0xFFFF, q0.usedIdx());
        assertEquals(total & 0xFFFF, d0.usedIdxInRing());
        assertFalse(q0.isBroken());
    }

    // ---- violations found while walking ----

    @Test
    void descriptorChainTooLongWhenChainLoops() {
        d0.writeDescriptor(0, BUFFERS, 8, SplitRing.F_NEXT, 1);
        d0.writeDescriptor(1, BUFFERS, 8, SplitRing.F_NEXT, 0);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_CHAIN_TOO_LONG, 8);
        assertEquals(0, chain.length(), "a rejected chain is not handed out");
        assertOtherQueueWorks();
    }

    @Test
    void descriptorChainTooLongWhenIndirectTableExceedsQueueSize() {
        long table = BUFFERS + 0x10000;
        for (int i = 0; i < 9; i++) {
            g.ram.set(LittleEndian.U64, table + 16L * i, BUFFERS);
            g.ram.set(LittleEndian.U32, table + 16L * i + 8, 4);
            g.ram.set(LittleEndian.U16, table + 16L * i + 12, (short) (i < 8 ? SplitRing.F_NEXT : 0));
            g.ram.set(LittleEndian.U16, table + 16L * i + 14, (short) (i + 1));
        }
        d0.writeDescriptor(0, table, 16 * 9, SplitRing.F_INDIRECT, 0);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_CHAIN_TOO_LONG, 8);
        assertOtherQueueWorks();
    }

    @Test
    void descriptorChainTooLongWhenIndirectTableLoops() {
        long table = BUFFERS + 0x10000;
        g.ram.set(LittleEndian.U64, table, BUFFERS);
        g.ram.set(LittleEndian.U32, table + 8, 4);
        g.ram.set(LittleEndian.U16, table + 12, (short) SplitRing.F_NEXT);
        g.ram.set(LittleEndian.U16, table + 14, (short) 0);
        d0.writeDescriptor(0, table, 16, SplitRing.F_INDIRECT, 0);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_CHAIN_TOO_LONG, 8);
    }

    @Test
    void descriptorIndexOutOfRangeForNext() {
        d0.writeDescriptor(0, BUFFERS, 8, SplitRing.F_NEXT, 8);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, 8, 8);
        assertOtherQueueWorks();
    }

    @Test
    void descriptorIndexOutOfRangeForHead() {
        d0.publishHead(9);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, 9, 8);
        assertOtherQueueWorks();
    }

    @Test
    void descriptorIndexOutOfRangeInsideIndirectTable() {
        long table = BUFFERS + 0x10000;
        g.ram.set(LittleEndian.U64, table, BUFFERS);
        g.ram.set(LittleEndian.U32, table + 8, 4);
        g.ram.set(LittleEndian.U16, table + 12, (short) SplitRing.F_NEXT);
        g.ram.set(LittleEndian.U16, table + 14, (short) 2);
        d0.writeDescriptor(0, table, 32, SplitRing.F_INDIRECT, 0);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, 2, 2);
    }

    @Test
    void nestedIndirect() {
        long table = BUFFERS + 0x10000;
        g.ram.set(LittleEndian.U64, table, BUFFERS + 0x20000);
        g.ram.set(LittleEndian.U32, table + 8, 16);
        g.ram.set(LittleEndian.U16, table + 12, (short) SplitRing.F_INDIRECT);
        d0.writeDescriptor(0, table, 16, SplitRing.F_INDIRECT, 0);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.NESTED_INDIRECT, 0);
        assertOtherQueueWorks();
    }

    @Test
    void indirectNotNegotiated() {
        start(8, VirtioFeatures.mask(VirtioFeatures.VERSION_1));
        d0.addIndirect(BUFFERS + 0x10000, new long[] {BUFFERS}, new int[] {8}, new boolean[] {false}, 1);
        d0.publish();
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_NOT_NEGOTIATED, 0);
        assertOtherQueueWorks();
    }

    @Test
    void indirectWithNext() {
        d0.writeDescriptor(0, BUFFERS + 0x10000, 16, SplitRing.F_INDIRECT | SplitRing.F_NEXT, 1);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_WITH_NEXT, 0, SplitRing.F_INDIRECT | SplitRing.F_NEXT);
    }

    @Test
    void indirectTableLengthNotMultipleOf16() {
        d0.writeDescriptor(0, BUFFERS + 0x10000, 24, SplitRing.F_INDIRECT, 0);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_TABLE_LENGTH_INVALID, 24);
        assertOtherQueueWorks();
    }

    @Test
    void indirectTableLengthZero() {
        d0.writeDescriptor(0, BUFFERS + 0x10000, 0, SplitRing.F_INDIRECT, 0);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_TABLE_LENGTH_INVALID, 0);
    }

    @Test
    void indirectTableOutsideMemory() {
        long addr = MockGuest.MEMORY_SIZE - 32;
        d0.writeDescriptor(0, addr, 48, SplitRing.F_INDIRECT, 0);
        d0.publishHead(0);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INDIRECT_TABLE_OUTSIDE_MEMORY, addr, 48);
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
        // DPDK CVE-2018-1059: the address is inside memory, address + len is not.
        long addr = MockGuest.MEMORY_SIZE - 16;
        add(d0, addr, 17, true);
        d0.publish();
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_OUTSIDE_MEMORY, addr, 17);
        assertOtherQueueWorks();
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
    void chainLengthOverflow(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        // Three 1.5 GiB buffers in a sparse 2 GiB mapping: 4.5 GiB in total breaks the u32 rule.
        long big = 1L << 31;
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(dir.resolve("sparse"), StandardOpenOption.CREATE,
                        StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.SPARSE)) {
            ch.truncate(big);
            MemorySegment sparse = ch.map(FileChannel.MapMode.READ_WRITE, 0, big, arena);
            GuestMemory mem = GuestMemory.of(GuestMemoryRegion.of(0, g.ram), GuestMemoryRegion.of(1L << 32, sparse));
            SplitQueue q = new SplitQueue(8);
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
    void invalidAvailRingIndex() {
        d0.setAvailIdx(9);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.INVALID_AVAIL_RING_INDEX, 9, 0, 8);
        assertOtherQueueWorks();
    }

    @Test
    void availIndexAheadByExactlyQueueSizeIsValid() {
        for (int i = 0; i < 8; i++) {
            add(d0, BUFFERS + 0x100L * i, 8, false);
        }
        d0.publish();
        int n = 0;
        while (q0.pop(chain)) {
            n++;
        }
        assertEquals(8, n);
        assertFalse(q0.isBroken());
    }

    // ---- violations found at activation ----

    @Test
    void queueSizeZero() {
        SplitQueue q = new SplitQueue(256);
        VirtqueueException e = assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(0, 0x1000, 0x20000, 0x30000, 0)));
        assertEquals(Rule.QUEUE_SIZE_ZERO, e.error().rule());
        assertBroken(q, Rule.QUEUE_SIZE_ZERO, 0);
        assertOtherQueueWorks();
    }

    @Test
    void queueSizeNotPowerOfTwo() {
        SplitQueue q = new SplitQueue(256);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(100, 0x1000, 0x20000, 0x30000, 0)));
        assertBroken(q, Rule.QUEUE_SIZE_NOT_POWER_OF_TWO, 100);
        assertEquals("queue size must be a power of 2, got size=100", q.brokenReason().message());
    }

    @Test
    void queueSizeTooLarge() {
        SplitQueue q = new SplitQueue(256);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(512, 0x1000, 0x20000, 0x30000, 0)));
        assertBroken(q, Rule.QUEUE_SIZE_TOO_LARGE, 512, 256);
        SplitQueue big = new SplitQueue(32768);
        assertThrows(VirtqueueException.class,
                () -> big.activate(g.memory, QueueConfig.guestPhysical(65536, 0x1000, 0x20000, 0x30000, 0)));
        assertBroken(big, Rule.QUEUE_SIZE_TOO_LARGE, 65536, 32768);
        assertThrows(IllegalArgumentException.class, () -> new SplitQueue(65536));
    }

    @Test
    void ringMisaligned() {
        SplitQueue q = new SplitQueue(256);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, 0x1008, 0x20000, 0x30000, 0)));
        assertBroken(q, Rule.RING_MISALIGNED, 0x1008, 16);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, 0x1000, 0x20001, 0x30000, 0)));
        assertBroken(q, Rule.RING_MISALIGNED, 0x20001, 2);
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, 0x1000, 0x20000, 0x30002, 0)));
        assertBroken(q, Rule.RING_MISALIGNED, 0x30002, 4);
        assertOtherQueueWorks();
    }

    @Test
    void ringOutsideMemory() {
        SplitQueue q = new SplitQueue(256);
        long usedAddr = MockGuest.MEMORY_SIZE - 64;
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, 0x1000, 0x20000, usedAddr, 0)));
        assertBroken(q, Rule.RING_OUTSIDE_MEMORY, usedAddr, SplitRing.usedRingSize(8));
        assertThrows(VirtqueueException.class,
                () -> q.activate(g.memory, QueueConfig.guestPhysical(8, 1L << 40, 0x20000, 0x30000, 0)));
        assertBroken(q, Rule.RING_OUTSIDE_MEMORY, 1L << 40, 128);
        assertOtherQueueWorks();
    }

    @Test
    void ringAddressesAsFrontendUserAddresses() {
        long uva = 0x7f12_3400_0000L;
        GuestMemory mem = GuestMemory.of(new GuestMemoryRegion(0, g.ram.byteSize(), uva, 0, g.ram, null));
        SplitQueue q = new SplitQueue(8);
        q.activate(mem, new QueueConfig(8, uva + 0x1000, uva + 0x20000, uva + 0x30000,
                QueueConfig.AddressSpace.FRONTEND_USER, BASE_FEATURES));
        int head = add(d0, BUFFERS, 8, false);
        d0.publish();
        assertTrue(q.pop(chain));
        assertEquals(head, chain.head());
    }

    @Test
    void resetAndReactivateAfterBreak() {
        d0.publishHead(9);
        assertFalse(q0.pop(chain));
        assertTrue(q0.isBroken());
        q0.reset();
        assertFalse(q0.isBroken());
        d0 = new DriverSplitQueue(g.memory, 8, 0x1000, 0x20000, 0x30000, BASE_FEATURES);
        q0.activate(g.memory, d0.config(BASE_FEATURES));
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertTrue(q0.pop(chain));
    }

    @Test
    void vringBaseGetAndSet() {
        for (int i = 0; i < 3; i++) {
            add(d0, BUFFERS, 8, false);
        }
        d0.publish();
        assertTrue(q0.pop(chain));
        assertTrue(q0.pop(chain));
        assertEquals(2, q0.lastAvailIdx());
        // GET_VRING_BASE, then a new backend resumes with SET_VRING_BASE.
        SplitQueue resumed = new SplitQueue(8);
        resumed.setLastAvailIdx(q0.lastAvailIdx());
        resumed.activate(g.memory, d0.config(BASE_FEATURES));
        assertEquals(2, resumed.usedIdx());
        assertTrue(resumed.pop(chain));
        assertEquals(2, chain.head() - 0, "the third chain");
        assertFalse(resumed.pop(chain));
    }

    // ---- notifications (virtio 1.2, 2.7.7 and 2.7.10) ----

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
    void needsNotificationAtVringNeedEventBoundaries() {
        start(8, BASE_FEATURES | EVENT_IDX);
        d0.disableUsedNotifications();
        // used idx 0 -> 1 writes entry 0: notify iff used_event == 0.
        d0.setUsedEvent(0);
        roundTrip(1);
        assertTrue(q0.needsNotification());
        // 1 -> 2 with used_event 2: entry 1 is not entry 2.
        d0.setUsedEvent(2);
        roundTrip(1);
        assertFalse(q0.needsNotification());
        // 2 -> 5 passes entries 2, 3, 4: used_event 4 is the last that triggers, 5 does not.
        d0.setUsedEvent(4);
        roundTrip(3);
        assertTrue(q0.needsNotification());
        d0.setUsedEvent(7);
        roundTrip(2);
        assertFalse(q0.needsNotification(), "entries 5 and 6 do not reach used_event 7");
        d0.setUsedEvent(6);
        roundTrip(1);
        assertFalse(q0.needsNotification(), "entry 7 is past used_event 6 which was already passed");
        // Nothing published since the last decision: no notification.
        assertFalse(q0.needsNotification());
        // With EVENT_IDX the NO_INTERRUPT bit is ignored (2.7.7.2).
        d0.setAvailFlags(SplitRing.AVAIL_F_NO_INTERRUPT);
        d0.setUsedEvent(8);
        roundTrip(1);
        assertTrue(q0.needsNotification());
    }

    @Test
    void needEventArithmeticAcrossIndexWrap() {
        assertTrue(EventIndex.needEvent(0xFFFF, 0, 0xFFFF));
        assertTrue(EventIndex.needEvent(0xFFFE, 1, 0xFFFD));
        assertFalse(EventIndex.needEvent(1, 1, 0xFFFD));
        assertTrue(EventIndex.needEvent(0, 1, 0xFFFD));
        assertFalse(EventIndex.needEvent(5, 5, 5));
    }

    @Test
    void noInterruptFlagHonouredWithoutEventIdx() {
        d0.setAvailFlags(SplitRing.AVAIL_F_NO_INTERRUPT);
        roundTrip(1);
        assertFalse(q0.needsNotification());
        d0.setAvailFlags(0);
        roundTrip(1);
        assertTrue(q0.needsNotification());
        // used_event is ignored without EVENT_IDX (2.7.7.2).
        d0.setUsedEvent(100);
        roundTrip(1);
        assertTrue(q0.needsNotification());
        d0.disableUsedNotifications();
        roundTrip(1);
        assertFalse(q0.needsNotification());
    }

    @Test
    void availEventWrittenWhenNotificationsEnabled() {
        start(8, BASE_FEATURES | EVENT_IDX);
        roundTrip(3);
        assertEquals(3, d0.availEvent(), "the device tracks avail_event while notifications are on");
        q0.disableNotifications();
        roundTrip(2);
        assertEquals(3, d0.availEvent(), "left behind while polling");
        assertEquals(0, d0.usedFlags(), "with EVENT_IDX the device keeps used flags 0");
        assertFalse(q0.enableNotifications());
        assertEquals(5, d0.availEvent());
        // The driver kicks exactly when it writes the entry at avail_event.
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertTrue(d0.needsKick());
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertFalse(d0.needsKick(), "entry 6 is past avail_event 5; the device has not caught up");
    }

    @Test
    void noNotifyFlagWithoutEventIdx() {
        q0.disableNotifications();
        assertEquals(SplitRing.USED_F_NO_NOTIFY, d0.usedFlags());
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertFalse(d0.needsKick());
        assertTrue(q0.enableNotifications(), "re-check finds the buffer made available while kicks were off");
        assertEquals(0, d0.usedFlags());
        add(d0, BUFFERS, 8, false);
        d0.publish();
        assertTrue(d0.needsKick());
    }

    @Test
    void enableNotificationsReChecksAvailRing() {
        start(8, BASE_FEATURES | EVENT_IDX);
        q0.disableNotifications();
        assertFalse(q0.enableNotifications());
        add(d0, BUFFERS, 8, false);
        d0.publish();
        q0.disableNotifications();
        assertTrue(q0.enableNotifications());
        assertTrue(q0.pop(chain));
    }

    @Test
    void prefetchReadsAheadWithoutTakingAnything() {
        for (int i = 0; i < 3; i++) {
            g.write(BUFFERS + 0x100L * i, bytes(64, i + 1));
            add(d0, BUFFERS + 0x100L * i, 64, false);
        }
        d0.publish();
        int usedBefore = d0.usedIdxInRing();
        assertEquals(0, q0.prefetch(0, 12), "max 0 reads nothing");
        assertEquals(2, q0.prefetch(2, 12), "at most max entries");
        assertEquals(3, q0.prefetch(32, 12), "at most what is available");
        assertEquals(3, q0.prefetch(32, -1), "descriptors only");
        // Nothing taken and nothing the driver sees changed: the three chains pop as before.
        assertEquals(0, q0.lastAvailIdx());
        assertEquals(usedBefore, d0.usedIdxInRing());
        for (int i = 0; i < 3; i++) {
            assertTrue(q0.pop(chain));
            assertEquals(BUFFERS + 0x100L * i, chain.addr(0));
        }
        assertEquals(0, q0.prefetch(32, 12), "nothing left to read ahead");
        assertFalse(q0.isBroken());
    }

    @Test
    void prefetchSkipsHostileEntriesAndLeavesTheErrorToPop() {
        // Entry 0: a head beyond the ring; entry 1: a buffer outside guest memory; entry 2: an
        // offset past the buffer's end. prefetch must neither throw nor break the queue.
        d0.writeDescriptor(1, 0x7FFF_0000_0000L, 64, 0, 0);
        d0.writeDescriptor(2, BUFFERS, 8, 0, 0);
        d0.publishHead(200);
        d0.publishHead(1);
        d0.publishHead(2);
        assertEquals(3, q0.prefetch(32, 12));
        assertFalse(q0.isBroken(), "read-ahead reports nothing");
        assertFalse(q0.pop(chain), "pop still finds the bad head");
        assertTrue(q0.isBroken());
        assertEquals(0, q0.prefetch(32, 12), "a broken queue reads nothing ahead");
    }

    @Test
    void prefetchOnAnInactiveQueueReadsNothing() {
        assertEquals(0, new SplitQueue(8).prefetch(32, 0));
    }

    @Test
    void prefetchRejectsAnAvailIndexTooFarAhead() {
        d0.setAvailIdx(100);
        assertEquals(0, q0.prefetch(32, -1), "more than size outstanding: nothing read ahead");
        assertEquals(0, q0.prefetch(4, -1), "not even with a max below the size");
        assertFalse(q0.pop(chain));
        assertTrue(q0.isBroken(), "pop reports it");
    }

    // ---- peekSimple / takeSimple: the one-descriptor burst path ----

    @Test
    void peekSimpleReadsOneDescriptorChainsWithoutTakingThem() {
        for (int i = 0; i < 3; i++) {
            g.write(BUFFERS + 0x100L * i, bytes(64, i + 1));
            add(d0, BUFFERS + 0x100L * i, 64 + i, false);
        }
        d0.publish();
        SimpleChains c = new SimpleChains(32);
        assertEquals(2, q0.peekSimple(c, 2, false), "at most max");
        assertFalse(c.exhausted(), "stopped at max, one more is available");
        assertEquals(3, q0.peekSimple(c, 32, false), "at most what is available");
        assertEquals(3, c.count());
        assertTrue(c.exhausted(), "every available entry read");
        for (int i = 0; i < 3; i++) {
            assertEquals(64 + i, c.length[i]);
            assertArrayEquals(bytes(64, i + 1), c.segment(i).asSlice(c.offset[i], 64).toArray(ValueLayout.JAVA_BYTE));
        }
        assertEquals(0, q0.lastAvailIdx(), "a peek takes nothing");
        assertEquals(0, q0.peekSimple(c, 32, true), "readable buffers are not writable ones");
        // Take two: as two pops (from the last peek, so peek again). The third still pops the usual way.
        assertEquals(3, q0.peekSimple(c, 32, false));
        q0.takeSimple(2);
        assertEquals(2, q0.lastAvailIdx());
        q0.pushUsed(c.head[0], 1, 0);
        q0.pushUsed(c.head[1], 1, 0);
        q0.publishUsed();
        assertEquals((long) c.head[0] << 32, d0.pollUsed());
        assertEquals((long) c.head[1] << 32, d0.pollUsed());
        assertTrue(q0.pop(chain));
        assertEquals(BUFFERS + 0x200L, chain.addr(0));
        assertEquals(0, q0.peekSimple(c, 32, false), "nothing left");
        assertFalse(q0.isBroken());
    }

    @Test
    void peekSimpleStopsAtTheFirstChainItCannotTakeAndPopHandlesIt() {
        SimpleChains c = new SimpleChains(32);
        // 0: fine; 1: two descriptors (NEXT); then a fine one that must not be reached.
        add(d0, BUFFERS, 64, false);
        d0.add(new long[] {BUFFERS + 0x100, BUFFERS + 0x200}, new int[] {12, 64}, new boolean[2], 2);
        add(d0, BUFFERS + 0x300, 64, false);
        d0.publish();
        assertEquals(1, q0.peekSimple(c, 32, false), "stops before the two-descriptor chain");
        assertFalse(c.exhausted(), "stopped at a chain of another shape");
        q0.takeSimple(1);
        assertTrue(q0.pop(chain), "pop walks the chained one");
        assertEquals(2, chain.length());
        assertEquals(1, q0.peekSimple(c, 32, false), "and the burst goes on after it");
        assertEquals(BUFFERS + 0x300, c.segment(0).address() + c.offset[0] - g.memory.segment(0).address());
    }

    @Test
    void peekSimpleLeavesIndirectWritableAndHostileEntriesToPop() {
        SimpleChains c = new SimpleChains(32);
        // An indirect descriptor.
        d0.addIndirect(BUFFERS + 0x1000, new long[] {BUFFERS}, new int[] {64}, new boolean[1], 1);
        d0.publish();
        assertEquals(0, q0.peekSimple(c, 32, false), "indirect: not a one-descriptor chain");
        assertTrue(q0.pop(chain));
        // A writable buffer on a queue read as readable, and the other way round.
        add(d0, BUFFERS, 64, true);
        d0.publish();
        assertEquals(0, q0.peekSimple(c, 32, false));
        assertEquals(1, q0.peekSimple(c, 32, true));
        q0.takeSimple(1);
        // A buffer outside guest memory: left to pop, which breaks the queue by name.
        d0.writeDescriptor(5, 0x7FFF_0000_0000L, 64, 0, 0);
        d0.publishHead(5);
        assertEquals(0, q0.peekSimple(c, 32, false));
        assertFalse(q0.isBroken(), "a peek reports nothing");
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_OUTSIDE_MEMORY, 0x7FFF_0000_0000L, 64);
        assertEquals(0, q0.peekSimple(c, 32, false), "a broken queue peeks nothing");
    }

    @Test
    void peekSimpleStopsAtAHeadBeyondTheRingAndAtAHugeLength() {
        SimpleChains c = new SimpleChains(32);
        add(d0, BUFFERS, 64, false);
        d0.publishHead(200);
        d0.publish();
        assertEquals(1, q0.peekSimple(c, 32, false), "a head beyond the ring ends the burst");
        q0.takeSimple(1);
        assertFalse(q0.pop(chain));
        assertBroken(q0, Rule.DESCRIPTOR_INDEX_OUT_OF_RANGE, 200, 8);

        start(8, BASE_FEATURES);
        d0.writeDescriptor(3, BUFFERS, 0x8000_0000, 0, 0);
        d0.publishHead(3);
        assertEquals(0, q0.peekSimple(new SimpleChains(4), 4, false), "a length of 2^31 or more is not a simple chain");
    }

    @Test
    void peekSimpleRejectsAnAvailIndexTooFarAhead() {
        d0.setAvailIdx(100);
        SimpleChains c = new SimpleChains(32);
        assertEquals(0, q0.peekSimple(c, 32, false));
        assertBroken(q0, Rule.INVALID_AVAIL_RING_INDEX, 100, 0, 8);
        assertEquals(0, c.count());
    }

    @Test
    void takeSimpleRefusesMoreThanTheDriverMadeAvailable() {
        add(d0, BUFFERS, 64, false);
        d0.publish();
        SimpleChains c = new SimpleChains(4);
        assertEquals(1, q0.peekSimple(c, 4, false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q0.takeSimple(2));
        assertTrue(e.getMessage().contains("the last peek left 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> q0.takeSimple(-1));
        assertEquals(0, q0.lastAvailIdx(), "nothing taken by a refused take");
        q0.takeSimple(1);
        assertEquals(1, q0.lastAvailIdx());
    }

    @Test
    void takeSimpleWritesAvailEventAsPopDoes() {
        start(8, BASE_FEATURES | EVENT_IDX);
        for (int i = 0; i < 3; i++) {
            add(d0, BUFFERS + 0x100L * i, 64, false);
        }
        d0.publish();
        SimpleChains c = new SimpleChains(8);
        assertEquals(3, q0.peekSimple(c, 8, false));
        q0.takeSimple(3);
        assertEquals(3, d0.availEvent(), "notifications on: avail_event follows the taken entries");
        q0.disableNotifications();
        add(d0, BUFFERS, 64, false);
        d0.publish();
        assertEquals(1, q0.peekSimple(c, 8, false));
        q0.takeSimple(1);
        assertEquals(3, d0.availEvent(), "left behind while polling");
    }

    @Test
    void peekSimpleWrapsAroundTheRing() {
        SimpleChains c = new SimpleChains(32);
        // Move the ring 6 entries on, then make 5 available: they wrap past the end of the 8-entry ring.
        roundTrip(6);
        for (int i = 0; i < 5; i++) {
            add(d0, BUFFERS + 0x100L * i, 32 + i, false);
        }
        d0.publish();
        assertEquals(5, q0.peekSimple(c, 32, false));
        for (int i = 0; i < 5; i++) {
            assertEquals(32 + i, c.length[i]);
        }
        q0.takeSimple(5);
        assertEquals(11, q0.lastAvailIdx());
    }

    @Test
    void peekSimpleOnAnInactiveQueueReadsNothing() {
        SplitQueue q = new SplitQueue(8);
        assertEquals(0, q.peekSimple(new SimpleChains(4), 4, false));
        assertThrows(IllegalArgumentException.class, () -> new SimpleChains(0));
    }

    @Test
    void aPopBetweenPeekAndTakeEndsWhatThePeekAllows() {
        for (int i = 0; i < 3; i++) {
            add(d0, BUFFERS + 0x100L * i, 64, false);
        }
        d0.publish();
        SimpleChains c = new SimpleChains(8);
        assertEquals(3, q0.peekSimple(c, 8, false));
        q0.takeSimple(1);
        assertTrue(q0.pop(chain), "the second entry, popped the usual way");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q0.takeSimple(1));
        assertTrue(e.getMessage().contains("the last peek left 0"), e.getMessage());
        assertEquals(2, q0.lastAvailIdx(), "the refused take took nothing");
        assertEquals(1, q0.peekSimple(c, 8, false), "a new peek starts at the third entry");
        assertEquals(BUFFERS + 0x200L, c.segment(0).address() + c.offset[0] - g.memory.segment(0).address());
    }

    @Test
    void aQueueWithoutTheFastPathClearsWhatAnEarlierPeekLeft() {
        add(d0, BUFFERS, 64, false);
        d0.publish();
        SimpleChains c = new SimpleChains(8);
        assertEquals(1, q0.peekSimple(c, 8, false));
        assertTrue(c.exhausted());
        Virtqueue other = new Virtqueue() {
            @Override public void activate(GuestMemory memory, QueueConfig config) { }
            @Override public void reset() { }
            @Override public boolean isReady() { return true; }
            @Override public int size() { return 8; }
            @Override public boolean isBroken() { return false; }
            @Override public VirtqueueError brokenReason() { return null; }
            @Override public boolean pop(DescriptorChain chain) { return false; }
            @Override public void pushUsed(int head, int ringSlots, int len) { }
            @Override public int publishUsed() { return 0; }
            @Override public boolean needsNotification() { return false; }
            @Override public boolean enableNotifications() { return false; }
            @Override public void disableNotifications() { }
            @Override public int lastAvailIdx() { return 0; }
            @Override public int usedIdx() { return 0; }
            @Override public void setLastAvailIdx(int lastAvailIdx) { }
            @Override public void setUsedIdx(int usedIdx) { }
        };
        assertEquals(0, other.peekSimple(c, 8, false));
        assertEquals(0, c.count());
        assertFalse(c.exhausted(), "a queue that does not peek never says it read everything");
        assertThrows(IllegalArgumentException.class, () -> other.takeSimple(1));
    }
}

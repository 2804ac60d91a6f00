package io.ringway.vhost.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A guest for tests: one Arena-allocated region of guest memory at guest-physical address 0. */
final class MockGuest implements AutoCloseable {
    static final long MEMORY_SIZE = 1 << 20;
    /** Buffers start here; rings live below. */
    static final long BUFFERS = 0x80000;

    final Arena arena = Arena.ofShared();
    final MemorySegment ram = arena.allocate(MEMORY_SIZE, 4096);
    final GuestMemory memory = GuestMemory.of(GuestMemoryRegion.of(0, ram));

    void write(long gpa, byte[] bytes) {
        MemorySegment.copy(bytes, 0, ram, ValueLayout.JAVA_BYTE, gpa, bytes.length);
    }

    byte[] read(long gpa, int len) {
        return ram.asSlice(gpa, len).toArray(ValueLayout.JAVA_BYTE);
    }

    static byte[] bytes(int len, int seed) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = (byte) (seed + i * 7);
        }
        return b;
    }

    static void assertBroken(Virtqueue q, VirtqueueError.Rule rule, long... values) {
        assertTrue(q.isBroken(), "queue should be broken with " + rule);
        assertEquals(rule, q.brokenReason().rule(), q.brokenReason().message());
        assertArrayEquals(values, q.brokenReason().values(), q.brokenReason().message());
        assertFalse(q.isReady());
        assertFalse(q.pop(new DescriptorChain(Math.max(1, q.size()))), "a broken queue pops nothing");
    }

    @Override
    public void close() {
        arena.close();
    }
}

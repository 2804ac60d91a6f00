package io.ringway.net.packet;

import io.ringway.runtime.mem.Mempool;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Static accessors for packet buffers laid out as {@link MbufDescriptor} says. A packet is a
 * {@code long} mempool handle, never an object; these methods take the pool's memory and the
 * buffer's offset ({@link Mempool#offset(long)}) so that the hot path allocates nothing.
 */
public final class Mbuf {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private Mbuf() {
    }

    /**
     * Creates a pool of packet buffers.
     *
     * @param count number of buffers
     * @return a pool of {@link MbufDescriptor#BUFFER_SIZE}-byte buffers
     */
    public static Mempool createPool(int count) {
        return Mempool.allocate(count, MbufDescriptor.BUFFER_SIZE);
    }

    /** @return the packet length of the buffer at {@code offset} */
    public static int length(MemorySegment memory, long offset) {
        return memory.get(INT, offset + MbufDescriptor.LENGTH_OFFSET);
    }

    /** Sets the packet length of the buffer at {@code offset}. */
    public static void length(MemorySegment memory, long offset, int length) {
        memory.set(INT, offset + MbufDescriptor.LENGTH_OFFSET, length);
    }

    /** @return the input port id of the buffer at {@code offset} */
    public static int port(MemorySegment memory, long offset) {
        return Short.toUnsignedInt(memory.get(SHORT, offset + MbufDescriptor.PORT_OFFSET));
    }

    /** Sets the input port and queue of the buffer at {@code offset}. */
    public static void input(MemorySegment memory, long offset, int port, int queue) {
        memory.set(SHORT, offset + MbufDescriptor.PORT_OFFSET, (short) port);
        memory.set(SHORT, offset + MbufDescriptor.QUEUE_OFFSET, (short) queue);
    }

    /** @return the offset in the pool's memory of the first packet byte of the buffer at {@code offset} */
    public static long data(long offset) {
        return offset + MbufDescriptor.DATA_OFFSET;
    }

    /**
     * Sums the packet lengths of a burst.
     *
     * @return total bytes
     */
    public static long totalLength(Mempool pool, long[] handles, int off, int n) {
        MemorySegment memory = pool.memory();
        long bytes = 0;
        for (int i = 0; i < n; i++) {
            bytes += memory.get(INT, pool.offset(handles[off + i]) + MbufDescriptor.LENGTH_OFFSET);
        }
        return bytes;
    }
}

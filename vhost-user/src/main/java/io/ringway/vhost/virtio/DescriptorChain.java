package io.ringway.vhost.virtio;

import java.lang.foreign.MemorySegment;

/**
 * One buffer popped from a virtqueue: the validated copy of its descriptors, read once from guest
 * memory (virtio 1.2, 2.7.5 / 2.8.12). Reusable: a queue fills it on every {@code pop}, so the hot
 * path allocates nothing.
 *
 * <p>Entry {@code i} is a guest-physical range {@code (addr(i), len(i))}, device-readable or
 * device-writable, already translated: {@link #segment(int)} at {@link #offset(int)} holds its
 * bytes. Readable entries come first ({@code 0 .. readableCount()-1}), then writable ones; the
 * queue enforces that order (virtio 1.2, 2.7.4.2). Because the entries are a copy, a driver that
 * rewrites the ring after the pop cannot change what the device validated.
 *
 * <p>When the device has finished, it hands {@link #head()} (and, for a packed queue,
 * {@link #ringSlots()}) back through {@link Virtqueue#pushUsed(DescriptorChain, int)}, or later
 * through {@link Virtqueue#pushUsed(int, int, int)} if it completes asynchronously.
 */
public final class DescriptorChain {
    private final long[] addr;
    private final int[] len;
    private final boolean[] writable;
    private final int[] region;
    private final long[] offset;
    private GuestMemory memory;
    private int count;
    private int head;
    private int ringSlots;
    private int readable;
    private long readableBytes;
    private long writableBytes;

    /**
     * @param capacity the most entries a chain can have; at least the queue size it is popped from
     */
    public DescriptorChain(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive, got " + capacity);
        }
        addr = new long[capacity];
        len = new int[capacity];
        writable = new boolean[capacity];
        region = new int[capacity];
        offset = new long[capacity];
    }

    /** @return the most entries this chain can hold */
    public int capacity() {
        return addr.length;
    }

    /** @return the buffer's identifier for the used ring: split head descriptor index, or packed buffer id */
    public int head() {
        return head;
    }

    /** @return ring descriptors the buffer took (split: 1 per chained descriptor; packed: slots to skip) */
    public int ringSlots() {
        return ringSlots;
    }

    /** @return number of buffer elements (indirect tables expanded) */
    public int length() {
        return count;
    }

    /** @return number of device-readable elements; they are entries {@code 0 .. readableCount()-1} */
    public int readableCount() {
        return readable;
    }

    /** @return number of device-writable elements; they follow the readable ones */
    public int writableCount() {
        return count - readable;
    }

    /** @return total bytes of device-readable elements */
    public long readableBytes() {
        return readableBytes;
    }

    /** @return total bytes of device-writable elements (what a device can report as used len at most) */
    public long writableBytes() {
        return writableBytes;
    }

    /**
     * @param i entry
     * @return its guest-physical address
     */
    public long addr(int i) {
        check(i);
        return addr[i];
    }

    /**
     * @param i entry
     * @return its length in bytes (unsigned 32-bit value, as an int)
     */
    public int len(int i) {
        check(i);
        return len[i];
    }

    /**
     * @param i entry
     * @return its length in bytes as a non-negative long
     */
    public long lenUnsigned(int i) {
        check(i);
        return Integer.toUnsignedLong(len[i]);
    }

    /**
     * @param i entry
     * @return true if the device may write it (VIRTQ_DESC_F_WRITE)
     */
    public boolean isWritable(int i) {
        check(i);
        return writable[i];
    }

    /**
     * @param i entry
     * @return index of the guest memory region holding it
     */
    public int region(int i) {
        check(i);
        return region[i];
    }

    /**
     * @param i entry
     * @return offset of its first byte in {@link #segment(int)}
     */
    public long offset(int i) {
        check(i);
        return offset[i];
    }

    /**
     * The whole region segment holding entry {@code i} (no allocation); its bytes are at
     * {@code [offset(i), offset(i) + len(i))}.
     *
     * @param i entry
     * @return the region segment
     */
    public MemorySegment segment(int i) {
        check(i);
        return memory.segment(region[i]);
    }

    /**
     * A slice of exactly entry {@code i}'s bytes (allocates a segment object; for the control
     * plane and tests).
     *
     * @param i entry
     * @return the slice
     */
    public MemorySegment slice(int i) {
        check(i);
        return memory.segment(region[i]).asSlice(offset[i], Integer.toUnsignedLong(len[i]));
    }

    /** @return the guest memory the entries were translated through */
    public GuestMemory memory() {
        return memory;
    }

    private void check(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("entry " + i + " of " + count);
        }
    }

    void reset(GuestMemory memory) {
        this.memory = memory;
        count = 0;
        head = 0;
        ringSlots = 0;
        readable = 0;
        readableBytes = 0;
        writableBytes = 0;
    }

    /** Appends a validated element; the caller checked capacity, order and memory. */
    void add(long a, int l, boolean w, int r, long off) {
        int i = count++;
        addr[i] = a;
        len[i] = l;
        writable[i] = w;
        region[i] = r;
        offset[i] = off;
        if (w) {
            writableBytes += Integer.toUnsignedLong(l);
        } else {
            readable++;
            readableBytes += Integer.toUnsignedLong(l);
        }
    }

    void finish(int head, int ringSlots) {
        this.head = head;
        this.ringSlots = ringSlots;
    }
}

package io.ringway.vhost.virtio;

import java.lang.foreign.MemorySegment;

/** What split and packed device queues share: activation checks and the broken state. */
abstract sealed class AbstractVirtqueue implements Virtqueue permits SplitQueue, PackedQueue {
    /** virtio 1.2, 2.7 and 2.8: "The maximum Queue Size value is 32768". */
    public static final int MAX_QUEUE_SIZE = 32768;

    final int maxSize;
    GuestMemory memory;
    int size;
    boolean ready;
    boolean eventIdx;
    boolean indirectDesc;
    boolean inOrder;
    private VirtqueueError broken;

    AbstractVirtqueue(int maxSize) {
        if (maxSize <= 0 || maxSize > MAX_QUEUE_SIZE) {
            throw new IllegalArgumentException("max queue size must be in 1..32768, got " + maxSize);
        }
        this.maxSize = maxSize;
    }

    /** @return the largest queue size the device accepts */
    public final int maxSize() {
        return maxSize;
    }

    @Override
    public final boolean isReady() {
        return ready && broken == null;
    }

    @Override
    public final int size() {
        return size;
    }

    @Override
    public final boolean isBroken() {
        return broken != null;
    }

    @Override
    public final VirtqueueError brokenReason() {
        return broken;
    }

    /** Records a violation and stops the queue; returns false so callers can {@code return fail(...)}. */
    final boolean fail(VirtqueueError.Rule rule, long... values) {
        if (broken == null) {
            broken = new VirtqueueError(rule, values);
        }
        ready = false;
        return false;
    }

    final void clearBroken() {
        broken = null;
    }

    // Fixed-arity forms: a varargs call builds its array in the caller's bytecode, and bytecode size
    // decides whether C2 inlines a hot method (FreqInlineSize), so the hot paths call these.
    final boolean fail(VirtqueueError.Rule rule, long a) {
        return fail(rule, new long[] {a});
    }

    final boolean fail(VirtqueueError.Rule rule, long a, long b) {
        return fail(rule, new long[] {a, b});
    }

    final boolean fail(VirtqueueError.Rule rule, long a, long b, long c) {
        return fail(rule, new long[] {a, b, c});
    }

    /** Control-plane failure: record, then throw. */
    final VirtqueueException activationError(VirtqueueError.Rule rule, long... values) {
        fail(rule, values);
        return new VirtqueueException(broken);
    }

    final void checkSize(int size, boolean powerOfTwo) {
        if (size == 0) {
            throw activationError(VirtqueueError.Rule.QUEUE_SIZE_ZERO, size);
        }
        if (size < 0 || size > MAX_QUEUE_SIZE || size > maxSize) {
            throw activationError(VirtqueueError.Rule.QUEUE_SIZE_TOO_LARGE, Integer.toUnsignedLong(size),
                    Math.min(maxSize, MAX_QUEUE_SIZE));
        }
        if (powerOfTwo && (size & (size - 1)) != 0) {
            throw activationError(VirtqueueError.Rule.QUEUE_SIZE_NOT_POWER_OF_TWO, size);
        }
    }

    /** Checks alignment and that a ring part is inside one region; returns exactly its bytes. */
    final MemorySegment ringPart(GuestMemory mem, QueueConfig.AddressSpace space, long addr, long len,
            int alignment) {
        if ((addr & (alignment - 1)) != 0) {
            throw activationError(VirtqueueError.Rule.RING_MISALIGNED, addr, alignment);
        }
        int r;
        long off;
        if (space == QueueConfig.AddressSpace.GUEST_PHYSICAL) {
            r = mem.findGpa(addr, len);
            off = r < 0 ? 0 : mem.gpaOffset(r, addr);
        } else {
            r = mem.findUserAddr(addr, len);
            off = r < 0 ? 0 : mem.userAddrOffset(r, addr);
        }
        if (r < 0) {
            throw activationError(VirtqueueError.Rule.RING_OUTSIDE_MEMORY, addr, len);
        }
        MemorySegment part = mem.segment(r).asSlice(off, len);
        // Acquire/release accesses need natural alignment of the mapped address as well.
        if ((part.address() & (alignment - 1)) != 0) {
            throw activationError(VirtqueueError.Rule.RING_MISALIGNED, addr, alignment);
        }
        return part;
    }

    /** Start of activation: forget an old error, take the features. */
    final void beginActivation(GuestMemory mem, QueueConfig config) {
        if (mem == null || config == null) {
            throw new NullPointerException("memory and config are required");
        }
        ready = false;
        broken = null;
        peekLeft = 0;
        memory = mem;
        gpaHint = 0;
        eventIdx = config.eventIdx();
        inOrder = VirtioFeatures.has(config.features(), VirtioFeatures.IN_ORDER);
        indirectDesc = config.indirectDesc();
    }

    /** Chains the last {@code peekSimple} read that {@code takeSimple} may still take (0 after a pop). */
    int peekLeft;

    /** Starts a peekSimple: forgets what the last peek left; false (and {@code out} empty) if the queue does not run. */
    final boolean beginPeek(SimpleChains out) {
        peekLeft = 0;
        if (!ready) {
            out.filled(memory, 0, false);
            return false;
        }
        return true;
    }

    /** Checks a take against what the last peek left and counts it off: true if the ring must move on by {@code k}. */
    final boolean beginTake(int k) {
        if (k < 0 || k > peekLeft) {
            throw new IllegalArgumentException("cannot take " + k + " chains: the last peek left " + peekLeft);
        }
        if (k == 0 || !ready) {
            return false;
        }
        peekLeft -= k;
        return true;
    }

    /** Records a one-descriptor chain for peekSimple once its buffer is checked against guest memory; false if it is not inside. */
    final boolean addSimple(SimpleChains out, int i, int head, long addr, int len) {
        int r = findGpa(addr, len);
        if (r < 0) {
            return false;
        }
        out.head[i] = head;
        out.region[i] = r;
        out.offset[i] = memory.gpaOffset(r, addr);
        out.length[i] = len;
        return true;
    }

    // Per-pop walk state, reset by beginWalk: fields, not locals, so the element check is one method.
    private long walkTotal;
    private boolean walkSeenWritable;
    // This queue's own last-region hint for descriptor lookups: a queue is polled by one thread, so
    // lcores on different regions neither fight over one hint nor write a shared cache line.
    private int gpaHint;

    final void beginWalk(DescriptorChain chain) {
        chain.reset(memory);
        walkTotal = 0;
        walkSeenWritable = false;
    }

    /**
     * Validates one buffer element (a copy already read from the ring) and appends it to the chain.
     *
     * @return false after recording the violation
     */
    final boolean addElement(DescriptorChain chain, long addr, int len, boolean writable) {
        // virtio 1.2, 2.7.5.3.1 and 2.8.7: no chain longer than the Queue Size (this also ends loops).
        if (chain.length() >= size) {
            return fail(VirtqueueError.Rule.DESCRIPTOR_CHAIN_TOO_LONG, size);
        }
        long ulen = Integer.toUnsignedLong(len);
        // virtio 1.2, 2.7.5.2: "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes in total".
        long total = walkTotal + ulen;
        if (total > 0xFFFF_FFFFL) {
            return fail(VirtqueueError.Rule.CHAIN_LENGTH_OVERFLOW, walkTotal, ulen);
        }
        // virtio 1.2, 2.7.4.2 / 2.8.7: "The driver MUST place any device-writable descriptor elements
        // after any device-readable descriptor elements."
        if (!writable && walkSeenWritable) {
            return fail(VirtqueueError.Rule.READABLE_AFTER_WRITABLE, chain.length());
        }
        // Every address from the guest is checked, with its length, before it is touched.
        int r = memory.findGpa(addr, ulen, gpaHint);
        if (r < 0) {
            return fail(VirtqueueError.Rule.DESCRIPTOR_OUTSIDE_MEMORY, addr, ulen);
        }
        gpaHint = r;
        walkTotal = total;
        walkSeenWritable |= writable;
        chain.add(addr, len, writable, r, memory.gpaOffset(r, addr));
        return true;
    }

    /** Looks up an indirect table (or any range) with this queue's region hint; a region index or a negative status. */
    final int findGpa(long addr, long len) {
        int r = memory.findGpa(addr, len, gpaHint);
        if (r >= 0) {
            gpaHint = r;
        }
        return r;
    }

    final void checkChainCapacity(DescriptorChain chain) {
        if (chain.capacity() < size) {
            throw chainTooSmall(chain);
        }
    }

    private IllegalArgumentException chainTooSmall(DescriptorChain chain) {
        return new IllegalArgumentException(
                "chain capacity " + chain.capacity() + " is smaller than the queue size " + size);
    }
}

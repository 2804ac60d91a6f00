package io.ringway.net.device;

import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.ring.SpscRing;
import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.SimpleChains;
import io.ringway.vhost.virtio.Virtqueue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The device-to-guest half of one queue pair (the receiveq, vring 2k): takes packet buffers the
 * port queued on an SPSC ring and writes each as net header + packet into the guest's receive
 * buffers. Without MRG_RXBUF one chain holds one packet; with it, a packet may fill several chains
 * and the header's {@code num_buffers} says how many (virtio 1.2, 5.1.6.4).
 *
 * <p>When the guest has no buffer for the next packet, the packet waits (no drop) and the call
 * returns; chains already popped for a merged packet are kept for the next call. A packet that
 * the guest's buffers cannot hold (too small, or more than {@link #MAX_MERGE} chains) is dropped
 * and counted, and the chains it took are returned with used length 0.
 *
 * <p>Lcore-owned. No allocation, lock or log per packet.
 */
final class ReceiveQueueHandler {
    /** The most chains one merged packet may take. */
    static final int MAX_MERGE = 64;
    /** Used entries are published every this many packets within a burst (a power of 2). */
    static final int PUBLISH_EVERY = 16;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt INT_NATIVE = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT_NATIVE = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final VirtioNetMetrics metrics;
    private final Mempool pool;
    private final MemorySegment poolMemory;
    private final Mempool.Cache cache;
    private final SpscRing in;
    private final DescriptorChain[] chains;
    private final long[] written;
    private final long[] pending = new long[VirtioNetDevice.BURST];
    private final MemorySegment header = Arena.ofAuto().allocate(VirtioNetHeaderDescriptor.LENGTH, 8);
    private int pendingHead;
    private int pendingCount;
    private int partialChains;
    private long partialBytes;
    private Virtqueue queue;
    /** Lcore-owned: the stream run in place of the ring, and its queue towards the guest. */
    VirtioNetDevice.LocalStream local;
    private final long[] localQueue = new long[VirtioNetDevice.LOCAL_QUEUE];
    private int localHead;
    private int localTail;
    private boolean mergeable;
    private int headerLength = VirtioNetHeaderDescriptor.LENGTH;
    // Write cursor: chain, entry, offset in the entry.
    private int wc;
    private int we;
    private long wo;

    private final int pairIndex;
    /** Lcore-owned: set while the receiveq's vring poller runs on this lcore (see {@link VirtioNetDevice#vringPolling}). */
    boolean polled;
    // Frames written by receiveDirect since the last publishDirect (lcore-owned).
    private int directChains;
    /** The packet ring was seen empty in the current direct burst: nothing else fills it before publishDirect. */
    private boolean directRingEmpty;
    private int directPackets;
    private long directBytes;

    ReceiveQueueHandler(VirtioNetMetrics metrics, Mempool pool, Mempool.Cache cache, SpscRing in, int maxQueueSize,
            int pair) {
        this.pairIndex = pair;
        this.metrics = metrics;
        this.pool = pool;
        this.poolMemory = pool.memory();
        this.cache = cache;
        this.in = in;
        this.chains = new DescriptorChain[MAX_MERGE];
        for (int i = 0; i < MAX_MERGE; i++) {
            chains[i] = new DescriptorChain(maxQueueSize);
        }
        this.written = new long[MAX_MERGE];
    }

    void activate(Virtqueue queue, boolean mergeable, int headerLength) {
        this.queue = queue;
        this.mergeable = mergeable;
        this.headerLength = headerLength;
        partialChains = 0;
        partialBytes = 0;
    }

    /**
     * Stops: packets waiting here and in the ring go back to the pool (counted as dropped), chains
     * popped for a partial packet are forgotten (the queue is being reset). Runs on the control
     * thread once the lcore no longer calls {@link #process()} (this side is the ring's only
     * consumer); the buffers go straight to the pool's shared ring, because the lcore's cache may
     * be in use by streams that keep running there.
     */
    void reset() {
        queue = null;
        partialChains = 0;
        partialBytes = 0;
        dropPending();
        int ln = localTail - localHead;
        for (int i = 0; i < ln; i++) {
            pool.free(null, localQueue[(localHead + i) & (localQueue.length - 1)]);
        }
        metrics.rxDropReset.getAndAdd(ln);
        localHead = 0;
        localTail = 0;
        long[] drain = pending;
        int n;
        while ((n = in.dequeueBurst(drain, 0, drain.length)) > 0) {
            pool.freeBulk(null, drain, 0, n);
            metrics.rxDropReset.getAndAdd(n);
        }
    }

    /**
     * The memory table changed (on the lcore): chains popped for a partial packet point into the
     * old mappings, so they are returned empty and the packet dropped. A chain kept by
     * {@link #generate} or {@link #receiveDirect} (a buffer too small for a frame that then comes
     * as a packet buffer) may have no packet waiting yet: then there is nothing to drop.
     */
    void memoryChanged() {
        Virtqueue q = queue;
        if (partialChains > 0 && q != null) {
            for (int i = 0; i < partialChains; i++) {
                q.pushUsed(chains[i], 0);
            }
            q.publishUsed();
            q.needsNotification();
            partialChains = 0;
            partialBytes = 0;
            if (pendingHead < pendingCount) {
                pool.free(cache, pending[pendingHead++]);
                metrics.rxDropReset.increment();
            }
        }
    }

    int localRoom() {
        return localQueue.length - (localTail - localHead);
    }

    int localQueued() {
        return localTail - localHead;
    }

    int enqueueLocal(long[] packets, int off, int n) {
        int k = Math.min(n, localRoom());
        int mask = localQueue.length - 1;
        for (int i = 0; i < k; i++) {
            localQueue[(localTail + i) & mask] = packets[off + i];
        }
        localTail += k;
        return k;
    }

    private int takeLocal() {
        int k = Math.min(pending.length, localTail - localHead);
        int mask = localQueue.length - 1;
        for (int i = 0; i < k; i++) {
            pending[i] = localQueue[(localHead + i) & mask];
        }
        localHead += k;
        return k;
    }

    private void dropPending() {
        int n = pendingCount - pendingHead;
        if (n > 0) {
            pool.freeBulk(null, pending, pendingHead, n);
            metrics.rxDropReset.getAndAdd(n);
        }
        pendingHead = 0;
        pendingCount = 0;
    }

    int process() {
        final Virtqueue q = queue;
        if (q == null) {
            return 0;
        }
        final VirtioNetDevice.LocalStream direct = local;
        int generated = 0;
        if (direct != null && pendingHead == pendingCount) {
            generated = direct.beforeReceive(pairIndex);
        }
        if (pendingHead == pendingCount) {
            pendingHead = 0;
            pendingCount = localTail != localHead ? takeLocal() : in.dequeueBurst(pending, 0, pending.length);
            if (pendingCount == 0) {
                return generated;
            }
        }
        final boolean merge = mergeable;
        final int hdr = headerLength;
        int usedChains = 0;
        int delivered = 0;
        long bytes = 0;
        while (pendingHead < pendingCount) {
            final long handle = pending[pendingHead];
            final long offset = pool.offset(handle);
            final int length = Mbuf.length(poolMemory, offset);
            final long need = hdr + (long) length;
            int count;
            if (!merge) {
                DescriptorChain c = chains[0];
                if (!q.pop(c)) {
                    break;
                }
                usedChains++;
                if (c.writableBytes() < need) {
                    q.pushUsed(c, 0);
                    drop(handle);
                    continue;
                }
                count = 1;
            } else {
                boolean stalled = false;
                while (partialBytes < need) {
                    if (partialChains == MAX_MERGE) {
                        break;
                    }
                    if (!q.pop(chains[partialChains])) {
                        stalled = true;
                        break;
                    }
                    partialBytes += chains[partialChains].writableBytes();
                    partialChains++;
                }
                if (stalled) {
                    break;
                }
                count = partialChains;
                usedChains += count;
                partialChains = 0;
                if (partialBytes < need) {
                    partialBytes = 0;
                    for (int i = 0; i < count; i++) {
                        q.pushUsed(chains[i], 0);
                    }
                    drop(handle);
                    continue;
                }
                partialBytes = 0;
            }
            writePacket(count, poolMemory, Mbuf.data(offset), length, hdr);
            for (int i = 0; i < count; i++) {
                q.pushUsed(chains[i], (int) written[i]);
            }
            pool.free(cache, handle);
            pendingHead++;
            delivered++;
            bytes += length;
            if ((delivered & (PUBLISH_EVERY - 1)) == 0) {
                // Hand the guest what is written so far: it starts on them while the rest is copied.
                q.publishUsed();
            }
        }
        if (usedChains > 0) {
            q.publishUsed();
            q.needsNotification();
        }
        if (delivered > 0) {
            metrics.rxPackets.getAndAdd(delivered);
            metrics.rxBytes.getAndAdd(bytes);
        }
        return delivered + usedChains;
    }

    private void drop(long handle) {
        pool.free(cache, handle);
        pendingHead++;
        metrics.rxDropBufferTooSmall.increment();
    }

    /**
     * Writes up to {@code max} copies of {@code frame} straight into the guest's buffers, without a
     * packet buffer (a generator running on the lcore, inside {@link #process()}). Stops at a buffer
     * too small for the frame with MRG_RXBUF: that chain is kept as the start of the next packet,
     * which must then come as a packet buffer.
     *
     * @return frames written, or -1 if the next packet must come as a packet buffer (packets are
     *     queued, or a merged packet is half-assembled, or the queue is not running)
     */
    int generate(MemorySegment frame, int length, int max) {
        final Virtqueue q = queue;
        if (q == null || partialChains > 0 || pendingHead != pendingCount || localTail != localHead) {
            return -1;
        }
        int n = 0;
        int usedChains = 0;
        if (TransmitQueueHandler.BATCH) {
            // The common shape first, as a burst: one-buffer chains big enough for the frame.
            final SimpleChains dst = buffers;
            final int hdr = headerLength;
            final int m = q.peekSimple(dst, max, true);
            while (n < m && dst.length[n] >= hdr + length) {
                writeSimple(dst, n, frame, 0, length, hdr);
                n++;
            }
            if (n > 0) {
                q.takeSimple(n);
                for (int i = 0; i < n; i++) {
                    q.pushUsed(dst.head[i], 1, hdr + length);
                }
                usedChains = n;
            }
        }
        int r;
        while (n < max && (r = writeOne(q, frame, 0, length)) != WRITE_NO_BUFFER) {
            if (r == WRITE_KEPT_PARTIAL) {
                break;
            }
            usedChains++;
            if (r == WRITE_DONE) {
                n++;
            }
        }
        if (usedChains > 0) {
            q.publishUsed();
            q.needsNotification();
        }
        if (n > 0) {
            metrics.rxPackets.getAndAdd(n);
            metrics.rxBytes.getAndAdd((long) n * length);
        }
        return n;
    }

    private static final int WRITE_DONE = 1;
    private static final int WRITE_DROPPED = 0;
    private static final int WRITE_NO_BUFFER = -1;
    private static final int WRITE_KEPT_PARTIAL = -2;

    /**
     * Pops one chain and writes {@code frame} into it, without a packet buffer. A chain too small
     * for the frame is returned empty and counted ({@link #WRITE_DROPPED}), or with MRG_RXBUF kept
     * as the first chain of the next (merged) packet ({@link #WRITE_KEPT_PARTIAL}).
     */
    private int writeOne(Virtqueue q, MemorySegment frame, long at, int length) {
        final DescriptorChain c = chains[0];
        if (!q.pop(c)) {
            return WRITE_NO_BUFFER;
        }
        if (c.writableBytes() < headerLength + (long) length) {
            return tooSmall(q, c);
        }
        writePacket(1, frame, at, length, headerLength);
        q.pushUsed(c, (int) written[0]);
        return WRITE_DONE;
    }

    /**
     * As {@link #writeOne}, but the common shape (one buffer holds header and frame) is only
     * recorded: {@link #flushDeferred} copies it, before the used index moves, so the stores of a
     * whole batch miss together instead of one frame after another. A method of its own so that
     * {@link #generate}'s {@link #writeOne} stays small enough to be inlined.
     */
    private int writeOneDeferred(Virtqueue q, MemorySegment frame, long at, int length) {
        final DescriptorChain c = chains[0];
        if (!q.pop(c)) {
            return WRITE_NO_BUFFER;
        }
        final int hdr = headerLength;
        if (c.writableBytes() < hdr + (long) length) {
            return tooSmall(q, c);
        }
        final int w = c.readableCount();
        if (hdr != VirtioNetHeaderDescriptor.LENGTH || c.lenUnsigned(w) < hdr + (long) length) {
            writePacket(1, frame, at, length, hdr);
            q.pushUsed(c, (int) written[0]);
            return WRITE_DONE;
        }
        int k = deferred++;
        deferDst[k] = c.segment(w);
        deferDstAt[k] = c.offset(w);
        deferSrc[k] = frame;
        deferSrcAt[k] = at;
        deferLen[k] = length;
        q.pushUsed(c, hdr + length);
        return WRITE_DONE;
    }

    /** A popped chain too small for the frame: kept as the first of a merged packet (MRG_RXBUF), or returned empty and counted. */
    private int tooSmall(Virtqueue q, DescriptorChain c) {
        if (mergeable) {
            partialChains = 1;
            partialBytes = c.writableBytes();
            return WRITE_KEPT_PARTIAL;
        }
        q.pushUsed(c, 0);
        metrics.rxDropBufferTooSmall.increment();
        return WRITE_DROPPED;
    }

    // Copies of the current direct batch (writeOneDeferred), done by flushDeferred before the
    // used index moves. Lcore-owned; at most PUBLISH_EVERY, since every PUBLISH_EVERY-th frame flushes.
    // Object[], not MemorySegment[]: a store into an array of an interface type is type-checked, and
    // guest memory segments come in more than one implementation class, so C2's checks deoptimised
    // ("array_check") once the second class turned up and the burst loop was compiled again.
    private final Object[] deferDst = new Object[PUBLISH_EVERY];
    private final long[] deferDstAt = new long[PUBLISH_EVERY];
    private final Object[] deferSrc = new Object[PUBLISH_EVERY];
    private final long[] deferSrcAt = new long[PUBLISH_EVERY];
    private final int[] deferLen = new int[PUBLISH_EVERY];
    private int deferred;
    /** The one-buffer receive chains of the current {@link #receiveBurst} (lcore-owned). */
    private final SimpleChains buffers = new SimpleChains(VirtioNetDevice.BURST);

    /** Does the deferred copies (header, then frame) of the current batch and forgets their segments. */
    private void flushDeferred() {
        final int n = deferred;
        for (int i = 0; i < n; i++) {
            MemorySegment dst = (MemorySegment) deferDst[i];
            long at = deferDstAt[i];
            // virtio 1.2, 5.1.6.4: no offload negotiated: every header field 0 but num_buffers (1).
            dst.set(LE64, at, 0L);
            dst.set(LE32, at + 8, 1 << 16);
            MemorySegment.copy((MemorySegment) deferSrc[i], deferSrcAt[i], dst, at + VirtioNetHeaderDescriptor.LENGTH, deferLen[i]);
        }
        for (int i = 0; i < n; i++) {
            deferDst[i] = null;
            deferSrc[i] = null;
        }
        deferred = 0;
    }

    /**
     * Writes one frame that lies in another device's guest memory (a switch's transmit buffer)
     * straight into this receiveq, one copy, no packet buffer; on the lcore that polls this
     * receiveq, from any work there. The used entry is published by {@link #publishDirect}.
     *
     * @return 1 written; 0 dropped, the guest's buffer was too small (counted); -1 not taken: the
     *     frame must come as a packet buffer (no guest buffer, packets queued before it, a merged
     *     packet half-assembled, or the vring not polled here)
     */
    int receiveDirect(MemorySegment frame, long at, int length) {
        final Virtqueue q = queue;
        // Frames already queued for the guest go first: a frame written now would overtake them.
        if (!polled || q == null || partialChains > 0 || pendingHead != pendingCount || localTail != localHead) {
            return -1;
        }
        if (!directRingEmpty) {
            // Read once per burst: the ring's producers run on this lcore, not inside the burst.
            if (in.size() != 0) {
                return -1;
            }
            directRingEmpty = true;
        }
        int r = TransmitQueueHandler.BATCH ? writeOneDeferred(q, frame, at, length) : writeOne(q, frame, at, length);
        if (r < 0) {
            return -1;
        }
        directChains++;
        if (r == WRITE_DONE) {
            directBytes += length;
            if ((++directPackets & (PUBLISH_EVERY - 1)) == 0) {
                // As in process(): the guest starts on these while the rest of the burst is copied.
                flushDeferred();
                q.publishUsed();
            }
            return 1;
        }
        return 0;
    }

    /**
     * The receive half of {@link VirtioNetDevice#receiveBurst}: frames {@code from .. from + count}
     * of {@code src} (one-buffer transmit chains of another device, {@code srcHeader} bytes of net
     * header first) into this receiveq's one-buffer chains, in order. Stops at the first frame
     * the next buffer cannot hold, or when no one-buffer chain is left: those frames come as packet
     * buffers, where a too small buffer is merged (MRG_RXBUF) or the drop counted. The used
     * entries of every {@link #PUBLISH_EVERY} frames are published at once, the rest by
     * {@link #publishDirect}. With {@code swapMacs} each frame of 12 bytes or more is written with
     * its destination and source addresses swapped (testpmd's macswap).
     *
     * @return frames written
     */
    int receiveBurst(SimpleChains src, int from, int count, int srcHeader, boolean swapMacs) {
        final Virtqueue q = queue;
        // The same conditions as receiveDirect: nothing queued for the guest may be overtaken.
        if (!polled || q == null || partialChains > 0 || pendingHead != pendingCount || localTail != localHead) {
            return 0;
        }
        if (!directRingEmpty) {
            if (in.size() != 0) {
                return 0;
            }
            directRingEmpty = true;
        }
        if (swapMacs) {
            // The frames' first lines, read in one tight loop while the receive descriptors are read
            // next: the misses overlap instead of coming one frame at a time inside the copies (the
            // switch gets the same from reading every frame's addresses before it copies).
            touchFrames(src, from, count, srcHeader);
        }
        final SimpleChains dst = buffers;
        final int n = q.peekSimple(dst, count, true);
        if (n == 0) {
            return 0;
        }
        if (deferred > 0) {
            // Frames receiveDirect recorded go in before this burst's used entries are published.
            flushDeferred();
        }
        final int hdr = headerLength;
        final int[] srcLength = src.length;
        final long[] srcOffset = src.offset;
        final int[] dstLength = dst.length;
        int done = 0;
        long bytes = 0;
        while (done < n) {
            final int end = Math.min(n, done + PUBLISH_EVERY);
            int i = done;
            for (; i < end; i++) {
                final int s = from + i;
                final int length = srcLength[s] - srcHeader;
                if (dstLength[i] < hdr + length) {
                    break;
                }
                if (swapMacs && length >= 12) {
                    writeSwapped(dst, i, src.segment(s), srcOffset[s] + srcHeader, length, hdr);
                } else {
                    writeSimple(dst, i, src.segment(s), srcOffset[s] + srcHeader, length, hdr);
                }
            }
            if (i == done) {
                break;
            }
            q.takeSimple(i - done);
            for (int k = done; k < i; k++) {
                final int length = srcLength[from + k] - srcHeader;
                q.pushUsed(dst.head[k], 1, hdr + length);
                bytes += length;
            }
            q.publishUsed();
            final boolean stopped = i < end;
            done = i;
            if (stopped) {
                break;
            }
        }
        directChains += done;
        directPackets += done;
        directBytes += bytes;
        return done;
    }

    /**
     * As {@link #writeSimple}, for a frame of 12 bytes or more written with its addresses swapped
     * (destination = its source, source = its destination); each byte read once from the guest.
     */
    private static void writeSwapped(SimpleChains dst, int i, MemorySegment src, long srcAt, int length, int hdr) {
        final MemorySegment to = dst.segment(i);
        final long at = dst.offset[i];
        writeHeader(to, at, hdr);
        int d0 = src.get(INT_NATIVE, srcAt);
        short d1 = src.get(SHORT_NATIVE, srcAt + 4);
        int s0 = src.get(INT_NATIVE, srcAt + 6);
        short s1 = src.get(SHORT_NATIVE, srcAt + 10);
        to.set(INT_NATIVE, at + hdr, s0);
        to.set(SHORT_NATIVE, at + hdr + 4, s1);
        to.set(INT_NATIVE, at + hdr + 6, d0);
        to.set(SHORT_NATIVE, at + hdr + 10, d1);
        MemorySegment.copy(src, srcAt + 12, to, at + hdr + 12, length - 12);
    }

    /** Sink for what {@link #touchFrames} reads, so that the compiler keeps the loads. */
    private int touchSink;

    private void touchFrames(SimpleChains src, int from, int count, int srcHeader) {
        int sink = 0;
        for (int i = from; i < from + count; i++) {
            if (src.length[i] - srcHeader >= Integer.BYTES) {
                sink += src.segment(i).get(INT_NATIVE, src.offset[i] + srcHeader);
            }
        }
        touchSink = sink;
    }

    /** Writes the net header and {@code length} bytes at {@code srcAt} of {@code src} into one-buffer chain {@code i} of {@code dst} (room checked). */
    private static void writeSimple(SimpleChains dst, int i, MemorySegment src, long srcAt, int length, int hdr) {
        final MemorySegment to = dst.segment(i);
        final long at = dst.offset[i];
        writeHeader(to, at, hdr);
        MemorySegment.copy(src, srcAt, to, at + hdr, length);
    }

    /** virtio 1.2, 5.1.6.4: no offload negotiated, every header field 0 but num_buffers (1, one buffer). */
    private static void writeHeader(MemorySegment to, long at, int hdr) {
        to.set(LE64, at, 0L);
        if (hdr == VirtioNetHeaderDescriptor.LENGTH) {
            to.set(LE32, at + 8, 1 << 16);
        } else {
            to.set(U16, at + 8, (short) 0);
        }
    }

    /**
     * Reads ahead the available entries and descriptors of this receiveq for up to {@code frames}
     * frames ({@link Virtqueue#prefetch}). The buffers themselves are not read: a load would fetch
     * each line shared, and the copy would then have to take it over a second time.
     */
    void prefetch(int frames) {
        final Virtqueue q = queue;
        if (q != null && polled) {
            q.prefetch(frames, -1);
        }
    }

    /**
     * Ends a direct burst: publishes what {@link #receiveDirect} wrote (one used-index store, one
     * notification check) and counts it. Call after every burst that called receiveDirect.
     */
    void publishDirect() {
        directRingEmpty = false;
        final Virtqueue q = queue;
        flushDeferred();
        if (directChains > 0 && q != null) {
            q.publishUsed();
            q.needsNotification();
        }
        directChains = 0;
        if (directPackets > 0) {
            metrics.rxPackets.getAndAdd(directPackets);
            metrics.rxBytes.getAndAdd(directBytes);
            directPackets = 0;
            directBytes = 0;
        }
    }

    /** Writes header + packet across the writable entries of {@code chains[0 .. count)}; the caller checked room. */
    private void writePacket(int count, MemorySegment src, long srcOffset, int length, int hdr) {
        DescriptorChain first = chains[0];
        int w = first.readableCount();
        if (count == 1 && hdr == VirtioNetHeaderDescriptor.LENGTH && first.lenUnsigned(w) >= hdr + (long) length) {
            // The common case: one buffer holds header and packet. virtio 1.2, 5.1.6.4: no offload
            // negotiated, so every header field is 0 but num_buffers (1).
            MemorySegment dst = first.segment(w);
            long at = first.offset(w);
            dst.set(LE64, at, 0L);
            dst.set(LE32, at + 8, 1 << 16);
            MemorySegment.copy(src, srcOffset, dst, at + hdr, length);
            written[0] = hdr + (long) length;
            return;
        }
        for (int i = 0; i < count; i++) {
            written[i] = 0;
        }
        wc = 0;
        we = chains[0].readableCount();
        wo = 0;
        // virtio 1.2, 5.1.6.4: no offload negotiated, so flags and gso_type stay 0 (GSO_NONE);
        // num_buffers is the number of chains the packet took (1 without MRG_RXBUF).
        if (hdr == VirtioNetHeaderDescriptor.LENGTH) {
            header.set(U16, VirtioNetHeaderDescriptor.NUM_BUFFERS_OFFSET, (short) count);
        }
        write(count, header, 0, hdr);
        write(count, src, srcOffset, length);
    }

    private void write(int count, MemorySegment src, long srcOffset, long length) {
        while (length > 0) {
            DescriptorChain c = chains[wc];
            if (we >= c.length()) {
                wc++;
                if (wc >= count) {
                    return;
                }
                we = chains[wc].readableCount();
                wo = 0;
                continue;
            }
            long room = c.lenUnsigned(we) - wo;
            if (room <= 0) {
                we++;
                wo = 0;
                continue;
            }
            long k = Math.min(room, length);
            MemorySegment.copy(src, srcOffset, c.segment(we), c.offset(we) + wo, k);
            written[wc] += k;
            wo += k;
            srcOffset += k;
            length -= k;
        }
    }
}

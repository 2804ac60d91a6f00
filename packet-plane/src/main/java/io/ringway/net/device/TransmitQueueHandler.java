package io.ringway.net.device;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.packet.MbufDescriptor;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.ring.SpscRing;
import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.SimpleChains;
import io.ringway.vhost.virtio.Virtqueue;

import java.lang.foreign.MemorySegment;

/**
 * The guest-to-device half of one queue pair (the transmitq, vring 2k+1): pops up to a burst of
 * chains, copies each packet (the chain's readable bytes minus the net header, possibly spanning
 * descriptors) into a packet buffer, returns the chain with used length 0, and hands the buffers
 * on through an SPSC ring that the port reads.
 *
 * <p>Lcore-owned. No allocation, lock or log per packet; bad chains are dropped and counted.
 */
final class TransmitQueueHandler {
    /**
     * The switch's zero-copy path reads each burst ahead and copies into the receive buffers in
     * batches ({@code -Dringway.net.switch.batch=false}: frame by frame, for comparisons).
     */
    static final boolean BATCH = !"false".equals(System.getProperty("ringway.net.switch.batch"));
    private final VirtioNetMetrics metrics;
    private final Mempool pool;
    private final MemorySegment poolMemory;
    private final Mempool.Cache cache;
    private final SpscRing out;
    private final DescriptorChain chain;
    private final long[] burst = new long[VirtioNetDevice.BURST];
    /** The one-buffer chains of the current zero-copy burst (lcore-owned). */
    private final SimpleChains simple = new SimpleChains(VirtioNetDevice.BURST);
    private final int port;
    private final int pair;
    private Virtqueue queue;
    /** Lcore-owned: the stream run in place of the ring, and the receive side whose local queue it feeds. */
    VirtioNetDevice.LocalStream local;
    /** Lcore-owned: a switch that takes frames straight from the guest's buffers (before the packet-buffer path). */
    VirtioNetDevice.SwitchIngress ingress;
    ReceiveQueueHandler peer;
    private int headerLength = VirtioNetHeaderDescriptor.LENGTH;

    TransmitQueueHandler(VirtioNetMetrics metrics, Mempool pool, Mempool.Cache cache, SpscRing out, int maxQueueSize,
            int port, int pair) {
        this.metrics = metrics;
        this.pool = pool;
        this.poolMemory = pool.memory();
        this.cache = cache;
        this.out = out;
        this.chain = new DescriptorChain(maxQueueSize);
        this.port = port;
        this.pair = pair;
    }

    void activate(Virtqueue queue, int headerLength) {
        this.queue = queue;
        this.headerLength = headerLength;
    }

    void reset() {
        queue = null;
    }

    int process() {
        final Virtqueue q = queue;
        if (q == null) {
            return 0;
        }
        // Backpressure: take no more from the guest than the port's ring can hold.
        final VirtioNetDevice.LocalStream direct = local;
        final VirtioNetDevice.SwitchIngress sw = ingress;
        int want;
        boolean zeroCopy = false;
        if (direct != null) {
            want = Math.min(VirtioNetDevice.BURST, peer.localRoom());
        } else {
            final int ringed = out.size();
            want = Math.min(VirtioNetDevice.BURST, out.capacity() - ringed);
            // Straight to the switch only while nothing of this pair waits in the ring: frames keep their order.
            zeroCopy = sw != null && ringed == 0;
        }
        int n = 0;
        int switched = 0;
        int popped = 0;
        long bytes = 0;
        boolean offered = false;
        boolean localBurst = false;
        if (BATCH && (direct != null || zeroCopy)) {
            // The common shape first, as a burst: one-buffer chains (header and frame together, as
            // DPDK and Linux send), read in one tight loop and taken where they lie, so that the
            // cache lines the guest just wrote arrive together instead of one frame after another.
            // A local stream (rxonly, macswap) or the switch takes them; a frame it does not take
            // is offered again below, frame by frame: a destination buffer of another shape or too
            // small, or no buffer, is handled (and counted) there as before, and a group or unknown
            // destination ends the zero-copy path.
            final SimpleChains frames = simple;
            final int hdr = headerLength;
            final int m = peekFrames(q, want);
            if (m > 0) {
                int k;
                if (direct != null) {
                    localBurst = true;
                    k = direct.fromGuestBurst(pair, frames, m, hdr);
                } else {
                    sw.beginBurst(pair, m);
                    offered = true;
                    k = sw.fromGuestBurst(pair, frames, m, hdr);
                }
                if (k > 0) {
                    q.takeSimple(k);
                    // virtio 1.2, 5.1.6.2: the device writes nothing into a transmit buffer; used length 0.
                    q.pushUsedEmpty(frames, k);
                    for (int i = 0; i < k; i++) {
                        bytes += frames.length[i] - hdr;
                    }
                    popped = k;
                    switched = k;
                }
                if (k == m && burstTookAll(m)) {
                    // Frames the guest adds meanwhile wait for the next burst, rather than go one by one.
                    want = popped;
                }
            } else if (zeroCopy) {
                // Read the burst's descriptors and frames, and the destination's receive descriptors,
                // ahead in tight loops before the frame-by-frame path (DPDK's vhost prefetches too).
                int k = q.prefetch(want, hdr);
                if (k > 0) {
                    sw.beginBurst(pair, k);
                }
            }
        }
        while (popped < want && q.pop(chain)) {
            popped++;
            if (zeroCopy) {
                int len = frameLength(chain);
                if (len == 0) {
                    q.pushUsed(chain, 0);
                    continue;
                }
                if (switchFrame(sw, chain, len)) {
                    // The switch copied (or dropped) the frame: the buffer goes back now.
                    q.pushUsed(chain, 0);
                    switched++;
                    bytes += len;
                    continue;
                }
                // From here on this burst takes the packet-buffer path, behind this frame.
                zeroCopy = false;
            }
            long handle = pool.alloc(cache);
            if (handle == Mempool.NO_HANDLE) {
                q.pushUsed(chain, 0);
                metrics.txDropNoBuffer.increment();
                continue;
            }
            int len = copyPacket(chain, pool.offset(handle));
            // virtio 1.2, 5.1.6.2: the device writes nothing into a transmit buffer; used length 0.
            q.pushUsed(chain, 0);
            if (len > 0) {
                burst[n++] = handle;
                bytes += len;
            } else {
                pool.free(cache, handle);
            }
        }
        if (localBurst) {
            // What the stream wrote to the guest's receiveq (if anything): published before any packet buffer follows.
            peer.publishDirect();
        }
        if (popped == 0) {
            if (offered) {
                // The switch may have started writing somewhere (then refused): let it end cleanly.
                sw.endBurst(pair, 0);
            }
            return 0;
        }
        if (sw != null) {
            sw.endBurst(pair, n);
        }
        q.publishUsed();
        q.needsNotification();
        if (switched > 0 && n == 0) {
            metrics.txPackets.getAndAdd(switched);
            metrics.txBytes.getAndAdd(bytes);
        } else if (n > 0 && direct != null) {
            metrics.txPackets.getAndAdd(n + switched);
            metrics.txBytes.getAndAdd(bytes);
            direct.fromGuest(pair, burst, n);
        } else if (n > 0) {
            int sent = out.enqueueBurst(burst, 0, n);
            if (sent < n) {
                // Cannot happen with one producer (room was checked), but never leak a buffer.
                pool.freeBulk(cache, burst, sent, n - sent);
            }
            metrics.txPackets.getAndAdd(n + switched);
            metrics.txBytes.getAndAdd(bytes);
        }
        return popped;
    }

    /**
     * Peeks the leading one-buffer chains into {@link #simple}, up to the first whose frame breaks
     * {@link #frameLength}'s rules (1 .. DATA_ROOM bytes after the header): that one is popped
     * frame by frame, dropped and counted there.
     *
     * @return chains that can go as a burst
     */
    private int peekFrames(Virtqueue q, int want) {
        final SimpleChains frames = simple;
        final int hdr = headerLength;
        final int m = q.peekSimple(frames, want, false);
        for (int i = 0; i < m; i++) {
            int length = frames.length[i] - hdr;
            if (length <= 0 || length > MbufDescriptor.DATA_ROOM) {
                return i;
            }
        }
        return m;
    }

    /**
     * @return true if the {@code m} chains of the last {@link #peekFrames} were all the driver had
     *     made available when it looked (nothing of another shape or length stopped it)
     */
    private boolean burstTookAll(int m) {
        return m == simple.count() && simple.exhausted();
    }

    /**
     * The frame length of a transmit chain (its readable bytes minus the net header), checked.
     *
     * @return the length, or 0 if the chain must be dropped (counted here)
     */
    private int frameLength(DescriptorChain c) {
        final long total = c.readableBytes();
        final int header = headerLength;
        // virtio 1.2, 5.1.6.2: every transmitted packet starts with the net header.
        if (total < header) {
            metrics.txDropShortHeader.increment();
            return 0;
        }
        final long length = total - header;
        if (length == 0) {
            metrics.txDropEmpty.increment();
            return 0;
        }
        if (length > MbufDescriptor.DATA_ROOM) {
            metrics.txDropOversize.increment();
            return 0;
        }
        return (int) length;
    }

    /**
     * Offers the frame to the switch where it lies in guest memory: the shapes drivers use, header
     * and frame in one readable buffer (DPDK, Linux) or the header alone in the first one.
     *
     * @return true if the switch took it (copied to its destination or dropped)
     */
    private boolean switchFrame(VirtioNetDevice.SwitchIngress sw, DescriptorChain c, int length) {
        final int readable = c.readableCount();
        if (readable == 1) {
            return sw.fromGuest(pair, c.segment(0), c.offset(0) + headerLength, length);
        }
        if (readable == 2 && c.lenUnsigned(0) == headerLength) {
            return sw.fromGuest(pair, c.segment(1), c.offset(1), length);
        }
        return false;
    }

    /**
     * Copies the packet of {@code c} into the buffer at {@code offset}.
     *
     * @return the packet length, or 0 if the chain was dropped (and counted)
     */
    private int copyPacket(DescriptorChain c, long offset) {
        final int header = headerLength;
        final long length = frameLength(c);
        if (length == 0) {
            return 0;
        }
        // No offload was negotiated, so the header carries nothing the device must act on.
        long dst = Mbuf.data(offset);
        final int readable = c.readableCount();
        if (readable == 1) {
            // The common shape (DPDK and Linux put the header in front of the frame): one copy.
            MemorySegment.copy(c.segment(0), c.offset(0) + header, poolMemory, dst, length);
            Mbuf.length(poolMemory, offset, (int) length);
            Mbuf.input(poolMemory, offset, port, pair);
            return (int) length;
        }
        long skip = header;
        for (int i = 0; i < readable; i++) {
            long l = c.lenUnsigned(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            long src = c.offset(i) + skip;
            l -= skip;
            skip = 0;
            MemorySegment.copy(c.segment(i), src, poolMemory, dst, l);
            dst += l;
        }
        Mbuf.length(poolMemory, offset, (int) length);
        Mbuf.input(poolMemory, offset, port, pair);
        return (int) length;
    }
}

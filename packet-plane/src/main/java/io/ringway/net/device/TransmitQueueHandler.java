package io.ringway.net.device;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.packet.MbufDescriptor;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.ring.SpscRing;
import io.ringway.vhost.virtio.DescriptorChain;
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
    private final VirtioNetMetrics metrics;
    private final Mempool pool;
    private final MemorySegment poolMemory;
    private final Mempool.Cache cache;
    private final SpscRing out;
    private final DescriptorChain chain;
    private final long[] burst = new long[VirtioNetDevice.BURST];
    private final int port;
    private final int pair;
    private Virtqueue queue;
    /** Lcore-owned: the stream run in place of the ring, and the receive side whose local queue it feeds. */
    VirtioNetDevice.LocalStream local;
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
        int want = Math.min(VirtioNetDevice.BURST, direct != null ? peer.localRoom() : out.capacity() - out.size());
        int n = 0;
        int popped = 0;
        long bytes = 0;
        while (popped < want && q.pop(chain)) {
            popped++;
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
        if (popped == 0) {
            return 0;
        }
        q.publishUsed();
        q.needsNotification();
        if (n > 0 && direct != null) {
            metrics.txPackets.getAndAdd(n);
            metrics.txBytes.getAndAdd(bytes);
            direct.fromGuest(pair, burst, n);
        } else if (n > 0) {
            int sent = out.enqueueBurst(burst, 0, n);
            if (sent < n) {
                // Cannot happen with one producer (room was checked), but never leak a buffer.
                pool.freeBulk(cache, burst, sent, n - sent);
            }
            metrics.txPackets.getAndAdd(n);
            metrics.txBytes.getAndAdd(bytes);
        }
        return popped;
    }

    /**
     * Copies the packet of {@code c} into the buffer at {@code offset}.
     *
     * @return the packet length, or 0 if the chain was dropped (and counted)
     */
    private int copyPacket(DescriptorChain c, long offset) {
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

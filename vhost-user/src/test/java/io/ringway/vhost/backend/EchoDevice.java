package io.ringway.vhost.backend;

import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback test device: for each chain it copies the device-readable bytes into the
 * device-writable buffers and returns the chain with the number of bytes written. Needs no net or
 * blk code.
 */
public final class EchoDevice implements VirtioDevice, VhostUserDeviceHooks {
    /** Device ID outside the ones virtio assigns to real devices. */
    public static final int DEVICE_TYPE = 0x3f;
    public static final long FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
            | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX)
            | VirtioFeatures.mask(VirtioFeatures.INDIRECT_DESC)
            | VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
    private static final int BURST = 64;

    private final int queueCount;
    private final int maxQueueSize;
    private final byte[] config = new byte[16];
    private volatile List<Virtqueue> queues;
    private DescriptorChain[] chains;
    public final AtomicInteger activations = new AtomicInteger();
    public final AtomicInteger resets = new AtomicInteger();
    public volatile int mtu;
    public volatile byte[] rarpMac;
    public volatile GuestMemory lastMemory;
    /** Vrings per lcore group ({@link #lcoreGroupOf}): 1 (the default) or 2 (net-like queue pairs). */
    public volatile int vringsPerGroup = 1;
    /** Names of the threads that processed work on each queue. */
    private final Set<String>[] threads;
    /** Calls of the one-argument memoryTableChanged. */
    public final AtomicInteger memoryChanges = new AtomicInteger();

    public EchoDevice(int queueCount, int maxQueueSize) {
        this.queueCount = queueCount;
        this.maxQueueSize = maxQueueSize;
        @SuppressWarnings("unchecked")
        Set<String>[] t = new Set[queueCount];
        for (int i = 0; i < t.length; i++) {
            t[i] = ConcurrentHashMap.newKeySet();
        }
        this.threads = t;
        for (int i = 0; i < config.length; i++) {
            config[i] = (byte) (0xa0 + i);
        }
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return FEATURES;
    }

    @Override
    public int queueCount() {
        return queueCount;
    }

    @Override
    public int maxQueueSize() {
        return maxQueueSize;
    }

    @Override
    public synchronized byte[] readConfig(int offset, int length) {
        byte[] out = new byte[length];
        for (int i = 0; i < length; i++) {
            int at = offset + i;
            out[i] = at >= 0 && at < config.length ? config[at] : 0;
        }
        return out;
    }

    @Override
    public synchronized void writeConfig(int offset, byte[] data) {
        if (offset < 0 || offset + data.length > config.length) {
            throw new IllegalArgumentException("config space is " + config.length + " bytes");
        }
        System.arraycopy(data, 0, config, offset, data.length);
    }

    @Override
    public void activate(long negotiatedFeatures, GuestMemory memory, List<Virtqueue> queues) {
        DescriptorChain[] c = new DescriptorChain[queues.size()];
        for (int i = 0; i < c.length; i++) {
            c[i] = new DescriptorChain(maxQueueSize);
        }
        chains = c;
        lastMemory = memory;
        this.queues = queues;
        activations.incrementAndGet();
    }

    @Override
    public void reset() {
        queues = null;
        resets.incrementAndGet();
    }

    @Override
    public int process(int queueIndex) {
        List<Virtqueue> qs = queues;
        if (qs == null) {
            return 0;
        }
        Virtqueue q = qs.get(queueIndex);
        DescriptorChain chain = chains[queueIndex];
        int done = 0;
        while (done < BURST && q.pop(chain)) {
            q.pushUsed(chain, echo(chain));
            done++;
        }
        if (done > 0) {
            threads[queueIndex].add(Thread.currentThread().getName());
            if (q.publishUsed() > 0) {
                q.needsNotification();
            }
        }
        return done;
    }

    /** Copies the readable elements into the writable ones; returns the bytes written. */
    private static int echo(DescriptorChain chain) {
        int n = chain.length();
        int r = 0;
        long rOff = 0;
        int w = chain.readableCount();
        long wOff = 0;
        int written = 0;
        while (r < chain.readableCount() && w < n) {
            long rLeft = chain.lenUnsigned(r) - rOff;
            long wLeft = chain.lenUnsigned(w) - wOff;
            if (rLeft == 0) {
                r++;
                rOff = 0;
                continue;
            }
            if (wLeft == 0) {
                w++;
                wOff = 0;
                continue;
            }
            long k = Math.min(rLeft, wLeft);
            MemorySegment.copy(chain.segment(r), chain.offset(r) + rOff, chain.segment(w), chain.offset(w) + wOff, k);
            rOff += k;
            wOff += k;
            written += (int) k;
        }
        return written;
    }

    @Override
    public boolean sendRarp(byte[] mac) {
        rarpMac = Arrays.copyOf(mac, mac.length);
        return true;
    }

    @Override
    public boolean setMtu(int mtu) {
        this.mtu = mtu;
        return true;
    }

    @Override
    public void memoryTableChanged(GuestMemory memory) {
        lastMemory = memory;
        memoryChanges.incrementAndGet();
    }

    @Override
    public int lcoreGroupOf(int vring) {
        return vring / vringsPerGroup;
    }

    /** The threads that processed work on {@code queue} so far. */
    public Set<String> threadsOf(int queue) {
        return Set.copyOf(threads[queue]);
    }
}

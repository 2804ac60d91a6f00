package io.ringway.vhost.backend;

import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.LibC;
import io.ringway.vhost.inflight.PackedInflightQueue;
import io.ringway.vhost.inflight.SplitInflightQueue;
import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.PackedQueue;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.SimpleChains;
import io.ringway.vhost.virtio.SplitQueue;
import io.ringway.vhost.virtio.VirtqueueError;
import io.ringway.vhost.virtio.Virtqueue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The queue a device sees through the vhost-user transport: a {@link Virtqueue} (split or packed,
 * chosen when the ring starts) whose {@link #needsNotification()} also signals the vring's call
 * eventfd when the driver wants a used buffer notification. A device therefore follows the usual
 * pattern ({@code if (q.publishUsed() > 0 && q.needsNotification()) ...}) and the transport does the
 * signalling; the vring poller asks once more after each {@code process()} call, which costs
 * nothing when the device already asked.
 *
 * <p>With in-flight tracking ({@link #track}), every head popped, pushed and published is recorded
 * in the in-flight area in the order vhost-user.rst gives (split or packed layout), and the
 * requests a previous back-end left in flight are handed out by {@link #pop} before any new
 * available entry. The device does not see the difference, except that {@link #activationCount()}
 * changes with every restart of the ring, so that a device never completes a request of an
 * earlier run on the restarted ring (the ring's requests in flight were resubmitted).
 *
 * <p>Lcore-owned: the delegate and the call fd change only before the vring's poller is added, or
 * on the lcore through {@code Lcore.execute}.
 */
final class NotifyingQueue implements Virtqueue {
    private final MemorySegment one = Arena.ofAuto().allocate(Long.BYTES, Long.BYTES);
    private Virtqueue delegate;
    private int callFd = -1;
    private long calls;
    private SplitInflightQueue inflight;
    private PackedInflightQueue packedInflight;
    private int[] resubmit = new int[0];
    private int activations;
    private int resubmitAt;

    NotifyingQueue() {
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
    }

    void delegate(Virtqueue queue) {
        this.delegate = queue;
    }

    Virtqueue delegate() {
        return delegate;
    }

    /**
     * Starts in-flight tracking on this (split, activated) queue: {@code heads} are handed out
     * first, oldest first. Before the vring's poller is added.
     */
    void track(SplitInflightQueue tracker, int[] heads) {
        this.inflight = tracker;
        this.packedInflight = null;
        this.resubmit = heads;
        this.resubmitAt = 0;
    }

    /**
     * Starts in-flight tracking on this (packed, activated) queue: the head entries {@code entries}
     * are resubmitted first, oldest first. Before the vring's poller is added.
     */
    void track(PackedInflightQueue tracker, int[] entries) {
        this.packedInflight = tracker;
        this.inflight = null;
        this.resubmit = entries;
        this.resubmitAt = 0;
    }

    /** @return heads still waiting to be resubmitted */
    int resubmitPending() {
        return resubmit.length - resubmitAt;
    }

    void callFd(int fd) {
        this.callFd = fd;
    }

    int callFd() {
        return callFd;
    }

    /** Call eventfd signals so far (read on the lcore, or after the poller was removed). */
    long calls() {
        return calls;
    }

    /** Signals the call eventfd, if there is one. EAGAIN means the counter is saturated: already signalled. */
    void signalCall() {
        int fd = callFd;
        if (fd >= 0) {
            long result = LibC.tryWrite(fd, one, Long.BYTES);
            if (result >= 0 || result == -Errno.EAGAIN) {
                calls++;
            }
        }
    }

    @Override
    public void activate(GuestMemory memory, QueueConfig config) {
        delegate.activate(memory, config);
    }

    @Override
    public void reset() {
        // Every (re)start of the ring goes through here: a new run of the ring.
        activations++;
        inflight = null;
        packedInflight = null;
        resubmit = new int[0];
        resubmitAt = 0;
        if (delegate != null) {
            delegate.reset();
        }
    }

    @Override
    public boolean isReady() {
        return delegate != null && delegate.isReady();
    }

    @Override
    public int size() {
        return delegate == null ? 0 : delegate.size();
    }

    @Override
    public boolean isBroken() {
        return delegate != null && delegate.isBroken();
    }

    @Override
    public VirtqueueError brokenReason() {
        return delegate == null ? null : delegate.brokenReason();
    }

    @Override
    public int prefetch(int max, long touchOffset) {
        Virtqueue d = delegate;
        return d == null ? 0 : d.prefetch(max, touchOffset);
    }

    /** Only without in-flight tracking (which records every head popped): otherwise 0, and {@link #pop} is the way. */
    @Override
    public int peekSimple(SimpleChains out, int max, boolean writable) {
        Virtqueue d = delegate;
        if (d == null || inflight != null || packedInflight != null) {
            out.clear();
            return 0;
        }
        return d.peekSimple(out, max, writable);
    }

    @Override
    public void pushUsedEmpty(SimpleChains chains, int k) {
        if (inflight != null || packedInflight != null) {
            // Every head is recorded in the in-flight area (no peek is handed out then anyway).
            for (int i = 0; i < k; i++) {
                pushUsed(chains.head[i], 1, 0);
            }
            return;
        }
        delegate.pushUsedEmpty(chains, k);
    }

    @Override
    public void takeSimple(int k) {
        Virtqueue d = delegate;
        if (d == null || inflight != null || packedInflight != null) {
            if (k != 0) {
                throw new IllegalArgumentException("no chains were peeked, cannot take " + k);
            }
            return;
        }
        d.takeSimple(k);
    }

    @Override
    public boolean pop(DescriptorChain chain) {
        if (delegate == null) {
            return false;
        }
        SplitInflightQueue t = inflight;
        if (t == null) {
            PackedInflightQueue p = packedInflight;
            return p == null ? delegate.pop(chain) : popPacked(p, chain);
        }
        if (resubmitAt < resubmit.length) {
            // vhost-user.rst, "When reconnecting": resubmit in-flight entries in counter order,
            // before anything new. They stay marked in flight: a second crash resubmits them again.
            int head = resubmit[resubmitAt++];
            return ((SplitQueue) delegate).popHead(chain, head);
        }
        if (!delegate.pop(chain)) {
            return false;
        }
        t.taken(chain.head());
        return true;
    }

    private boolean popPacked(PackedInflightQueue p, DescriptorChain chain) {
        PackedQueue q = (PackedQueue) delegate;
        if (resubmitAt < resubmit.length) {
            return p.resubmit(q, chain, resubmit[resubmitAt++]);
        }
        if (!q.pop(chain)) {
            return false;
        }
        p.taken(q, chain);
        return true;
    }

    @Override
    public void pushUsed(int head, int ringSlots, int len) {
        delegate.pushUsed(head, ringSlots, len);
        SplitInflightQueue t = inflight;
        if (t != null) {
            t.used(head);
        } else if (packedInflight != null) {
            packedInflight.used(head, ringSlots);
        }
    }

    @Override
    public int publishUsed() {
        if (delegate == null) {
            return 0;
        }
        PackedInflightQueue p = packedInflight;
        if (p != null) {
            p.beforePublish();
        }
        int n = delegate.publishUsed();
        SplitInflightQueue t = inflight;
        if (n > 0 && t != null) {
            t.published(delegate.usedIdx());
        } else if (p != null) {
            p.published();
        }
        return n;
    }

    @Override
    public boolean needsNotification() {
        if (delegate != null && delegate.needsNotification()) {
            signalCall();
            return true;
        }
        return false;
    }

    @Override
    public boolean enableNotifications() {
        return delegate != null && delegate.enableNotifications();
    }

    @Override
    public void disableNotifications() {
        if (delegate != null) {
            delegate.disableNotifications();
        }
    }

    @Override
    public int activationCount() {
        return activations;
    }

    @Override
    public boolean resubmitsEarlierRuns() {
        return inflight != null || packedInflight != null;
    }

    @Override
    public int lastAvailIdx() {
        return delegate == null ? 0 : delegate.lastAvailIdx();
    }

    @Override
    public int usedIdx() {
        return delegate == null ? 0 : delegate.usedIdx();
    }

    @Override
    public void setLastAvailIdx(int lastAvailIdx) {
        delegate.setLastAvailIdx(lastAvailIdx);
    }

    @Override
    public void setUsedIdx(int usedIdx) {
        delegate.setUsedIdx(usedIdx);
    }
}

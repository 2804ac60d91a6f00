package io.ringway.vcpu.virtio;

import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.SimpleChains;
import io.ringway.vhost.virtio.VirtqueueError;
import io.ringway.vhost.virtio.Virtqueue;

/**
 * The queue a device sees through a VMM transport (virtio-mmio, virtio-pci): a split or packed queue
 * (chosen when the driver enables it) whose {@link #needsNotification()} also raises the transport's
 * interrupt (virtio-mmio: InterruptStatus bit 0 and the irqfd; virtio-pci: the queue's MSI-X vector's
 * irqfd) when the driver wants a used buffer notification.
 * Devices keep their usual pattern ({@code if (q.publishUsed() > 0 && q.needsNotification()) ...})
 * and the transport does the signalling, as the vhost-user back-end's queue does with its call fd.
 *
 * <p>Lcore-owned once the device is running; the delegate changes only while the queue's poller
 * is off the lcore, or on the lcore.
 */
public final class InterruptingQueue implements Virtqueue {
    private Runnable interrupt;
    private Virtqueue delegate;

    /** @param interrupt raises the used buffer interrupt; called on the lcore, must not allocate */
    public InterruptingQueue(Runnable interrupt) {
        this.interrupt = interrupt;
    }

    /** The queue the driver set up (null: none); change it only while the queue's poller is off the lcore. */
    public void delegate(Virtqueue queue) {
        this.delegate = queue;
    }

    public Virtqueue delegate() {
        return delegate;
    }

    /** A new way to raise the interrupt (the driver chose another vector); same rule as {@link #delegate(Virtqueue)}. */
    public void interrupt(Runnable interrupt) {
        this.interrupt = interrupt;
    }

    @Override
    public void activate(GuestMemory memory, QueueConfig config) {
        delegate.activate(memory, config);
    }

    @Override
    public void reset() {
        if (delegate != null) {
            delegate.reset();
        }
    }

    @Override
    public boolean isReady() {
        Virtqueue d = delegate;
        return d != null && d.isReady();
    }

    @Override
    public int size() {
        Virtqueue d = delegate;
        return d == null ? 0 : d.size();
    }

    @Override
    public boolean isBroken() {
        Virtqueue d = delegate;
        return d != null && d.isBroken();
    }

    @Override
    public VirtqueueError brokenReason() {
        Virtqueue d = delegate;
        return d == null ? null : d.brokenReason();
    }

    @Override
    public boolean pop(DescriptorChain chain) {
        Virtqueue d = delegate;
        return d != null && d.pop(chain);
    }

    @Override
    public int peekSimple(SimpleChains out, int max, boolean writable) {
        Virtqueue d = delegate;
        if (d == null) {
            out.clear();
            return 0;
        }
        return d.peekSimple(out, max, writable);
    }

    @Override
    public void pushUsedEmpty(SimpleChains chains, int k) {
        Virtqueue d = delegate;
        if (d != null) {
            d.pushUsedEmpty(chains, k);
        }
    }

    @Override
    public void takeSimple(int k) {
        Virtqueue d = delegate;
        if (d != null) {
            d.takeSimple(k);
        } else if (k != 0) {
            throw new IllegalArgumentException("no ring: cannot take " + k + " chains");
        }
    }

    @Override
    public void pushUsed(int head, int ringSlots, int len) {
        delegate.pushUsed(head, ringSlots, len);
    }

    @Override
    public int publishUsed() {
        Virtqueue d = delegate;
        return d == null ? 0 : d.publishUsed();
    }

    @Override
    public boolean needsNotification() {
        Virtqueue d = delegate;
        if (d != null && d.needsNotification()) {
            interrupt.run();
            return true;
        }
        return false;
    }

    @Override
    public boolean enableNotifications() {
        Virtqueue d = delegate;
        return d != null && d.enableNotifications();
    }

    @Override
    public void disableNotifications() {
        Virtqueue d = delegate;
        if (d != null) {
            d.disableNotifications();
        }
    }

    @Override
    public int lastAvailIdx() {
        Virtqueue d = delegate;
        return d == null ? 0 : d.lastAvailIdx();
    }

    @Override
    public int usedIdx() {
        Virtqueue d = delegate;
        return d == null ? 0 : d.usedIdx();
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

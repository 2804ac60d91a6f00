package io.ringway.vcpu.virtio;

import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtqueueError;
import io.ringway.vhost.virtio.Virtqueue;

/**
 * The queue a device sees through the virtio-mmio transport: a split or packed queue (chosen at
 * QueueReady) whose {@link #needsNotification()} also raises the transport's interrupt (sets
 * InterruptStatus bit 0 and signals the irqfd) when the driver wants a used buffer notification.
 * Devices keep their usual pattern ({@code if (q.publishUsed() > 0 && q.needsNotification()) ...})
 * and the transport does the signalling, as the vhost-user back-end's queue does with its call fd.
 *
 * <p>Lcore-owned once the device is running; the delegate changes only while the queue's poller
 * is off the lcore, or on the lcore.
 */
final class InterruptingQueue implements Virtqueue {
    private final VirtioMmioTransport transport;
    private Virtqueue delegate;

    InterruptingQueue(VirtioMmioTransport transport) {
        this.transport = transport;
    }

    void delegate(Virtqueue queue) {
        this.delegate = queue;
    }

    Virtqueue delegate() {
        return delegate;
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
            transport.raise(VirtioMmio.INTERRUPT_USED_BUFFER);
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

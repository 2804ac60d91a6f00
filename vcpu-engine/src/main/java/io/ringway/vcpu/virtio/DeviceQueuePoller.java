package io.ringway.vcpu.virtio;

import io.ringway.runtime.poll.InterruptSource;
import io.ringway.runtime.sys.EventFd;
import io.ringway.vhost.virtio.VirtioDevice;

/**
 * Serves every ready queue of one in-process {@link VirtioDevice} on its lcore, for a VMM transport
 * (virtio-mmio, virtio-pci): the device processes each queue, the transport's {@link InterruptingQueue}
 * raises the interrupt, and when the lcore's idle policy says so the poller sleeps on the kick
 * eventfd (the transport's ioeventfd(s): one fd for all the device's queues, so the kick's queue
 * index is not needed).
 *
 * <p>A queue that breaks a rule stops the whole device: the poller reports it once through
 * {@link Failure} (on the lcore) and serves nothing until the transport takes it off the lcore and
 * calls {@link #rearm()} (a reset).
 */
public final class DeviceQueuePoller implements InterruptSource {
    /** A queue broke a rule; called once, on the lcore: must not wait for the control path. */
    @FunctionalInterface
    public interface Failure {
        void queueBroken(int queue, String reason);
    }

    private final String name;
    private final VirtioDevice device;
    private final InterruptingQueue[] queues;
    private final EventFd kick;
    private final Failure failure;
    private volatile boolean halted;

    /**
     * @param name    for logs and the lcore's poller list
     * @param queues  the device's queues by index (not ready ones are skipped)
     * @param kick    the eventfd the guest's notifications signal
     */
    public DeviceQueuePoller(String name, VirtioDevice device, InterruptingQueue[] queues, EventFd kick, Failure failure) {
        this.name = name;
        this.device = device;
        this.queues = queues.clone();
        this.kick = kick;
        this.failure = failure;
    }

    @Override
    public int doWork() {
        if (halted) {
            return 0; // a failed device serves no queue until the driver resets it
        }
        int work = 0;
        for (int i = 0; i < queues.length; i++) {
            InterruptingQueue q = queues[i];
            if (!q.isReady()) {
                if (q.isBroken()) {
                    halted = true;
                    failure.queueBroken(i, String.valueOf(q.brokenReason()));
                    return work;
                }
                continue;
            }
            work += device.process(i);
            // In case the device published without asking: the transport owns the interrupt.
            q.publishUsed();
            q.needsNotification();
        }
        return work;
    }

    /** After a reset, with the poller off the lcore: serve queues again. */
    public void rearm() {
        halted = false;
    }

    /** Whether a broken queue stopped the device. */
    public boolean halted() {
        return halted;
    }

    @Override
    public int wakeupFd() {
        return kick.fd();
    }

    @Override
    public boolean arm() {
        boolean pending = false;
        for (InterruptingQueue q : queues) {
            if (q.isReady() && q.enableNotifications()) {
                pending = true;
            }
        }
        return !pending;
    }

    @Override
    public void disarm() {
        for (InterruptingQueue q : queues) {
            if (q.isReady()) {
                q.disableNotifications();
            }
        }
    }

    @Override
    public String name() {
        return name;
    }
}

package io.ringway.vhost.backend;

import io.ringway.runtime.poll.InterruptSource;
import io.ringway.runtime.sys.LibC;
import io.ringway.vhost.virtio.VirtioDevice;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Serves one started and enabled vring on an lcore: calls the device's {@code process(queue)} and
 * signals the call eventfd when the driver wants it. As an {@link InterruptSource} its wakeup fd is
 * the vring's kick eventfd (-1 when the front-end chose polling with the NOFD flag); {@link #arm()}
 * turns kicks on in the ring before the lcore sleeps, {@link #disarm()} turns them off again.
 *
 * <p>A queue the guest broke (a bad descriptor) stops doing work; the break is logged once and the
 * vring's error eventfd, if any, is signalled. The other queues and the lcore go on.
 */
final class VringPoller implements InterruptSource {
    private static final System.Logger LOG = System.getLogger(VringPoller.class.getName());

    private final String name;
    private final VirtioDevice device;
    private final int index;
    private final NotifyingQueue queue;
    private final MemorySegment one = Arena.ofAuto().allocate(Long.BYTES, Long.BYTES);
    private int kickFd;
    private int errFd;
    private boolean brokenReported;

    VringPoller(String name, VirtioDevice device, int index, NotifyingQueue queue, int kickFd, int errFd) {
        this.name = name;
        this.device = device;
        this.index = index;
        this.queue = queue;
        this.kickFd = kickFd;
        this.errFd = errFd;
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
    }

    @Override
    public int doWork() {
        if (!queue.isReady()) {
            if (queue.isBroken() && !brokenReported) {
                reportBroken();
            }
            return 0;
        }
        int work = device.process(index);
        // In case the device published without asking: the transport owns the call eventfd.
        queue.publishUsed();
        queue.needsNotification();
        return work;
    }

    private void reportBroken() {
        brokenReported = true;
        LOG.log(System.Logger.Level.ERROR, name + ": vring " + index + " stopped: " + queue.brokenReason());
        if (errFd >= 0) {
            LibC.tryWrite(errFd, one, Long.BYTES);
        }
    }

    @Override
    public int wakeupFd() {
        return kickFd;
    }

    @Override
    public boolean arm() {
        // Virtqueue.enableNotifications re-checks the ring: true means work is pending, do not sleep.
        return !queue.enableNotifications();
    }

    @Override
    public void disarm() {
        queue.disableNotifications();
    }

    /** Lcore-only (or before the poller is added). */
    void errFd(int fd) {
        this.errFd = fd;
    }

    @Override
    public String name() {
        return name + " vring " + index;
    }
}

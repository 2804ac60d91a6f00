package io.ringway.storage.blk;

import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.bdev.BlockStatus;
import io.ringway.storage.bdev.CompletionSink;
import io.ringway.storage.bdev.IoChannel;
import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.Virtqueue;

import java.util.Arrays;

/**
 * Queue handling for one virtio-blk virtqueue on its lcore: pop, parse, submit to the queue's own
 * I/O channel (zero copy: the scatter-gather list points into guest memory), poll completions,
 * write the status byte, push and publish used entries, signal the driver.
 *
 * <p>At most {@code slots} requests are in flight. When the channel answers BUSY the popped request
 * is kept (one deferred request) and retried first on the next call; popping stops until then, so
 * back-pressure reaches the guest through the ring instead of through a queue of ours.
 *
 * <p>Runs of the ring: when the device is reset, or the ring is restarted with in-flight tracking
 * ({@link Virtqueue#resubmitsEarlierRuns()}), the requests still in the block device belong to a
 * run that is over (with tracking, the new run resubmits them). They are marked stale: their
 * completions are dropped (no status byte, no used element: a request completes exactly once, on
 * the run that hands it out), and nothing new is popped until the last of them came back from the
 * block device, so that none of them touches guest buffers the new run already uses.
 */
final class BlkQueue implements CompletionSink {
    private static final int BURST = 64;
    private static final java.lang.invoke.VarHandle IN_FLIGHT;

    static {
        try {
            IN_FLIGHT = java.lang.invoke.MethodHandles.lookup().findVarHandle(BlkQueue.class, "inFlight", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final VirtioBlkDevice device;
    private final BlkLimits limits;
    private final BlkMetrics metrics;
    private final IoChannel channel;
    private final boolean volatileCache;
    private final BlkRequest[] requests;
    private final boolean[] stale;
    private int staleCount;
    private final int[] free;
    private int freeCount;
    private final DescriptorChain chain;
    private Virtqueue queue;
    private int deferred = -1;
    private int pendingUsed;
    private int generation;
    /** Requests taken from the ring and not yet answered, as of the end of the last {@link #process} (opaque). */
    @SuppressWarnings("unused")
    private int inFlight;
    private int run;

    BlkQueue(VirtioBlkDevice device, BlockDevice bdev, BlkLimits limits, BlkMetrics metrics, int slots) {
        this.device = device;
        this.limits = limits;
        this.metrics = metrics;
        this.volatileCache = bdev.volatileWriteCache();
        this.channel = bdev.openChannel(slots, limits.segMax());
        this.requests = new BlkRequest[slots];
        this.stale = new boolean[slots];
        this.free = new int[slots];
        for (int i = 0; i < slots; i++) {
            requests[i] = new BlkRequest(limits.segMax());
            free[freeCount++] = slots - 1 - i;
        }
        // A chain never has more entries than the queue has descriptors (indirect tables included).
        this.chain = new DescriptorChain(Math.max(slots, 1024));
    }

    BlkMetrics metrics() {
        return metrics;
    }

    int process(Virtqueue q) {
        int gen = device.generation();
        int ringRun = q.activationCount();
        if (gen != generation || ringRun != run) {
            newRun(gen != generation || q.resubmitsEarlierRuns());
            generation = gen;
            run = ringRun;
        }
        queue = q;
        int work = channel.poll(this);
        if (staleCount > 0) {
            // Requests of the earlier run are still in the block device: wait for them.
            IN_FLIGHT.setOpaque(this, requests.length - freeCount);
            return work;
        }
        if (deferred >= 0) {
            int slot = deferred;
            if (!submit(requests[slot], slot)) {
                publish();
                return work;
            }
            deferred = -1;
            work++;
        }
        int popped = 0;
        // Draining (the daemon stops or deletes the controller): answer what was taken, take nothing new.
        int room = device.draining() ? 0 : freeCount;
        while (popped < BURST && popped < room && q.pop(chain)) {
            popped++;
            int slot = free[--freeCount];
            BlkRequest r = requests[slot];
            r.startNanos = System.nanoTime();
            int p = r.parse(chain, limits);
            if (p == BlkRequest.SUBMIT) {
                if (!submit(r, slot)) {
                    deferred = slot;
                    break;
                }
            } else if (p == BlkRequest.DONE) {
                finish(slot, r, VirtioBlk.S_OK);
            } else {
                BlkRequestError e = BlkRequestError.of(p);
                metrics.error(e);
                finish(slot, r, e.status());
            }
        }
        work += popped;
        if (channel.inFlight() > 0) {
            work += channel.poll(this);
        }
        publish();
        IN_FLIGHT.setOpaque(this, requests.length - freeCount);
        return work;
    }

    /**
     * The ring started a new run (or the device a new session). With {@code drop}, every request
     * taken so far belongs to the old run: the deferred one is forgotten and those in the block
     * device become stale. Without it (a ring restarted without in-flight tracking), they complete
     * on the new run.
     */
    private void newRun(boolean drop) {
        if (!drop) {
            return;
        }
        if (deferred >= 0) {
            free[freeCount++] = deferred;
            deferred = -1;
        }
        pendingUsed = 0;
        Arrays.fill(stale, true);
        for (int i = 0; i < freeCount; i++) {
            stale[free[i]] = false;
        }
        int n = 0;
        for (boolean b : stale) {
            n += b ? 1 : 0;
        }
        staleCount = n;
    }

    /** Requests taken from the ring and not yet answered, as the lcore last saw them; any thread. */
    int inFlight() {
        return (int) IN_FLIGHT.getOpaque(this);
    }

    private void publish() {
        if (pendingUsed > 0) {
            pendingUsed = 0;
            if (queue.publishUsed() > 0) {
                queue.needsNotification();
            }
        }
    }

    /** @return false if the channel is full (nothing submitted) */
    private boolean submit(BlkRequest r, int slot) {
        int s = switch (r.type) {
            case VirtioBlk.T_IN -> channel.read(r.offset, r.sg, slot);
            case VirtioBlk.T_OUT -> channel.write(r.offset, r.sg, slot);
            case VirtioBlk.T_FLUSH -> channel.flush(slot);
            case VirtioBlk.T_DISCARD -> channel.discard(r.offset, r.length, slot);
            default -> channel.writeZeroes(r.offset, r.length, slot);
        };
        if (s == BlockStatus.OK) {
            // Write-through (writeback == 0): a write completes only once it is durable.
            r.flushAfterWrite = volatileCache && !device.writeback()
                    && (r.type == VirtioBlk.T_OUT || r.type == VirtioBlk.T_WRITE_ZEROES);
            return true;
        }
        if (s == BlockStatus.BUSY) {
            metrics.busy.incrementRelease();
            return false;
        }
        BlkRequestError e = s == BlockStatus.UNSUPPORTED ? BlkRequestError.UNSUPPORTED_TYPE : BlkRequestError.BACKEND_ERROR;
        metrics.error(e);
        finish(slot, r, e.status());
        return true;
    }

    @Override
    public void complete(int tag, int status) {
        BlkRequest r = requests[tag];
        if (stale[tag]) {
            // Taken by a run that is over (see newRun): the new run has its own copy, or the session is gone.
            stale[tag] = false;
            staleCount--;
            free[freeCount++] = tag;
            metrics.staleDropped.incrementRelease();
            return;
        }
        int s = status;
        if (s == BlockStatus.OK && r.flushAfterWrite) {
            r.flushAfterWrite = false;
            if (channel.flush(tag) == BlockStatus.OK) {
                return;
            }
            s = BlockStatus.IO_ERROR;
        }
        int virtio;
        if (s == BlockStatus.OK) {
            virtio = VirtioBlk.S_OK;
        } else {
            BlkRequestError e = s == BlockStatus.UNSUPPORTED ? BlkRequestError.UNSUPPORTED_TYPE : BlkRequestError.BACKEND_ERROR;
            metrics.error(e);
            virtio = e.status();
        }
        finish(tag, r, virtio);
    }

    private void finish(int slot, BlkRequest r, int status) {
        boolean ok = status == VirtioBlk.S_OK;
        switch (r.type) {
            case VirtioBlk.T_IN -> {
                metrics.reads.incrementRelease();
                if (ok) {
                    metrics.bytesRead.getAndAddRelease(r.length);
                }
            }
            case VirtioBlk.T_OUT -> {
                metrics.writes.incrementRelease();
                if (ok) {
                    metrics.bytesWritten.getAndAddRelease(r.length);
                }
            }
            case VirtioBlk.T_FLUSH -> metrics.flushes.incrementRelease();
            default -> metrics.others.incrementRelease();
        }
        // virtio 1.2, 5.2.6: the status byte follows the data; it is written after the backend
        // finished with the data, and the used entry after it (publishUsed is a release store).
        r.writeStatus(status);
        queue.pushUsed(r.head, r.ringSlots, ok ? r.usedLen : (r.hasStatus ? 1 : 0));
        pendingUsed++;
        metrics.latency(System.nanoTime() - r.startNanos);
        free[freeCount++] = slot;
    }

    void close() {
        channel.close();
        metrics.close();
    }
}

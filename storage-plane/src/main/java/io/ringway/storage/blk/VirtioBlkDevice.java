package io.ringway.storage.blk;

import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.vhost.backend.VhostUserDeviceHooks;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A virtio-blk device (virtio 1.2, 5.2) over a {@link BlockDevice}: IN, OUT, FLUSH, GET_ID, DISCARD
 * and WRITE_ZEROES on one or more queues, each queue with its own I/O channel. Data moves between
 * guest memory and the block device without a copy of ours.
 *
 * <p>Write durability: the device offers FLUSH and CONFIG_WCE. In writeback mode (the default when
 * FLUSH is negotiated) a write completes once the block device completed it (for a file: it is in
 * the page cache, or in the disk with O_DIRECT) and FLUSH is fdatasync. In write-through mode
 * (writeback 0, set by the driver through the config space, or FLUSH not negotiated) every write to
 * a block device with a volatile cache is followed by a flush before it completes.
 *
 * <p>Crash recovery: see {@link #tracksInflight()}.
 */
public final class VirtioBlkDevice implements VirtioDevice, VhostUserDeviceHooks, AutoCloseable {
    private final BlockDevice bdev;
    private final BlkLimits limits;
    private final int queueCount;
    private final int queueSize;
    private final long features;
    private final BlkQueue[] handlers;
    private final List<BlkMetrics> metrics;
    private volatile List<Virtqueue> queues;
    private volatile boolean writeback = true;
    private volatile boolean writebackSetByDriver;
    private volatile long negotiated;
    private volatile int generation;
    private volatile boolean draining;

    private VirtioBlkDevice(Builder b) {
        this.bdev = b.bdev;
        this.queueCount = b.queues;
        this.queueSize = b.queueSize;
        boolean readOnly = b.readOnly || bdev.readOnly();
        long capacitySectors = bdev.capacityBytes() >>> VirtioBlk.SECTOR_SHIFT;
        byte[] id = new byte[VirtioBlk.ID_BYTES];
        byte[] serial = b.serial.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(serial, 0, id, 0, Math.min(serial.length, id.length));
        this.limits = new BlkLimits(capacitySectors, bdev.blockSize(), readOnly, b.segMax, b.sizeMax,
                bdev.supportsDiscard(), bdev.supportsWriteZeroes(), b.maxDwzSectors, id);
        long f = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
                | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX)
                | VirtioFeatures.mask(VirtioFeatures.RING_PACKED)
                | VirtioFeatures.mask(VirtioFeatures.INDIRECT_DESC)
                | VirtioFeatures.mask(VirtioBlk.F_SIZE_MAX)
                | VirtioFeatures.mask(VirtioBlk.F_SEG_MAX)
                | VirtioFeatures.mask(VirtioBlk.F_BLK_SIZE)
                | VirtioFeatures.mask(VirtioBlk.F_FLUSH)
                | VirtioFeatures.mask(VirtioBlk.F_CONFIG_WCE)
                | VirtioFeatures.mask(VirtioBlk.F_MQ);
        if (limits.discard()) {
            f |= VirtioFeatures.mask(VirtioBlk.F_DISCARD);
        }
        if (limits.writeZeroes()) {
            f |= VirtioFeatures.mask(VirtioBlk.F_WRITE_ZEROES);
        }
        if (readOnly) {
            f |= VirtioFeatures.mask(VirtioBlk.F_RO);
        }
        this.features = f & ~b.withoutFeatures;
        StatsRegistry stats = b.stats != null ? b.stats : StatsRegistry.process();
        handlers = new BlkQueue[queueCount];
        List<BlkMetrics> m = new ArrayList<>();
        for (int q = 0; q < queueCount; q++) {
            BlkMetrics qm = new BlkMetrics(stats, "blk " + b.name + " q" + q);
            m.add(qm);
            handlers[q] = new BlkQueue(this, bdev, limits, qm, queueSize);
        }
        metrics = Collections.unmodifiableList(m);
    }

    /** Starts a builder for a device over {@code bdev}. */
    public static Builder builder(BlockDevice bdev) {
        return new Builder(bdev);
    }

    /** Options of a {@link VirtioBlkDevice}. */
    public static final class Builder {
        private final BlockDevice bdev;
        private String name = "blk0";
        private int queues = 1;
        private int queueSize = 256;
        private boolean readOnly;
        private String serial = "ringway-blk";
        private int segMax = 126;
        private long sizeMax = 1L << 20;
        private long maxDwzSectors = 1L << 22;
        private long withoutFeatures;
        private StatsRegistry stats;

        private Builder(BlockDevice bdev) {
            this.bdev = bdev;
        }

        /** Name in counters and logs. */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** Number of virtqueues (num_queues), 1 to 64. */
        public Builder queues(int n) {
            if (n < 1 || n > 64) {
                throw new IllegalArgumentException("queues must be between 1 and 64, got " + n);
            }
            this.queues = n;
            return this;
        }

        /** Largest queue size the device accepts, also the per-queue depth towards the block device. */
        public Builder queueSize(int n) {
            if (n < 2 || n > 32768 || Integer.bitCount(n) != 1) {
                throw new IllegalArgumentException("queue size must be a power of 2 between 2 and 32768, got " + n);
            }
            this.queueSize = n;
            return this;
        }

        /** Offers VIRTIO_BLK_F_RO: writes fail with IOERR. */
        public Builder readOnly(boolean readOnly) {
            this.readOnly = readOnly;
            return this;
        }

        /** The GET_ID answer (ASCII, at most 20 bytes kept). */
        public Builder serial(String serial) {
            this.serial = serial;
            return this;
        }

        /** seg_max: the most data segments per request. */
        public Builder segMax(int segMax) {
            if (segMax < 1) {
                throw new IllegalArgumentException("seg_max must be positive, got " + segMax);
            }
            this.segMax = segMax;
            return this;
        }

        /** size_max: the longest data segment in bytes. */
        public Builder sizeMax(long sizeMax) {
            if (sizeMax < 512 || sizeMax > 0xffff_ffffL) {
                throw new IllegalArgumentException("size_max must be between 512 and 2^32-1, got " + sizeMax);
            }
            this.sizeMax = sizeMax;
            return this;
        }

        /** Feature bits not to offer (tests, interop experiments). */
        public Builder withoutFeatures(long mask) {
            this.withoutFeatures = mask;
            return this;
        }

        /** Where the counters go (default: the process's registry). */
        public Builder stats(StatsRegistry stats) {
            this.stats = stats;
            return this;
        }

        public VirtioBlkDevice build() {
            return new VirtioBlkDevice(this);
        }
    }

    /** @return the block device */
    public BlockDevice blockDevice() {
        return bdev;
    }

    /** @return per-queue metrics, indexed by queue */
    public List<BlkMetrics> metrics() {
        return metrics;
    }

    /** @return true in writeback mode (see the class comment) */
    public boolean writeback() {
        return writeback;
    }

    /**
     * Stops (or resumes) taking requests from the rings: requests already taken still complete and
     * their used entries are published, so a front-end disconnected once {@link #inFlight()} reaches
     * 0 has every request it saw taken answered. Control plane; the lcores see it at their next pass.
     */
    public void drain(boolean on) {
        draining = on;
    }

    boolean draining() {
        return draining;
    }

    /** @return requests taken from the rings and not yet answered (0 without an active front-end); any thread */
    public int inFlight() {
        if (queues == null) {
            return 0;
        }
        int n = 0;
        for (BlkQueue h : handlers) {
            n += h.inFlight();
        }
        return n;
    }

    int generation() {
        return generation;
    }

    @Override
    public int deviceType() {
        return VirtioBlk.DEVICE_ID;
    }

    @Override
    public long deviceFeatures() {
        return features;
    }

    @Override
    public int queueCount() {
        return queueCount;
    }

    @Override
    public int maxQueueSize() {
        return queueSize;
    }

    @Override
    public synchronized byte[] readConfig(int offset, int length) {
        ByteBuffer c = ByteBuffer.allocate(VirtioBlk.CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        c.putLong(VirtioBlk.CFG_CAPACITY, limits.capacitySectors());
        c.putInt(VirtioBlk.CFG_SIZE_MAX, (int) limits.sizeMax());
        c.putInt(VirtioBlk.CFG_SEG_MAX, limits.segMax());
        c.putInt(VirtioBlk.CFG_BLK_SIZE, limits.blockSize());
        c.put(VirtioBlk.CFG_WRITEBACK, (byte) (writeback ? 1 : 0));
        c.putShort(VirtioBlk.CFG_NUM_QUEUES, (short) queueCount);
        int dwz = (int) Math.min(limits.maxDwzSectors(), 0xffff_ffffL);
        c.putInt(VirtioBlk.CFG_MAX_DISCARD_SECTORS, dwz);
        c.putInt(VirtioBlk.CFG_MAX_DISCARD_SEG, 1);
        c.putInt(VirtioBlk.CFG_DISCARD_SECTOR_ALIGNMENT, limits.blockSize() >>> VirtioBlk.SECTOR_SHIFT);
        c.putInt(VirtioBlk.CFG_MAX_WRITE_ZEROES_SECTORS, dwz);
        c.putInt(VirtioBlk.CFG_MAX_WRITE_ZEROES_SEG, 1);
        c.put(VirtioBlk.CFG_WRITE_ZEROES_MAY_UNMAP, (byte) 0);
        byte[] all = c.array();
        byte[] out = new byte[Math.max(0, length)];
        for (int i = 0; i < out.length; i++) {
            int at = offset + i;
            out[i] = at >= 0 && at < all.length ? all[at] : 0;
        }
        return out;
    }

    @Override
    public synchronized void writeConfig(int offset, byte[] data) {
        // virtio 1.2, 5.2.4: only writeback is writable, and only with VIRTIO_BLK_F_CONFIG_WCE.
        int at = VirtioBlk.CFG_WRITEBACK - offset;
        if (at >= 0 && at < data.length && (features & VirtioFeatures.mask(VirtioBlk.F_CONFIG_WCE)) != 0) {
            writeback = data[at] != 0;
            writebackSetByDriver = true;
        }
    }

    @Override
    public void activate(long negotiatedFeatures, GuestMemory memory, List<Virtqueue> queues) {
        negotiated = negotiatedFeatures;
        if (!writebackSetByDriver) {
            // virtio 1.2, 5.2.5.1: without FLUSH the device must not rely on a volatile cache.
            writeback = VirtioFeatures.has(negotiatedFeatures, VirtioBlk.F_FLUSH);
        }
        this.queues = queues;
    }

    @Override
    public void reset() {
        queues = null;
        writebackSetByDriver = false;
        generation++;
    }

    @Override
    public int process(int queueIndex) {
        List<Virtqueue> qs = queues;
        if (qs == null || queueIndex >= handlers.length) {
            return 0;
        }
        Virtqueue q = qs.get(queueIndex);
        if (q == null) {
            return 0;
        }
        return handlers[queueIndex].process(q);
    }

    @Override
    public int vhostUserQueueNum(int queueCount) {
        return queueCount;
    }

    /**
     * Yes: a block request may be executed twice (a write of the same data to the same place), so
     * the back-end records every request in the in-flight area (INFLIGHT_SHMFD) as the queue takes
     * it and clears it once its used entry is published, and a restarted back-end resubmits what
     * was left in flight before it takes anything new. No acknowledged write is lost (it completed
     * before its used entry was published) and no request is left unanswered.
     */
    @Override
    public boolean tracksInflight() {
        return true;
    }

    /** @return features the driver accepted at the last activation */
    public long negotiatedFeatures() {
        return negotiated;
    }

    /** Closes the queues' I/O channels and frees their counters (not the block device). */
    @Override
    public void close() {
        for (BlkQueue h : handlers) {
            h.close();
        }
    }
}

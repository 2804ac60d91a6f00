package io.ringway.perf.blk;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.sys.Cpu;
import io.ringway.runtime.sys.EventFd;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.DriverPackedQueue;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.HdrHistogram.Histogram;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A vhost-user-blk load generator: a polling virtio-blk driver on the Ringway front-end, one thread
 * for every queue. It drives any vhost-user-blk back-end the same way (Ringway, qemu-storage-daemon,
 * SPDK): split rings, EVENT_IDX, kick eventfds signalled only when the back-end asks for them.
 *
 * <pre>
 * java -cp ringway-cli.jar io.ringway.perf.blk.BlkLoadGenerator --socket S [--queues 1] [--qd 1]
 *     [--bs 4096] [--rw randread|randwrite|read|write|randrw] [--read-pct 70] [--seconds 5]
 *     [--warmup 1] [--hugepages] [--packed] [--cpu N]
 * </pre>
 */
public final class BlkLoadGenerator {
    static final int T_IN = 0;
    static final int T_OUT = 1;
    static final long RING_AREA = 1L << 20;

    /**
     * What to run.
     *
     * @param cpu      CPU the driving thread is pinned to while it runs (its affinity is restored
     *                 afterwards), or -1 to leave it where it is
     * @param warmup   seconds excluded from the results, counted from the first completion
     * @param observer told of every request completed in the measured window, or null
     */
    public record Options(Path socket, int queues, int qd, int bs, String rw, int readPct, double seconds, double warmup,
            boolean hugepages, boolean packed, int cpu, RequestObserver observer) {
        public Options(Path socket, int queues, int qd, int bs, String rw, int readPct, double seconds, double warmup,
                boolean hugepages, boolean packed) {
            this(socket, queues, qd, bs, rw, readPct, seconds, warmup, hugepages, packed, -1, null);
        }
    }

    /** Per-request hook for {@code --trace}: called on the driving thread, must not block or allocate. */
    @FunctionalInterface
    public interface RequestObserver {
        /** A request submitted at {@code startNanoTime} ({@link System#nanoTime()}) completed after {@code latencyNanos}. */
        void completed(long startNanoTime, long latencyNanos);
    }

    /** What came out. */
    public record Result(long requests, long errors, double seconds, Histogram latency) {
        public double iops() {
            return requests / seconds;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%,.0f IOPS, latency p50 %.1f us p99 %.1f us p99.9 %.1f us max %.1f us, %d errors",
                    iops(), latency.getValueAtPercentile(50) / 1e3, latency.getValueAtPercentile(99) / 1e3,
                    latency.getValueAtPercentile(99.9) / 1e3, latency.getMaxValue() / 1e3, errors);
        }
    }

    private static final class Queue {
        final DriverSplitQueue split;
        final DriverPackedQueue packed;
        final EventFd kick = EventFd.create(true);
        final EventFd call = EventFd.create(true);
        final long slotBase;
        final int slotSize;
        final long[] start;
        final int[] slotOfId;
        final int[] free;
        int freeCount;
        int inFlight;
        long cursor;
        final long[] addrs = new long[3];
        final int[] lens = new int[3];
        final boolean[] writable = new boolean[3];

        Queue(GuestMemory mem, int index, int qd, int bs, long features, boolean packedRing, long slotBase) {
            long ring = index * RING_AREA;
            int size = Integer.highestOneBit(Math.max(qd * 3, 4) - 1) << 1;
            if (packedRing) {
                packed = new DriverPackedQueue(mem, size, ring, ring + 0x4_0000, ring + 0x8_0000, features);
                split = null;
            } else {
                split = new DriverSplitQueue(mem, size, ring, ring + 0x4_0000, ring + 0x8_0000, features);
                packed = null;
            }
            this.slotBase = slotBase;
            this.slotSize = bs + 4096;
            start = new long[qd];
            slotOfId = new int[size];
            free = new int[qd];
            for (int i = 0; i < qd; i++) {
                free[freeCount++] = i;
            }
        }

        QueueConfig config(long features) {
            return packed != null ? packed.config(features) : split.config(features);
        }
    }

    private BlkLoadGenerator() {
    }

    /** Connects, runs, disconnects; on {@code o.cpu()} if that is not -1. */
    public static Result run(Options o) {
        if (o.cpu() < 0) {
            return connectAndRun(o);
        }
        java.util.BitSet before = Cpu.currentThreadAffinity();
        Cpu.pinCurrentThread(o.cpu());
        try {
            return connectAndRun(o);
        } finally {
            Cpu.setCurrentThreadAffinity(before);
        }
    }

    private static Result connectAndRun(Options o) {
        long dataArea = (long) o.queues() * o.qd() * (o.bs() + 4096L);
        long size = ((o.queues() * RING_AREA + dataArea + (2L << 20) - 1) >> 21) << 21;
        SharedRegion region = SharedRegion.create("blk-loadgen", size,
                SharedRegion.Options.defaults().hugepages(o.hugepages()).populate(true));
        try (FrontendMemory mem = FrontendMemory.owning(List.of(new FrontendMemory.Region(region, 0)));
             VhostUserFrontend f = VhostUserFrontend.connect(o.socket(), Duration.ofSeconds(10))) {
            long wanted = VirtioFeatures.mask(VirtioFeatures.VERSION_1) | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX)
                    | (1L << 2) | (1L << 6) | (1L << 9) | (1L << 12) | (1L << 1) | (1L << 13) | (1L << 14);
            if (o.packed()) {
                wanted |= VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
            }
            long protocolWanted = (1L << 0) | (1L << 3) | (1L << 9); // MQ, REPLY_ACK, CONFIG
            long features = f.negotiate(wanted, protocolWanted);
            long capacityBytes = ByteBuffer.wrap(f.getConfig(0, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong(0) * 512;
            if (capacityBytes < o.bs()) {
                throw new IllegalStateException("device capacity " + capacityBytes + " is smaller than one block of " + o.bs());
            }
            f.setMemTable(mem);
            GuestMemory gm = mem.guestMemory();
            List<Queue> qs = new ArrayList<>();
            long slotBase = o.queues() * RING_AREA;
            for (int q = 0; q < o.queues(); q++) {
                Queue queue = new Queue(gm, q, o.qd(), o.bs(), features, VirtioFeatures.has(features, VirtioFeatures.RING_PACKED),
                        slotBase + (long) q * o.qd() * (o.bs() + 4096L));
                f.startVring(q, mem, queue.config(features), queue.packed != null ? VhostUserFrontend.FRESH_PACKED_BASE : 0,
                        queue.kick.fd(), queue.call.fd());
                qs.add(queue);
            }
            Result r = loop(o, gm, qs, capacityBytes);
            for (int q = 0; q < qs.size(); q++) {
                f.stopVring(q);
                qs.get(q).kick.close();
                qs.get(q).call.close();
            }
            return r;
        }
    }

    private static Result loop(Options o, GuestMemory gm, List<Queue> qs, long capacity) {
        SplittableRandom random = new SplittableRandom(42);
        long blocks = capacity / o.bs();
        int readPct = switch (o.rw()) {
            case "randread", "read" -> 100;
            case "randwrite", "write" -> 0;
            case "randrw", "rw" -> o.readPct();
            default -> throw new IllegalArgumentException("--rw must be randread, randwrite, read, write or randrw, got " + o.rw());
        };
        boolean sequential = o.rw().equals("read") || o.rw().equals("write") || o.rw().equals("rw");
        Histogram latency = new Histogram(1, 60_000_000_000L, 3);
        // One region at guest-physical 0: a guest address is an offset into it (no slice per request).
        MemorySegment mem = gm.segment(0);
        long now = System.nanoTime();
        // The warm-up starts at the first completion, not at the first submission: a back-end that is
        // still activating its queues (or a JIT still compiling) must not eat into the measured window.
        long firstDeadline = now + 10_000_000_000L;
        long measureFrom = Long.MAX_VALUE;
        long end = Long.MAX_VALUE;
        long requests = 0;
        long errors = 0;
        boolean stopping = false;
        int busyQueues = qs.size();
        while (busyQueues > 0) {
            now = System.nanoTime();
            stopping = now >= end;
            busyQueues = 0;
            for (Queue q : qs) {
                int posted = 0;
                while (!stopping && q.freeCount > 0) {
                    int slot = q.free[--q.freeCount];
                    long h = q.slotBase + (long) slot * q.slotSize;
                    long block = sequential ? (q.cursor++ % blocks) : random.nextLong(blocks);
                    boolean read = readPct == 100 || (readPct > 0 && random.nextInt(100) < readPct);
                    mem.set(ValueLayout.JAVA_INT_UNALIGNED, h, read ? T_IN : T_OUT);
                    mem.set(ValueLayout.JAVA_INT_UNALIGNED, h + 4, 0);
                    mem.set(ValueLayout.JAVA_LONG_UNALIGNED, h + 8, block * o.bs() / 512);
                    q.addrs[0] = h;
                    q.lens[0] = 16;
                    q.writable[0] = false;
                    q.addrs[1] = h + 4096;
                    q.lens[1] = o.bs();
                    q.writable[1] = read;
                    q.addrs[2] = h + 64;
                    q.lens[2] = 1;
                    q.writable[2] = true;
                    int id = q.packed != null ? q.packed.add(q.addrs, q.lens, q.writable, 3) : q.split.add(q.addrs, q.lens, q.writable, 3);
                    if (id < 0) {
                        q.freeCount++;
                        break;
                    }
                    q.slotOfId[id] = slot;
                    q.start[slot] = System.nanoTime();
                    q.inFlight++;
                    posted++;
                }
                if (posted > 0) {
                    boolean kick;
                    if (q.packed != null) {
                        q.packed.publish();
                        kick = q.packed.needsKick();
                    } else {
                        q.split.publish();
                        kick = q.split.needsKick();
                    }
                    if (kick) {
                        q.kick.signal();
                    }
                }
                long used;
                while ((used = q.packed != null ? q.packed.pollUsed() : q.split.pollUsed()) >= 0) {
                    int slot = q.slotOfId[(int) (used >>> 32)];
                    long done = System.nanoTime();
                    if (measureFrom == Long.MAX_VALUE) {
                        measureFrom = done + (long) (o.warmup() * 1e9);
                        end = measureFrom + (long) (o.seconds() * 1e9);
                    }
                    long h = q.slotBase + (long) slot * q.slotSize;
                    int status = mem.get(ValueLayout.JAVA_BYTE, h + 64);
                    if (q.start[slot] >= measureFrom && done <= end) {
                        requests++;
                        latency.recordValue(Math.max(1, done - q.start[slot]));
                        if (o.observer() != null) {
                            o.observer().completed(q.start[slot], done - q.start[slot]);
                        }
                        if (status != 0) {
                            errors++;
                        }
                    }
                    q.free[q.freeCount++] = slot;
                    q.inFlight--;
                }
                if (q.inFlight > 0) {
                    busyQueues++;
                }
            }
            if (!stopping) {
                busyQueues = Math.max(busyQueues, 1);
            }
            if (measureFrom == Long.MAX_VALUE && now > firstDeadline) {
                throw new IllegalStateException("no request completed within 10 s of the first submission");
            }
            if (stopping && System.nanoTime() - end > 5_000_000_000L) {
                throw new IllegalStateException("requests still in flight 5 s after the end");
            }
        }
        return new Result(requests, errors, o.seconds(), latency);
    }

    public static void main(String[] args) {
        Path socket = null;
        int queues = 1;
        int qd = 1;
        int bs = 4096;
        String rw = "randread";
        int readPct = 70;
        double seconds = 5;
        double warmup = 1;
        boolean huge = false;
        boolean packed = false;
        int cpu = -1;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--socket" -> socket = Path.of(args[++i]);
                case "--queues" -> queues = Integer.parseInt(args[++i]);
                case "--qd" -> qd = Integer.parseInt(args[++i]);
                case "--bs" -> bs = Integer.parseInt(args[++i]);
                case "--rw" -> rw = args[++i];
                case "--read-pct" -> readPct = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--warmup" -> warmup = Double.parseDouble(args[++i]);
                case "--hugepages" -> huge = true;
                case "--packed" -> packed = true;
                case "--cpu" -> cpu = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("unknown option " + a);
                    System.exit(2);
                }
            }
        }
        if (socket == null) {
            System.err.println("--socket PATH is required");
            System.exit(2);
        }
        Options o = new Options(socket, queues, qd, bs, rw, readPct, seconds, warmup, huge, packed, cpu, null);
        Result r = run(o);
        System.out.printf(Locale.ROOT, "blk loadgen %s: %d queue(s), QD %d, bs %d, %s %.0f s: %s%n", socket, queues, qd, bs, rw,
                seconds, r);
    }
}

package io.ringway.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.bdev.BlockDeviceSpec;
import io.ringway.storage.bdev.LatencyDistribution;
import io.ringway.storage.blk.BlkMetrics;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vhost.backend.VhostUserBackend;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringway blk}: a vhost-user-blk back-end over a block device. */
@Command(name = "blk", mixinStandardHelpOptions = true,
        description = {"Serve a vhost-user-blk device over a RAM, null or file block device.",
            "Prints IOPS and latency every second and totals on SIGINT/SIGTERM; counters are in `ringway stats`."})
final class BlkCommand implements Callable<Integer> {
    @Option(names = "--socket", required = true, paramLabel = "PATH", description = "vhost-user unix socket.")
    Path socket;

    @Option(names = "--client", description = "Connect to the socket (the front-end listens) instead of listening.")
    boolean client;

    @Option(names = "--bdev", required = true, paramLabel = "SPEC",
            description = "malloc:SIZE | null:SIZE | file:PATH[,direct]; sizes like 512M, 1G.")
    String bdev;

    @Option(names = "--block-size", defaultValue = "512", paramLabel = "B", description = "512 or 4096 (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--delay", paramLabel = "SPEC", description = "Add latency: fixed:100us, uniform:50us-200us, exp:100us.")
    String delay;

    @Option(names = "--queues", defaultValue = "1", paramLabel = "N", description = "Virtqueues (default: ${DEFAULT-VALUE}).")
    int queues;

    @Option(names = "--queue-size", defaultValue = "256", paramLabel = "N",
            description = "Largest queue size, also the per-queue depth towards the bdev (default: ${DEFAULT-VALUE}).")
    int queueSize;

    @Option(names = "--readonly", description = "Offer VIRTIO_BLK_F_RO; writes fail with IOERR.")
    boolean readOnly;

    @Option(names = "--serial", defaultValue = "ringway-blk", description = "GET_ID answer (default: ${DEFAULT-VALUE}).")
    String serial;

    @Option(names = "--lcores", paramLabel = "LIST",
            description = {"CPUs for the data-plane threads, e.g. 1, 0-1 or 0,2-3: one lcore pinned to each CPU, queue i on the",
                "i % n-th CPU of the list (CPUs beyond the queue count stay unused). Default: one unpinned lcore."})
    String lcores;

    @Option(names = "--idle", defaultValue = "backoff", paramLabel = "POLICY",
            description = "busy, backoff or adaptive (default: ${DEFAULT-VALUE}).")
    String idle;

    @Override
    public Integer call() throws Exception {
        IdlePolicy policy;
        List<Integer> cpus;
        LatencyDistribution latency;
        BlockDevice device;
        try {
            policy = IdlePolicy.parse(idle);
            cpus = parseCpuList(lcores);
            latency = delay == null ? null : LatencyDistribution.parse(delay);
            device = BlockDeviceSpec.open(bdev, blockSize, readOnly, latency);
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("ringway blk: " + e.getMessage());
            return 2;
        } catch (RuntimeException e) {
            System.err.println("ringway blk: cannot open --bdev " + bdev + ": " + e.getMessage());
            return 2;
        }
        VirtioBlkDevice blk;
        try {
            blk = VirtioBlkDevice.builder(device).name("blk0").queues(queues).queueSize(queueSize)
                    .readOnly(readOnly).serial(serial).build();
        } catch (IllegalArgumentException e) {
            device.close();
            System.err.println("ringway blk: " + e.getMessage());
            return 2;
        }
        System.out.println("ringway blk: " + device.describe());
        List<Lcore> lcoreList = startLcores(cpus, queues, policy);
        for (int q = 0; q < queues; q++) {
            int cpu = cpus.isEmpty() ? -1 : cpus.get(q % lcoreList.size());
            System.out.println("ringway blk: queue " + q + " on lcore " + lcoreList.get(q % lcoreList.size()).name()
                    + (cpu < 0 ? " (unpinned)" : " (cpu " + cpu + ")"));
        }
        if (cpus.size() > queues) {
            System.out.println("ringway blk: " + queues + " queue(s) use only the first " + queues + " of the "
                    + cpus.size() + " CPUs in --lcores " + lcores);
        }
        VhostUserBackend.Builder bb = VhostUserBackend.builder(blk, lcoreList).name("blk0");
        VhostUserBackend backend = client ? bb.connect(socket) : bb.listen(socket);
        System.out.printf("ringway blk: %s %s, %d queue(s) of up to %d, %s%s, idle %s%n", client ? "connecting to" : "listening on",
                socket, queues, queueSize, readOnly ? "read-only" : "read-write",
                device.volatileWriteCache() ? ", writeback cache (FLUSH = fdatasync)" : "", idle);

        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        Histogram total = new Histogram(1, 60_000_000_000L, 2);
        long start = System.nanoTime();
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            stop.countDown();
            try {
                stopped.await(3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            printTotals(blk, total, System.nanoTime() - start);
            backend.close();
            lcoreList.forEach(Lcore::close);
            blk.close();
            device.close();
        }));
        List<BlkMetrics> m = blk.metrics();
        long lastReads = 0;
        long lastWrites = 0;
        long lastOther = 0;
        long lastRb = 0;
        long lastWb = 0;
        long lastT = System.nanoTime();
        int second = 0;
        while (!stop.await(1, TimeUnit.SECONDS)) {
            long now = System.nanoTime();
            double dt = (now - lastT) / 1e9;
            lastT = now;
            long reads = sum(m, BlkMetrics::reads);
            long writes = sum(m, BlkMetrics::writes);
            long all = sum(m, BlkMetrics::requests);
            long rb = sum(m, BlkMetrics::bytesRead);
            long wb = sum(m, BlkMetrics::bytesWritten);
            Histogram h = BlkMetrics.sumIntervalLatency(m);
            total.add(h);
            long other = all - reads - writes;
            second++;
            System.out.printf("%4ds  %,10.0f IOPS (r %,.0f w %,.0f o %,.0f)  r %.1f MB/s  w %.1f MB/s  lat p50 %s p99 %s max %s  errors %d  %s%n",
                    second, (all - lastReads - lastWrites - lastOther) / dt, (reads - lastReads) / dt, (writes - lastWrites) / dt,
                    (other - lastOther) / dt, (rb - lastRb) / dt / 1e6, (wb - lastWb) / dt / 1e6,
                    micros(h, 50), micros(h, 99), h.getTotalCount() == 0 ? "-" : String.format("%.1fus", h.getMaxValue() / 1e3),
                    sum(m, BlkMetrics::errors), backend.connected() ? "connected" : "waiting for a front-end");
            lastReads = reads;
            lastWrites = writes;
            lastOther = other;
            lastRb = rb;
            lastWb = wb;
        }
        stopped.countDown();
        return 0;
    }

    private static String micros(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? "-" : String.format("%.1fus", h.getValueAtPercentile(percentile) / 1e3);
    }

    private static long sum(List<BlkMetrics> m, java.util.function.ToLongFunction<BlkMetrics> f) {
        long s = 0;
        for (BlkMetrics x : m) {
            s += f.applyAsLong(x);
        }
        return s;
    }

    private static void printTotals(VirtioBlkDevice blk, Histogram total, long nanos) {
        List<BlkMetrics> m = blk.metrics();
        total.add(BlkMetrics.sumIntervalLatency(m));
        double secs = nanos / 1e9;
        long all = sum(m, BlkMetrics::requests);
        System.out.printf("ringway blk: totals over %.1f s: %,d requests (%,d reads, %,d writes), %.1f MB read, %.1f MB written, "
                        + "%d errors, mean %,.0f IOPS%n", secs, all, sum(m, BlkMetrics::reads), sum(m, BlkMetrics::writes),
                sum(m, BlkMetrics::bytesRead) / 1e6, sum(m, BlkMetrics::bytesWritten) / 1e6, sum(m, BlkMetrics::errors), all / secs);
        if (total.getTotalCount() > 0) {
            System.out.printf("ringway blk: latency p50 %.1fus p99 %.1fus p99.9 %.1fus max %.1fus%n",
                    total.getValueAtPercentile(50) / 1e3, total.getValueAtPercentile(99) / 1e3,
                    total.getValueAtPercentile(99.9) / 1e3, total.getMaxValue() / 1e3);
        }
    }

    /**
     * One lcore per CPU of {@code cpus} that a queue lands on (queue i on cpus[i % n]; the first
     * {@code min(n, queues)} CPUs), named blk-0, blk-1, ...; one unpinned lcore when {@code cpus} is empty.
     */
    static List<Lcore> startLcores(List<Integer> cpus, int queues, IdlePolicy policy) {
        int n = cpus.isEmpty() ? 1 : Math.min(cpus.size(), Math.max(queues, 1));
        List<Lcore> out = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Lcore.Builder lb = Lcore.builder("blk-" + i).idlePolicy(policy);
                if (!cpus.isEmpty()) {
                    lb.cpu(cpus.get(i));
                }
                out.add(lb.start());
            }
        } catch (RuntimeException e) {
            out.forEach(Lcore::close);
            throw e;
        }
        return out;
    }

    /** Parses "1", "0-1", "0,2-3"; empty for null. */
    static List<Integer> parseCpuList(String list) {
        List<Integer> cpus = new ArrayList<>();
        if (list == null || list.isBlank()) {
            return cpus;
        }
        for (String part : list.split(",")) {
            String p = part.trim();
            try {
                int dash = p.indexOf('-');
                if (dash > 0) {
                    int a = Integer.parseInt(p.substring(0, dash));
                    int b = Integer.parseInt(p.substring(dash + 1));
                    if (b < a) {
                        throw new IllegalArgumentException("--lcores: range " + p + " runs backwards");
                    }
                    for (int c = a; c <= b; c++) {
                        cpus.add(c);
                    }
                } else {
                    cpus.add(Integer.parseInt(p));
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--lcores: '" + p + "' is not a CPU number or range");
            }
        }
        return cpus;
    }
}

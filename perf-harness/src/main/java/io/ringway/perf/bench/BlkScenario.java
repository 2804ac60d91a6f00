package io.ringway.perf.bench;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;

import io.ringway.perf.blk.BlkLoadGenerator;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.Cpu;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.bdev.BlockDeviceSpec;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vhost.backend.VhostUserBackend;

/**
 * vhost-user-blk end to end: a Ringway back-end (null bdev of 1 GiB, one busy-polling lcore on CPU 0)
 * in this JVM, driven over a unix socket by {@link BlkLoadGenerator} (a polling virtio-blk driver on
 * the Ringway front-end, pinned to CPU 1). 4 KiB random reads and writes at QD1 (IOPS and latency
 * percentiles) and QD32 (IOPS). With {@code --vs qsd} the same loads run against
 * qemu-storage-daemon's vhost-user-blk export of a null-co node (a subprocess on CPU 0) in turns:
 * Ringway then QSD in every repeat, so a change of machine state hits both.
 */
public final class BlkScenario implements Scenario {
    static final int BACKEND_CPU = 0;
    static final int GENERATOR_CPU = 1;
    static final long NULL_BYTES = 1L << 30;
    static final int BLOCK = 4096;
    static final String QSD = "qemu-storage-daemon";
    static final String QSD_INSTALL = "apt-get install qemu-system-x86";
    /** The back-end lcore's idle policy: busy (default, as DPDK and SPDK poll), backoff or adaptive. */
    static final String IDLE = System.getProperty("ringway.bench.blk.idle", "busy");

    /** One load: rw mode and queue depth; {@code percentiles} adds p50/p99.9 beside IOPS and p99. */
    record Load(String rw, int qd, boolean percentiles) {
        String key(String target) {
            return target + " null " + rw + " QD" + qd;
        }
    }

    static final List<Load> LOADS = List.of(new Load("randread", 1, true), new Load("randread", 32, false),
            new Load("randwrite", 1, true), new Load("randwrite", 32, false));

    private final boolean vsQsd;

    public BlkScenario() {
        this(false);
    }

    /** @param vsQsd also run every load against qemu-storage-daemon, in turns with Ringway */
    public BlkScenario(boolean vsQsd) {
        this.vsQsd = vsQsd;
    }

    @Override
    public String name() {
        return "blk";
    }

    @Override
    public String description() {
        return "vhost-user-blk, null bdev 1 GiB, 4 KiB random read/write at QD1 and QD32, back-end CPU 0, driver CPU 1"
                + (vsQsd ? ", vs qemu-storage-daemon null-co" : "") + "; IOPS (higher is better), us (lower is better)";
    }

    @Override
    public List<Comparison> comparisons() {
        if (!vsQsd) {
            return List.of();
        }
        String peer = "qemu-storage-daemon null-co";
        return List.of(
                new Comparison("4 KiB randread QD32 IOPS", "ringway null randread QD32 IOPS", "qsd null randread QD32 IOPS", peer),
                new Comparison("4 KiB randread QD1 IOPS", "ringway null randread QD1 IOPS", "qsd null randread QD1 IOPS", peer),
                new Comparison("4 KiB randwrite QD32 IOPS", "ringway null randwrite QD32 IOPS", "qsd null randwrite QD32 IOPS", peer),
                new Comparison("4 KiB randread QD1 p99 latency", "ringway null randread QD1 p99 us", "qsd null randread QD1 p99 us", peer),
                new Comparison("4 KiB randwrite QD1 p99 latency", "ringway null randwrite QD1 p99 us", "qsd null randwrite QD1 p99 us",
                        peer));
    }

    @Override
    public Optional<Scenario> against(String peer) {
        return peer.equals("qsd") ? Optional.of(new BlkScenario(true)) : Optional.empty();
    }

    /** qemu-storage-daemon on PATH (or in /usr/bin), or null. */
    static Path findQsd() {
        String path = System.getenv().getOrDefault("PATH", "") + File.pathSeparator + "/usr/bin";
        for (String dir : path.split(File.pathSeparator)) {
            if (!dir.isEmpty()) {
                Path p = Path.of(dir, QSD);
                if (Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        return null;
    }

    /** A back-end under test: listening on a socket until closed. */
    private interface Target extends AutoCloseable {
        @Override
        void close();
    }

    @Override
    public ScenarioResult run(Settings settings) throws Exception {
        BitSet allowed = Cpu.currentThreadAffinity();
        boolean pin = allowed.get(BACKEND_CPU) && allowed.get(GENERATOR_CPU);
        if (!pin) {
            System.out.println("  blk: CPUs 0 and 1 are not both available: back-end and driver unpinned, back-end lcore in backoff mode");
        }
        List<String> targets = new ArrayList<>(List.of("ringway"));
        Path qsd = vsQsd ? findQsd() : null;
        if (vsQsd && qsd == null) {
            System.out.println("  blk: " + QSD + " is not installed (" + QSD_INSTALL + "); running Ringway alone");
        } else if (qsd != null) {
            targets.add("qsd");
        }
        double seconds = settings.durationSeconds();
        double warmup = Math.min(0.5, seconds / 2);
        Map<String, List<Double>> samples = new LinkedHashMap<>();
        Map<String, String> units = new LinkedHashMap<>();
        for (String t : targets) {
            for (Load l : LOADS) {
                samples.put(l.key(t) + " IOPS", new ArrayList<>());
                units.put(l.key(t) + " IOPS", "IOPS");
                for (String p : l.percentiles() ? List.of("p50", "p99", "p99.9") : List.of("p99")) {
                    samples.put(l.key(t) + " " + p + " us", new ArrayList<>());
                    units.put(l.key(t) + " " + p + " us", "us");
                }
            }
        }
        Map<String, Histogram> qd1Reads = new LinkedHashMap<>();
        targets.forEach(t -> qd1Reads.put(t, new Histogram(1, 60_000_000_000L, 3)));
        Path dir = Files.createTempDirectory("ringway-bench-blk");
        try {
            for (int r = 0; r < settings.repeat(); r++) {
                if (!settings.quiet() || r == 0) {
                    System.out.printf(Locale.ROOT, "  blk: repeat %d/%d: %s, %d loads of %.1f s (+%.2f s warm-up) each%s%n", r + 1,
                            settings.repeat(), String.join(" then ", targets), LOADS.size(), seconds, warmup,
                            r == 0 ? ", after an unrecorded JIT warm-up" : "");
                }
                for (String t : targets) {
                    Path socket = dir.resolve(t + ".sock");
                    Files.deleteIfExists(socket);
                    try (Target target = t.equals("qsd") ? startQsd(qsd, socket, pin, dir) : startRingway(socket, pin)) {
                        if (r == 0) {
                            // A fresh JVM: let the JIT compile the driver (and Ringway's back-end) on reads
                            // and writes before the first load's own warm-up; not recorded.
                            BlkLoadGenerator.run(new BlkLoadGenerator.Options(socket, 1, 32, BLOCK, "randrw", 50,
                                    Math.max(0.3, warmup), 0, false, false, pin ? GENERATOR_CPU : -1, null));
                        }
                        for (Load l : LOADS) {
                            WakeupScenario.Events events = settings.trace() == null ? null : new WakeupScenario.Events(1 << 20);
                            BlkLoadGenerator.Result res = BlkLoadGenerator.run(new BlkLoadGenerator.Options(socket, 1, l.qd(), BLOCK,
                                    l.rw(), 100, seconds, warmup, false, false, pin ? GENERATOR_CPU : -1,
                                    events == null ? null : events::add));
                            if (res.errors() > 0) {
                                System.out.printf("  blk: %s: %d requests failed%n", l.key(t), res.errors());
                            }
                            if (!settings.quiet()) {
                                System.out.printf("  blk: %s: %s%n", l.key(t), res);
                            }
                            record(samples, l, t, res);
                            if (l.qd() == 1 && l.rw().equals("randread")) {
                                qd1Reads.get(t).add(res.latency());
                            }
                            if (events != null) {
                                settings.trace().append(name(), l.key(t), events.starts, events.latencies, events.count);
                            }
                        }
                    }
                }
            }
        } finally {
            deleteQuietly(dir);
        }
        Map<String, Measurement> measurements = new LinkedHashMap<>();
        samples.forEach((k, v) -> measurements.put(k, new Measurement(k, units.get(k), v.stream().mapToDouble(Double::doubleValue).toArray())));
        List<LatencySeries> latencies = new ArrayList<>();
        latencies.add(LatencySeries.of("Ringway, 4 KiB randread QD1", true, qd1Reads.get("ringway")));
        if (qd1Reads.containsKey("qsd")) {
            latencies.add(LatencySeries.of("qemu-storage-daemon, 4 KiB randread QD1", false, qd1Reads.get("qsd")));
        }
        return new ScenarioResult(measurements, latencies);
    }

    private static void record(Map<String, List<Double>> samples, Load l, String t, BlkLoadGenerator.Result res) {
        String k = l.key(t);
        samples.get(k + " IOPS").add(res.iops());
        for (String p : l.percentiles() ? List.of("p50", "p99", "p99.9") : List.of("p99")) {
            double pct = Double.parseDouble(p.substring(1));
            samples.get(k + " " + p + " us").add(res.latency().getValueAtPercentile(pct) / 1e3);
        }
    }

    /** Ringway in this JVM: null bdev, virtio-blk device, busy-polling lcore on CPU 0, listening on {@code socket}. */
    static Target startRingway(Path socket, boolean pin) {
        BlockDevice bdev = BlockDeviceSpec.open("null:" + NULL_BYTES, 512, false, null);
        VirtioBlkDevice blk = null;
        Lcore lcore = null;
        try {
            blk = VirtioBlkDevice.builder(bdev).name("bench-blk").queues(1).build();
            Lcore.Builder lb = Lcore.builder("bench-blk").idlePolicy(pin ? IdlePolicy.parse(IDLE) : IdlePolicy.backoff());
            if (pin) {
                lb.cpu(BACKEND_CPU);
            }
            lcore = lb.start();
            VhostUserBackend backend = VhostUserBackend.builder(blk, lcore).name("bench-blk").listen(socket);
            VirtioBlkDevice device = blk;
            Lcore core = lcore;
            return () -> {
                backend.close();
                core.close();
                device.close();
                bdev.close();
            };
        } catch (RuntimeException e) {
            if (lcore != null) {
                lcore.close();
            }
            if (blk != null) {
                blk.close();
            }
            bdev.close();
            throw e;
        }
    }

    /** The command that exports a 1 GiB null-co node as vhost-user-blk on {@code socket}, on CPU 0 if {@code pin}. */
    static List<String> qsdCommand(Path qsd, Path socket, boolean pin) {
        List<String> cmd = new ArrayList<>();
        Path taskset = Path.of("/usr/bin/taskset");
        if (pin && Files.isExecutable(taskset)) {
            cmd.addAll(List.of(taskset.toString(), "-c", Integer.toString(BACKEND_CPU)));
        }
        cmd.addAll(List.of(qsd.toString(), "--blockdev", "driver=null-co,node-name=n0,size=" + NULL_BYTES,
                "--export", "type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=" + socket + ",writable=on"));
        return cmd;
    }

    static Target startQsd(Path qsd, Path socket, boolean pin, Path dir) throws IOException, InterruptedException {
        Path log = dir.resolve("qsd.log");
        Process p = new ProcessBuilder(qsdCommand(qsd, socket, pin)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(socket)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                throw new IllegalStateException(QSD + " did not create " + socket + " within 10 s (exit "
                        + (p.isAlive() ? "none" : p.exitValue()) + "): " + Files.readString(log).strip());
            }
            Thread.sleep(10);
        }
        return () -> {
            p.destroy();
            try {
                if (!p.waitFor(5, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
            }
        };
    }

    private static void deleteQuietly(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a temp directory left behind is harmless
        }
    }
}

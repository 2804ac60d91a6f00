package io.ringway.perf.bench;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * vhost-user-blk end to end: a Ringway back-end (one busy-polling lcore on CPU 0) in this JVM, driven
 * over a unix socket by {@link BlkLoadGenerator} (a polling virtio-blk driver on the Ringway
 * front-end, pinned to CPU 1). 4 KiB random reads and writes at QD1 (IOPS and latency percentiles)
 * and QD32 (IOPS), on two bdevs of 1 GiB: {@code null} (completes at once: the stack alone) and
 * {@code malloc} ("ram": data copied to and from RAM). With {@code --vs qsd} the same loads run
 * against qemu-storage-daemon's vhost-user-blk export (a subprocess on CPU 0) of a null-co node and
 * of a raw node on a 1 GiB file in /dev/shm ("ram-file", page cache, {@code cache.direct=off}), in
 * turns: Ringway null, QSD null, Ringway ram, QSD ram-file in every repeat, so a change of machine
 * state hits both sides of a pair. The back-ends restart in every repeat, but the two RAM stores are
 * made once per run with every page present before the first load: the malloc bdev populates its
 * mapping at creation (as SPDK's malloc bdev zeroes its buffer), and the /dev/shm file is written full
 * of zeroes, since a first-touch page fault costs tens of microseconds on this machine, which would
 * otherwise be measured instead of the data plane.
 */
public final class BlkScenario implements Scenario {
    static final int BACKEND_CPU = 0;
    static final int GENERATOR_CPU = 1;
    static final long NULL_BYTES = 1L << 30;
    static final long RAM_BYTES = 1L << 30;
    static final int BLOCK = 4096;
    static final String QSD = "qemu-storage-daemon";
    static final String QSD_INSTALL = "apt-get install qemu-system-x86";
    /** The back-end lcore's idle policy: busy (default, as DPDK and SPDK poll), backoff or adaptive. */
    static final String IDLE = System.getProperty("ringway.bench.blk.idle", "busy");

    /** One load: rw mode and queue depth; {@code percentiles} adds p50/p99.9 beside IOPS and p99. */
    record Load(String rw, int qd, boolean percentiles) {
        String key(Backend b) {
            return b.prefix() + " " + rw + " QD" + qd;
        }
    }

    /**
     * One back-end under test: {@code target} "ringway" or "qsd", {@code bdev} the storage behind it
     * ("null", "ram" for Ringway's malloc bdev, "ram-file" for QSD's raw file in /dev/shm).
     */
    record Backend(String target, String bdev) {
        String prefix() {
            return target + " " + bdev;
        }

        boolean qsd() {
            return target.equals("qsd");
        }
    }

    static final Backend RINGWAY_NULL = new Backend("ringway", "null");
    static final Backend QSD_NULL = new Backend("qsd", "null");
    static final Backend RINGWAY_RAM = new Backend("ringway", "ram");
    static final Backend QSD_RAM_FILE = new Backend("qsd", "ram-file");

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
        return "vhost-user-blk, null and malloc (ram) bdevs of 1 GiB, 4 KiB random read/write at QD1 and QD32, back-end CPU 0,"
                + " driver CPU 1" + (vsQsd ? ", vs qemu-storage-daemon null-co and a raw file in /dev/shm (ram-file)" : "")
                + "; IOPS (higher is better), us (lower is better)";
    }

    @Override
    public List<Comparison> comparisons() {
        if (!vsQsd) {
            return List.of();
        }
        String peer = "qemu-storage-daemon null-co";
        String ramPeer = "qemu-storage-daemon tmpfs raw"; // raw file in /dev/shm; the table column is 30 wide
        return List.of(
                new Comparison("4 KiB randread QD32 IOPS", "ringway null randread QD32 IOPS", "qsd null randread QD32 IOPS", peer),
                new Comparison("4 KiB randread QD1 IOPS", "ringway null randread QD1 IOPS", "qsd null randread QD1 IOPS", peer),
                new Comparison("4 KiB randwrite QD32 IOPS", "ringway null randwrite QD32 IOPS", "qsd null randwrite QD32 IOPS", peer),
                new Comparison("4 KiB randread QD1 p99 latency", "ringway null randread QD1 p99 us", "qsd null randread QD1 p99 us", peer),
                new Comparison("4 KiB randwrite QD1 p99 latency", "ringway null randwrite QD1 p99 us", "qsd null randwrite QD1 p99 us",
                        peer),
                new Comparison("RAM 4 KiB randread QD32 IOPS", "ringway ram randread QD32 IOPS", "qsd ram-file randread QD32 IOPS",
                        ramPeer),
                new Comparison("RAM 4 KiB randwrite QD32 IOPS", "ringway ram randwrite QD32 IOPS", "qsd ram-file randwrite QD32 IOPS",
                        ramPeer),
                new Comparison("RAM 4 KiB randread QD1 p99 latency", "ringway ram randread QD1 p99 us", "qsd ram-file randread QD1 p99 us",
                        ramPeer),
                new Comparison("RAM 4 KiB randwrite QD1 p99 latency", "ringway ram randwrite QD1 p99 us",
                        "qsd ram-file randwrite QD1 p99 us", ramPeer));
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
        Path qsd = vsQsd ? findQsd() : null;
        if (vsQsd && qsd == null) {
            System.out.println("  blk: " + QSD + " is not installed (" + QSD_INSTALL + "); running Ringway alone");
        }
        List<Backend> targets = qsd != null ? List.of(RINGWAY_NULL, QSD_NULL, RINGWAY_RAM, QSD_RAM_FILE)
                : List.of(RINGWAY_NULL, RINGWAY_RAM);
        double seconds = settings.durationSeconds();
        // 0.3 s (was 0.5 before the RAM pair doubled the loads): enough after the first repeat's JIT
        // warm-up, and keeps `ringway bench blk` (null and ram, 3 repeats of 1 s) near 35 s on a quiet machine.
        double warmup = Math.min(0.3, seconds / 2);
        Map<String, List<Double>> samples = new LinkedHashMap<>();
        Map<String, String> units = new LinkedHashMap<>();
        for (Backend t : targets) {
            for (Load l : LOADS) {
                samples.put(l.key(t) + " IOPS", new ArrayList<>());
                units.put(l.key(t) + " IOPS", "IOPS");
                for (String p : l.percentiles() ? List.of("p50", "p99", "p99.9") : List.of("p99")) {
                    samples.put(l.key(t) + " " + p + " us", new ArrayList<>());
                    units.put(l.key(t) + " " + p + " us", "us");
                }
            }
        }
        Map<Backend, Histogram> qd1Reads = new LinkedHashMap<>();
        targets.forEach(t -> qd1Reads.put(t, new Histogram(1, 60_000_000_000L, 3)));
        Path dir = Files.createTempDirectory("ringway-bench-blk");
        BlockDevice ram = null;
        Path ramFile = null;
        try {
            long t0 = System.nanoTime();
            ram = openRam();
            if (qsd != null) {
                ramFile = createRamFile(true);
            }
            System.out.printf(Locale.ROOT, "  blk: RAM store%s of 1 GiB populated in %.1f s%n", qsd != null ? "s (malloc, /dev/shm file)" : "",
                    (System.nanoTime() - t0) / 1e9);
            for (int r = 0; r < settings.repeat(); r++) {
                if (!settings.quiet() || r == 0) {
                    System.out.printf(Locale.ROOT, "  blk: repeat %d/%d: %s, %d loads of %.1f s (+%.2f s warm-up) each%s%n", r + 1,
                            settings.repeat(), String.join(" then ", targets.stream().map(Backend::prefix).toList()), LOADS.size(), seconds, warmup,
                            r == 0 ? ", after an unrecorded JIT warm-up" : "");
                }
                for (Backend t : targets) {
                    Path socket = dir.resolve(t.prefix().replace(' ', '-') + ".sock");
                    Files.deleteIfExists(socket);
                    try (Target target = t.qsd() ? startQsd(qsd, t == QSD_RAM_FILE ? ramFile : null, socket, pin, dir)
                            : startRingway(t == RINGWAY_RAM ? ram : null, socket, pin)) {
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
            if (ram != null) {
                ram.close();
            }
            if (ramFile != null) {
                try {
                    Files.deleteIfExists(ramFile);
                } catch (IOException e) {
                    System.out.println("  blk: could not delete " + ramFile + ": " + e);
                }
            }
        }
        Map<String, Measurement> measurements = new LinkedHashMap<>();
        samples.forEach((k, v) -> measurements.put(k, new Measurement(k, units.get(k), v.stream().mapToDouble(Double::doubleValue).toArray())));
        List<LatencySeries> latencies = new ArrayList<>();
        latencies.add(LatencySeries.of("Ringway, 4 KiB randread QD1", true, qd1Reads.get(RINGWAY_NULL)));
        if (qd1Reads.containsKey(QSD_NULL)) {
            latencies.add(LatencySeries.of("qemu-storage-daemon, 4 KiB randread QD1", false, qd1Reads.get(QSD_NULL)));
        }
        latencies.add(LatencySeries.of("Ringway RAM (malloc), 4 KiB randread QD1", true, qd1Reads.get(RINGWAY_RAM)));
        if (qd1Reads.containsKey(QSD_RAM_FILE)) {
            latencies.add(LatencySeries.of("qemu-storage-daemon RAM (raw file in /dev/shm), 4 KiB randread QD1", false,
                    qd1Reads.get(QSD_RAM_FILE)));
        }
        return new ScenarioResult(measurements, latencies);
    }

    private static void record(Map<String, List<Double>> samples, Load l, Backend t, BlkLoadGenerator.Result res) {
        String k = l.key(t);
        samples.get(k + " IOPS").add(res.iops());
        for (String p : l.percentiles() ? List.of("p50", "p99", "p99.9") : List.of("p99")) {
            double pct = Double.parseDouble(p.substring(1));
            samples.get(k + " " + p + " us").add(res.latency().getValueAtPercentile(pct) / 1e3);
        }
    }

    static final String NULL_SPEC = "null:" + NULL_BYTES;
    static final String RAM_SPEC = "malloc:" + RAM_BYTES;

    /** Ringway's RAM bdev ({@code malloc:1G}): populated at creation, so no load pays a first-touch fault. */
    static BlockDevice openRam() {
        return BlockDeviceSpec.open(RAM_SPEC, 512, false, null);
    }

    /**
     * Ringway in this JVM: a virtio-blk device on {@code ram} (left open at close) or, if null, on a
     * fresh null bdev (closed at close); busy-polling lcore on CPU 0, listening on {@code socket}.
     */
    static Target startRingway(BlockDevice ram, Path socket, boolean pin) {
        boolean own = ram == null;
        BlockDevice bdev = own ? BlockDeviceSpec.open(NULL_SPEC, 512, false, null) : ram;
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
                if (own) {
                    bdev.close();
                }
            };
        } catch (RuntimeException e) {
            if (lcore != null) {
                lcore.close();
            }
            if (blk != null) {
                blk.close();
            }
            if (own) {
                bdev.close();
            }
            throw e;
        }
    }

    /**
     * The command that exports a 1 GiB null-co node ({@code rawFile} null) or a raw node on
     * {@code rawFile} (through the page cache) as vhost-user-blk on {@code socket}, on CPU 0 if {@code pin}.
     */
    static List<String> qsdCommand(Path qsd, Path socket, boolean pin, Path rawFile) {
        List<String> cmd = new ArrayList<>();
        Path taskset = Path.of("/usr/bin/taskset");
        if (pin && Files.isExecutable(taskset)) {
            cmd.addAll(List.of(taskset.toString(), "-c", Integer.toString(BACKEND_CPU)));
        }
        cmd.add(qsd.toString());
        if (rawFile == null) {
            cmd.addAll(List.of("--blockdev", "driver=null-co,node-name=n0,size=" + NULL_BYTES));
        } else {
            cmd.addAll(List.of("--blockdev", "driver=file,node-name=f0,filename=" + rawFile + ",cache.direct=off",
                    "--blockdev", "driver=raw,node-name=n0,file=f0"));
        }
        cmd.addAll(List.of("--export", "type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=" + socket + ",writable=on"));
        return cmd;
    }

    /**
     * A fresh 1 GiB file in /dev/shm for QSD's ram-file node, written full of zeroes if {@code fill}
     * (else sparse); the caller deletes it.
     */
    static Path createRamFile(boolean fill) throws IOException {
        Path f = Files.createTempFile(Path.of("/dev/shm"), "ringway-qsd-", ".raw");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            if (fill) {
                ByteBuffer zeroes = ByteBuffer.allocateDirect(1 << 20);
                for (long pos = 0; pos < RAM_BYTES;) {
                    zeroes.clear();
                    pos += ch.write(zeroes, pos);
                }
            } else {
                ch.truncate(0);
                ch.write(ByteBuffer.allocate(1), RAM_BYTES - 1);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(f);
            throw e;
        }
        return f;
    }

    /** qemu-storage-daemon exporting {@code rawFile} (left in place at close) or, if null, a null-co node. */
    static Target startQsd(Path qsd, Path rawFile, Path socket, boolean pin, Path dir) throws IOException, InterruptedException {
        Path log = dir.resolve("qsd.log");
        Process p = new ProcessBuilder(qsdCommand(qsd, socket, pin, rawFile)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
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

    /** Deletes {@code dir} and the files in it; a temp directory left behind is harmless. */
    static void deleteQuietly(Path dir) {
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

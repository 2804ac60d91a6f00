package io.ringway.vcpu.workload;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.runtime.sys.Cpu;
import io.ringway.vcpu.bench.KvmFlavour;
import io.ringway.vcpu.exit.BusDevice;
import io.ringway.vcpu.exit.ExitStats;
import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.exit.VcpuRunner;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.Vcpu;
import io.ringway.vcpu.virtio.ExternalRings;
import io.ringway.vcpu.virtio.VirtioMmioTransport;
import io.ringway.vhost.virtio.VirtioDevice;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Runs a driver-loop micro-guest ({@link DriverProgram}) against one in-process
 * {@link VirtioDevice} behind the {@link VirtioMmioTransport}: guest memory, the in-kernel
 * irqchip, the device's own lcore, the kick ioeventfd and the completion irqfd, one vCPU at CPL 3.
 *
 * <p>The host watches the run: it sets the guest's stop flag when the duration is over, or when no
 * request completed for {@link Options#stallMillis()} (a device that stopped answering), and stops
 * the vCPU if the guest does not report within a second after that. A run never hangs.
 */
public final class DriverLoop {
    /** The GSI of the device's irqfd: an IOAPIC-only line, above the PIC's 16. */
    public static final int GSI = 16;
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final long MAX_LATENCY_ENTRIES = 1L << 20;

    /**
     * @param requests    requests to run (0 with a duration)
     * @param durationMillis run this long instead (when requests is 0)
     * @param memoryBytes guest memory (at least 6 MiB: the latency array starts at 4 MiB)
     * @param dataBytes   payload bytes per request
     * @param verify      compare data in the guest (blk: needs a bdev that keeps data: malloc, file)
     * @param idle        the device lcore's idle policy
     * @param lcoreCpu    CPU to pin the device lcore to, -1 for none
     * @param vcpuCpu     CPU to pin the vCPU thread to, -1 for none
     * @param stallMillis give up after this long without a completion
     * @param hugepages   back guest memory with 2 MiB huge pages (falls back with a warning when none are free)
     * @param interrupts  whether the driver wants used buffer notifications (irqfd) although it polls;
     *                    false sets VRING_AVAIL_F_NO_INTERRUPT, so completions cost no eventfd write
     */
    public record Options(long requests, long durationMillis, long memoryBytes, int dataBytes, boolean verify,
                          IdlePolicy idle, int lcoreCpu, int vcpuCpu, long stallMillis, boolean hugepages, boolean interrupts) {
        public Options {
            if (requests < 0 || durationMillis < 0 || (requests == 0) == (durationMillis == 0)) {
                throw new IllegalArgumentException("give either a request count or a duration, got requests=" + requests
                    + " duration=" + durationMillis + " ms");
            }
            if (memoryBytes < DriverProgram.LATENCIES + (2L << 20)) {
                throw new IllegalArgumentException("a driver-loop guest needs at least " + ((DriverProgram.LATENCIES >> 20) + 2)
                    + " MiB of memory, got " + memoryBytes + " bytes");
            }
        }

        /** {@code requests} requests of {@code dataBytes} with data checks, adaptive idle, 16 MiB. */
        public static Options requests(long requests, int dataBytes) {
            return new Options(requests, 0, 16L << 20, dataBytes, true, IdlePolicy.adaptive(), -1, -1, 5_000, false, true);
        }
    }

    /**
     * What a run did.
     *
     * @param program        the program that ran
     * @param completed      requests completed
     * @param kicks          QueueNotify writes by the guest
     * @param mmioExits      MMIO exits to userspace (the negotiation's, if all went right)
     * @param notifyExits    QueueNotify writes that reached userspace (0 with the ioeventfd)
     * @param interrupts     irqfd signals by the transport
     * @param guestNanos     per-request latency from the guest's rdtsc, in ns (the last 2^20 requests at most)
     * @param guestSeconds   the loop's duration from the guest's TSC
     * @param hostSeconds    wall time of the vCPU run as the host saw it (includes set-up exits)
     * @param tscKhz         the guest TSC frequency KVM reported (-1: unknown, 1 GHz assumed)
     * @param flavour        which KVM ran it
     * @param run            how the vCPU run ended
     * @param error          null, or what the guest (or the transport) reported
     * @param seed           the data pattern seed
     * @param sectorMask     blk: pair j used block (j &amp; sectorMask)
     * @param lcoreSleeps    times the device lcore slept in epoll waiting for a kick (adaptive idle), -1 for an external device
     */
    public record Result(DriverProgram program, long completed, long kicks, long mmioExits, long notifyExits,
                         long interrupts, Histogram guestNanos, double guestSeconds, double hostSeconds, long tscKhz,
                         KvmFlavour flavour, RunResult run, String error, long seed, long sectorMask, long lcoreSleeps) {
        /** Requests per second over the guest's loop. */
        public double requestsPerSecond() {
            return guestSeconds > 0 ? completed / guestSeconds : 0;
        }

        /** MMIO register accesses of the program's negotiation. */
        public int negotiationMmioAccesses() {
            return program.negotiationMmioAccesses();
        }
    }

    private DriverLoop() {
    }

    /**
     * Runs {@code program} against {@code device} (neither closed here).
     *
     * @param sectorMask written to the guest's parameters (blk: blocks used - 1; else 0)
     */
    public static Result run(Kvm kvm, VirtioDevice device, DriverProgram program, Options o, long sectorMask) {
        requireCapabilities(kvm);
        long latencyEntries = Math.min(MAX_LATENCY_ENTRIES, Long.highestOneBit((o.memoryBytes() - DriverProgram.LATENCIES) / 8));
        long seed = 0x5157_4e47_0000_0000L ^ System.nanoTime() << 16;

        try (MicroGuest guest = MicroGuest.create(kvm, o.memoryBytes(), SharedRegion.Options.defaults().hugepages(o.hugepages()))) {
            guest.vm().createIrqchip();
            MemorySegment mem = guest.memory();
            guest.load(MicroGuest.CODE, program.code());
            long r = DriverProgram.RESULTS;
            mem.set(JAVA_LONG, r + GuestResults.REQUESTS, o.requests());
            mem.set(JAVA_LONG, r + GuestResults.SECTOR_MASK, sectorMask);
            mem.set(JAVA_LONG, r + GuestResults.SEED, seed);
            mem.set(JAVA_LONG, r + GuestResults.VERIFY, o.verify() ? 1 : 0);
            mem.set(JAVA_LONG, r + GuestResults.LATENCY_MASK, latencyEntries - 1);
            mem.set(JAVA_LONG, r + GuestResults.NO_INTERRUPTS, o.interrupts() ? 0 : 1);

            Lcore lcore = Lcore.builder("vm-" + program.name()).idlePolicy(o.idle()).cpu(o.lcoreCpu()).start();
            try {
                MmioBus mmio = new MmioBus();
                IoBus io = new IoBus();
                VirtioMmioTransport transport = new VirtioMmioTransport(program.name(), device, guest.vm(), MicroGuest.MMIO_BASE, GSI, lcore);
                try {
                    transport.attach(mmio);
                    Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE);
                    long tscKhz = vcpu.tscKhz();
                    // live in `ringway stats` while the run lasts: vcpu.0.exit.<reason>
                    ExitStats stats = new ExitStats(StatsRegistry.process(), 0);
                    VcpuRunner runner = new VcpuRunner(vcpu, io, mmio, stats);
                    io.register("done", DriverProgram.DONE_PORT, 1, BusDevice.onWrite(runner::finish));
                    long sleepsBefore = lcore.sleeps();
                    try {
                        long t0 = System.nanoTime();
                        CompletableFuture<RunResult> done = start(runner, "vcpu-0 " + program.name(), o.vcpuCpu());
                        RunResult run = watch(done, runner, mem, o, t0);
                        double hostSeconds = (System.nanoTime() - t0) / 1e9;
                        long sleeps = device instanceof ExternalRings ? -1 : lcore.sleeps() - sleepsBefore;
                        return result(mem, program, runner, transport, run, tscKhz, latencyEntries, hostSeconds, seed, sectorMask, sleeps);
                    } finally {
                        stats.close();
                    }
                } finally {
                    transport.close();
                }
            } finally {
                lcore.close();
            }
        }
    }

    /**
     * What a run on several vCPUs did: one {@link Result} per vCPU (its own completed count, kicks,
     * latencies, seed and block range; the transport's counts are the device's, shared by all).
     *
     * @param vcpus         per-vCPU results, vCPU 0 first
     * @param blocksPerVcpu vCPU k used blocks [k * blocksPerVcpu, k * blocksPerVcpu + sectorMask]
     * @param note          null, or how the threads share the CPUs when there are fewer CPUs than busy threads
     */
    public record SmpResult(List<Result> vcpus, long blocksPerVcpu, String note) {
        /** Requests completed by all vCPUs. */
        public long completed() {
            return vcpus.stream().mapToLong(Result::completed).sum();
        }

        /** All vCPUs' requests over the longest vCPU loop (the loops run at the same time). */
        public double requestsPerSecond() {
            double seconds = vcpus.stream().mapToDouble(Result::guestSeconds).max().orElse(0);
            return seconds > 0 ? completed() / seconds : 0;
        }

        /** null, or every vCPU's error prefixed with its index. */
        public String error() {
            StringBuilder b = new StringBuilder();
            for (int k = 0; k < vcpus.size(); k++) {
                if (vcpus.get(k).error() != null) {
                    b.append(b.isEmpty() ? "" : "; ").append("vCPU ").append(k).append(": ").append(vcpus.get(k).error());
                }
            }
            return b.isEmpty() ? null : b.toString();
        }
    }

    /**
     * Runs {@code programs} (program k on vCPU k, each on its own thread, each with its own results
     * area {@code k * VCPU_STRIDE} above vCPU 0's and its own latency array) against one
     * multi-queue {@code device} behind one transport whose poller on one lcore serves every queue.
     * vCPU k's block range starts at {@code k * blocksPerVcpu}; its seed differs from the others'
     * so that a write landing in another vCPU's range fails the host's check. With
     * {@code o.vcpuCpu() >= 0}, vCPU k is pinned to CPU (vcpuCpu + k) mod online CPUs.
     */
    public static SmpResult runSmp(Kvm kvm, VirtioDevice device, List<DriverProgram> programs, Options o, long sectorMask,
                                   long blocksPerVcpu) {
        requireCapabilities(kvm);
        int n = programs.size();
        if (n < 1 || n > BlkDriverProgram.MAX_VCPUS) {
            throw new IllegalArgumentException("1 to " + BlkDriverProgram.MAX_VCPUS + " vCPUs, got " + n);
        }
        if (device.queueCount() < n) {
            throw new IllegalArgumentException("device " + device.getClass().getSimpleName() + " has " + device.queueCount()
                + " queue(s), fewer than the " + n + " vCPUs");
        }
        long latencyEntries = Math.min(MAX_LATENCY_ENTRIES, Long.highestOneBit((o.memoryBytes() - DriverProgram.LATENCIES) / 8 / n));
        long seed = 0x5157_4e47_0000_0000L ^ System.nanoTime() << 16;
        int cpus = Cpu.onlineCpus();
        int[] vcpuCpu = new int[n];
        long[] results = new long[n];
        for (int k = 0; k < n; k++) {
            vcpuCpu[k] = o.vcpuCpu() < 0 ? -1 : (o.vcpuCpu() + k) % cpus;
            results[k] = DriverProgram.RESULTS + BlkDriverProgram.offset(k);
        }
        String note = sharingNote(vcpuCpu, o.lcoreCpu(), cpus, o.idle());

        try (MicroGuest guest = MicroGuest.create(kvm, o.memoryBytes(), SharedRegion.Options.defaults().hugepages(o.hugepages()))) {
            guest.vm().createIrqchip();
            MemorySegment mem = guest.memory();
            for (int k = 0; k < n; k++) {
                guest.load(BlkDriverProgram.codeAddress(k), programs.get(k).code());
                long r = results[k];
                mem.set(JAVA_LONG, r + GuestResults.REQUESTS, o.requests());
                mem.set(JAVA_LONG, r + GuestResults.SECTOR_MASK, sectorMask);
                mem.set(JAVA_LONG, r + GuestResults.SEED, seed ^ ((long) k << 48));
                mem.set(JAVA_LONG, r + GuestResults.VERIFY, o.verify() ? 1 : 0);
                mem.set(JAVA_LONG, r + GuestResults.LATENCY_MASK, latencyEntries - 1);
                mem.set(JAVA_LONG, r + GuestResults.NO_INTERRUPTS, o.interrupts() ? 0 : 1);
                mem.set(JAVA_LONG, r + GuestResults.BLOCK_OFFSET, k * blocksPerVcpu);
                mem.set(JAVA_LONG, r + GuestResults.LATENCY_BASE, DriverProgram.LATENCIES + k * latencyEntries * 8);
            }
            String name = programs.get(0).name();
            Lcore lcore = Lcore.builder("vm-" + name).idlePolicy(o.idle()).cpu(o.lcoreCpu()).start();
            try {
                MmioBus mmio = new MmioBus();
                VirtioMmioTransport transport = new VirtioMmioTransport(name, device, guest.vm(), MicroGuest.MMIO_BASE, GSI, lcore);
                List<ExitStats> stats = new ArrayList<>();
                try {
                    transport.attach(mmio);
                    List<VcpuRunner> runners = new ArrayList<>();
                    long tscKhz = -1;
                    for (int k = 0; k < n; k++) {
                        Vcpu vcpu = guest.createVcpu(k, BlkDriverProgram.codeAddress(k));
                        if (k > 0) {
                            // with the in-kernel irqchip, vCPUs other than 0 start as APs waiting for INIT/SIPI
                            vcpu.setMpState(KvmApi.KVM_MP_STATE_RUNNABLE);
                        }
                        tscKhz = k == 0 ? vcpu.tscKhz() : tscKhz;
                        stats.add(new ExitStats(StatsRegistry.process(), k));
                        IoBus io = new IoBus(); // each vCPU's done port ends its own run
                        VcpuRunner runner = new VcpuRunner(vcpu, io, mmio, stats.get(k));
                        io.register("done", DriverProgram.DONE_PORT, 1, BusDevice.onWrite(runner::finish));
                        runners.add(runner);
                    }
                    long sleepsBefore = lcore.sleeps();
                    long t0 = System.nanoTime();
                    List<CompletableFuture<RunResult>> done = new ArrayList<>();
                    for (int k = 0; k < n; k++) {
                        done.add(start(runners.get(k), "vcpu-" + k + " " + name, vcpuCpu[k]));
                    }
                    List<RunResult> runs = watchAll(done, runners, mem, results, o, t0);
                    double hostSeconds = (System.nanoTime() - t0) / 1e9;
                    long sleeps = device instanceof ExternalRings ? -1 : lcore.sleeps() - sleepsBefore;
                    List<Result> out = new ArrayList<>();
                    for (int k = 0; k < n; k++) {
                        out.add(result(mem, results[k], DriverProgram.LATENCIES + k * latencyEntries * 8, programs.get(k), runners.get(k),
                            transport, runs.get(k), tscKhz, latencyEntries, hostSeconds, seed ^ ((long) k << 48), sectorMask, sleeps));
                    }
                    return new SmpResult(List.copyOf(out), blocksPerVcpu, note);
                } finally {
                    stats.forEach(ExitStats::close);
                    transport.close();
                }
            } finally {
                lcore.close();
            }
        }
    }

    /**
     * Says which busy threads share a CPU (every vCPU spins: the guest polls its used ring), or
     * null when each has its own. The device lcore with adaptive idle sleeps when no kick comes.
     */
    static String sharingNote(int[] vcpuCpu, int lcoreCpu, int cpus, IdlePolicy idle) {
        int n = vcpuCpu.length;
        if (n + 1 <= cpus && lcoreCpu >= 0) {
            boolean clash = false;
            for (int c : vcpuCpu) {
                clash |= c == lcoreCpu;
            }
            for (int i = 0; i < n && !clash; i++) {
                for (int j = i + 1; j < n; j++) {
                    clash |= vcpuCpu[i] >= 0 && vcpuCpu[i] == vcpuCpu[j];
                }
            }
            if (!clash) {
                return null;
            }
        }
        StringBuilder b = new StringBuilder();
        b.append(n).append(" spinning vCPU thread(s) and the device lcore (idle ").append(idle.getClass().getSimpleName()).append(") on ").append(cpus).append(" CPU(s):");
        for (int k = 0; k < n; k++) {
            b.append(" vCPU ").append(k).append(vcpuCpu[k] < 0 ? " unpinned," : " on CPU " + vcpuCpu[k] + ",");
        }
        b.append(lcoreCpu < 0 ? " lcore unpinned" : " lcore on CPU " + lcoreCpu);
        b.append("; threads sharing a CPU take turns, so per-request latency includes scheduler time slices");
        return b.toString();
    }

    /** The irqchip, irqfd and zero-length ioeventfd a driver loop needs, each named when missing. */
    private static void requireCapabilities(Kvm kvm) {
        kvm.requireExtension(KvmApi.KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
        kvm.requireExtension(KvmApi.KVM_CAP_IRQFD, "KVM_CAP_IRQFD");
        kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD");
        kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD_NO_LENGTH, "KVM_CAP_IOEVENTFD_NO_LENGTH");
    }

    /** Runs the vCPU on a new platform thread, pinned to {@code cpu} unless it is -1. */
    private static CompletableFuture<RunResult> start(VcpuRunner runner, String name, int cpu) {
        if (cpu < 0) {
            return runner.start(name);
        }
        CompletableFuture<RunResult> done = new CompletableFuture<>();
        Thread.ofPlatform().name(name).daemon(true).start(() -> {
            try {
                Cpu.pinCurrentThread(cpu);
                done.complete(runner.run());
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        return done;
    }

    /**
     * Waits for the run: at the end of the duration the guest is asked to stop after the request in
     * flight; after {@code stallMillis} without a completion it is told to stop waiting; a second
     * after that the vCPU is stopped.
     */
    private static RunResult watch(CompletableFuture<RunResult> done, VcpuRunner runner, MemorySegment mem, Options o, long t0) {
        return watchAll(List.of(done), List.of(runner), mem, new long[] {DriverProgram.RESULTS}, o, t0).get(0);
    }

    /**
     * {@link #watch} for several vCPUs, each with its results area at {@code results[k]}: a vCPU
     * still running without a completion for {@code stallMillis} counts as a stall, and the stop
     * flags and stops go to all of them.
     */
    private static List<RunResult> watchAll(List<CompletableFuture<RunResult>> done, List<VcpuRunner> runners, MemorySegment mem,
                                            long[] results, Options o, long t0) {
        int n = results.length;
        long[] lastCompleted = new long[n];
        long[] lastProgress = new long[n];
        Arrays.fill(lastCompleted, -1);
        Arrays.fill(lastProgress, System.nanoTime());
        boolean stopAsked = false;
        long abortAskedAt = 0;
        while (true) {
            CompletableFuture<RunResult> running = null;
            for (CompletableFuture<RunResult> f : done) {
                if (!f.isDone()) {
                    running = f;
                    break;
                }
            }
            try {
                if (running == null) {
                    List<RunResult> runs = new ArrayList<>(done.size());
                    for (CompletableFuture<RunResult> f : done) {
                        runs.add(f.get());
                    }
                    return runs;
                }
                running.get(20, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                // still running
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                runners.forEach(VcpuRunner::stop);
                return done.stream().map(CompletableFuture::join).toList();
            } catch (java.util.concurrent.ExecutionException e) {
                runners.forEach(VcpuRunner::stop); // the others must not run on in a VM about to close
                for (CompletableFuture<RunResult> f : done) {
                    try {
                        f.get(5, TimeUnit.SECONDS);
                    } catch (Exception ignored) {
                        // reported below: the first failure
                    }
                }
                throw new IllegalStateException("the vCPU thread failed: " + e.getCause(), e.getCause());
            }
            long now = System.nanoTime();
            boolean stalled = false;
            for (int k = 0; k < n; k++) {
                long completed = (long) LONG.getVolatile(mem, results[k] + GuestResults.COMPLETED);
                if (completed != lastCompleted[k]) {
                    lastCompleted[k] = completed;
                    lastProgress[k] = now;
                }
                stalled |= !done.get(k).isDone() && now - lastProgress[k] >= TimeUnit.MILLISECONDS.toNanos(o.stallMillis());
            }
            if (!stopAsked && o.durationMillis() > 0 && now - t0 >= TimeUnit.MILLISECONDS.toNanos(o.durationMillis())) {
                for (long r : results) {
                    LONG.setVolatile(mem, r + GuestResults.STOP, GuestResults.STOP_AFTER_REQUEST);
                }
                stopAsked = true;
            }
            if (abortAskedAt == 0 && stalled) {
                for (long r : results) {
                    LONG.setVolatile(mem, r + GuestResults.STOP, (long) GuestResults.STOP_NOW);
                }
                abortAskedAt = now;
            } else if (abortAskedAt != 0 && now - abortAskedAt >= TimeUnit.SECONDS.toNanos(1)) {
                runners.forEach(VcpuRunner::stop);
                List<RunResult> runs = new ArrayList<>(done.size());
                for (CompletableFuture<RunResult> f : done) {
                    try {
                        runs.add(f.get(5, TimeUnit.SECONDS));
                    } catch (Exception e) {
                        throw new IllegalStateException("a vCPU did not stop within 5 s", e);
                    }
                }
                return runs;
            }
        }
    }

    private static Result result(MemorySegment mem, DriverProgram program, VcpuRunner runner, VirtioMmioTransport transport,
                                 RunResult run, long tscKhz, long latencyEntries, double hostSeconds, long seed, long sectorMask,
                                 long lcoreSleeps) {
        return result(mem, DriverProgram.RESULTS, DriverProgram.LATENCIES, program, runner, transport, run, tscKhz, latencyEntries,
            hostSeconds, seed, sectorMask, lcoreSleeps);
    }

    private static Result result(MemorySegment mem, long r, long latencies, DriverProgram program, VcpuRunner runner,
                                 VirtioMmioTransport transport, RunResult run, long tscKhz, long latencyEntries, double hostSeconds,
                                 long seed, long sectorMask, long lcoreSleeps) {
        long completed = mem.get(JAVA_LONG, r + GuestResults.COMPLETED);
        long kicks = mem.get(JAVA_LONG, r + GuestResults.KICKS);
        long error = mem.get(JAVA_LONG, r + GuestResults.ERROR);
        long tscSpan = mem.get(JAVA_LONG, r + GuestResults.TSC_END) - mem.get(JAVA_LONG, r + GuestResults.TSC_START);
        double khz = tscKhz > 0 ? tscKhz : 1_000_000;
        Histogram h = new Histogram(1, 60_000_000_000L, 3);
        long n = Math.min(completed, latencyEntries);
        for (long i = 0; i < n; i++) {
            long cycles = mem.get(JAVA_LONG, latencies + 8 * i);
            h.recordValue(Math.max(1, Math.min(60_000_000_000L, (long) (cycles * 1e6 / khz))));
        }
        String why = null;
        if (run.outcome() != RunResult.Outcome.FINISHED) {
            why = "the vCPU run ended " + run.outcome() + ": " + run.report();
        } else if (error != 0) {
            why = "guest error " + error + " after " + completed + " requests: " + program.describeError(error)
                + " (value 0x" + Long.toHexString(mem.get(JAVA_LONG, r + GuestResults.DETAIL))
                + ", expected 0x" + Long.toHexString(mem.get(JAVA_LONG, r + GuestResults.DETAIL2)) + ")";
        }
        if (transport.failure() != null) {
            why = (why == null ? "" : why + "; ") + "device: " + transport.failure();
        }
        return new Result(program, completed, kicks, runner.stats().count(KvmApi.KVM_EXIT_MMIO), transport.notifyExits(),
            transport.interrupts(), h, tscSpan * 1e-3 / khz, hostSeconds, tscKhz, KvmFlavour.detect(), run, why, seed, sectorMask, lcoreSleeps);
    }
}

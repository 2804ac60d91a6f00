package io.ringway.vcpu.bench;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.HdrHistogram.Histogram;

import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.runtime.sys.Cpu;
import io.ringway.runtime.sys.Epoll;
import io.ringway.runtime.sys.EventFd;
import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.exit.BusDevice;
import io.ringway.vcpu.exit.ExitStats;
import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.KvmStatsPublisher;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.exit.VcpuRunner;
import io.ringway.vcpu.guest.InterruptGuest;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmStats;
import io.ringway.vcpu.kvm.Vcpu;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The exit-cost suite behind {@code ringway vm exits}: a CPL-3 micro-guest does one operation
 * {@code iterations} times, and each operation is timed twice:
 * <ul>
 *   <li>by the guest, with rdtsc before and after (samples in guest memory, converted with the
 *       TSC frequency KVM reports) — this includes the exit and the host's handling;</li>
 *   <li>by the host: for operations that exit to userspace, the time between successive returns of
 *       KVM_RUN (the round trip as the run loop sees it); for all, wall time / iterations.</li>
 * </ul>
 */
public final class ExitCostSuite {
    /** The operations measured. */
    public enum Kind {
        /** {@code out 0x80, al}: exit to userspace and back. */
        PIO_EXIT("pio-exit"),
        /** A 4-byte write to an address outside memory: MMIO exit to userspace and back. */
        MMIO_EXIT("mmio-exit"),
        /** The same write to an address registered as a zero-length ioeventfd: no userspace exit. */
        MMIO_DOORBELL("mmio-ioeventfd"),
        /** {@code cpuid} leaf 0: handled inside KVM. */
        CPUID("cpuid"),
        /**
         * Interrupt round trip: the guest (CPL 3, spinning) rings an ioeventfd doorbell, the host's
         * data-plane thread sees the kick and signals an irqfd (GSI routed as an MSI), the guest's
         * CPL-0 handler counts it and writes the APIC EOI, the host sees the count. Host figure:
         * irqfd write to count seen; guest figure: doorbell to handler done.
         */
        IRQ_ROUND_TRIP("irqfd-interrupt"),
        /**
         * HLT wake-up by irqfd: as {@link #IRQ_ROUND_TRIP}, but the guest halts ({@code sti; hlt}, at
         * CPL 0: hlt is #GP at CPL 3 on PVM) and the host signals once KVM's {@code blocking}
         * statistic says the vCPU sleeps (or after 1 ms, where the kernel has no such statistic).
         */
        HLT_WAKEUP("irqfd-hlt-wakeup"),
        /**
         * ioeventfd doorbell seen by a data-plane thread that busy-polls the eventfd (non-blocking
         * reads): the guest (CPL 3) rings the doorbell and spins until the host writes an ACK word
         * in guest memory. Guest figure: doorbell to ACK seen (rdtsc); host figure: doorbell seen
         * (the read that returned the kick) to ACK written.
         */
        DOORBELL_SEEN_POLLING("doorbell-seen-polling"),
        /**
         * As {@link #DOORBELL_SEEN_POLLING}, but the data-plane thread sleeps in epoll_wait on the
         * eventfd: the guest figure includes the thread's wake-up. Host figure: epoll_wait returned
         * to ACK written (the eventfd read included).
         */
        DOORBELL_SEEN_SLEEPING("doorbell-seen-sleeping");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }

        /** Whether the operation is an interrupt into the guest (an irqchip and irqfd are needed). */
        public boolean interrupts() {
            return this == IRQ_ROUND_TRIP || this == HLT_WAKEUP;
        }

        /** Whether a host data-plane thread answers each doorbell (the guest's figure is the round trip). */
        public boolean doorbellSeen() {
            return this == DOORBELL_SEEN_POLLING || this == DOORBELL_SEEN_SLEEPING;
        }
    }

    /**
     * One measured operation.
     *
     * @param hostExitNanos  per-exit round trip from the run loop, or null when the operation does not exit;
     *                       for the interrupt kinds, the host's irqfd write to the guest's acknowledgement;
     *                       for the doorbell-seen kinds, kick seen to ACK written
     * @param guestNanos     per-operation time from the guest's rdtsc, in ns
     * @param wallNanosPerOp host wall time of the whole run / iterations
     * @param userspaceExits exits of the operation's kind that reached userspace
     * @param eventfdCount   for the doorbell: the eventfd counter after the run (must equal iterations);
     *                       for the doorbell-seen kinds: kicks the data-plane thread read;
     *                       for the interrupt kinds: interrupts the guest handler acknowledged
     * @param kvmStats       how much KVM's own vCPU statistics moved during the run ({@code exits},
     *                       {@code halt_exits}, {@code irq_injections} ...); empty without KVM_CAP_BINARY_STATS_FD
     */
    public record Result(Kind kind, int iterations, Histogram hostExitNanos, Histogram guestNanos,
                         double wallNanosPerOp, long userspaceExits, long eventfdCount, long tscKhz,
                         Map<String, Long> kvmStats) {
        /** A result without KVM statistics. */
        public Result(Kind kind, int iterations, Histogram hostExitNanos, Histogram guestNanos,
                      double wallNanosPerOp, long userspaceExits, long eventfdCount, long tscKhz) {
            this(kind, iterations, hostExitNanos, guestNanos, wallNanosPerOp, userspaceExits, eventfdCount, tscKhz, Map.of());
        }

        /** Operations per second from the wall time. */
        public double opsPerSecond() {
            return 1e9 / wallNanosPerOp;
        }

        /**
         * The histogram the table shows: the host's where the operation exits or is an interrupt, else
         * the guest's (for the doorbell-seen kinds the guest's round trip is the figure; the host's
         * part of it is in {@link #hostExitNanos}).
         */
        public Histogram primary() {
            return hostExitNanos != null && !kind.doorbellSeen() ? hostExitNanos : guestNanos;
        }
    }

    private static final int BENCH_PORT = 0x80;
    private static final int DONE_PORT = 0x10;
    private static final long EXIT_ADDRESS = MicroGuest.MMIO_BASE;
    private static final long DOORBELL_ADDRESS = MicroGuest.MMIO_BASE + 0x1000;
    private static final long SAMPLES = 2L << 20;
    /** How long an interrupt kind may take in all before the suite gives up on the guest. */
    private static final long INTERRUPT_DEADLINE_NANOS = 120_000_000_000L;
    /** The KVM vCPU statistics whose change each result reports. */
    /** The ACK word the doorbell-seen kinds' host thread writes ({@link InterruptGuest#ACK}, a u64 the guest spins on). */
    private static final VarHandle ACK_WORD = JAVA_LONG.varHandle();
    private static final List<String> KVM_STATS = List.of("exits", "io_exits", "mmio_exits", "halt_exits", "halt_wakeup",
        "irq_exits", "irq_injections", "insn_emulation", "signal_exits");

    private ExitCostSuite() {
    }

    /** Runs {@code kind} {@code iterations} times in a fresh micro-guest. */
    public static Result run(Kvm kvm, Kind kind, int iterations) {
        return run(kvm, kind, iterations, null);
    }

    /**
     * As {@link #run(Kvm, Kind, int)}, with live counters in {@code registry} (when not null) while
     * it runs: the run loop's {@code vcpu.0.exit.*} and KVM's own {@code vcpu.0.kvm.*}
     * ({@link KvmStatsPublisher#VCPU_DEFAULTS}, every 100 ms), for {@code ringway stats}.
     */
    public static Result run(Kvm kvm, Kind kind, int iterations, StatsRegistry registry) {
        return run(kvm, kind, iterations, registry, 0);
    }

    /**
     * As {@link #run(Kvm, Kind, int, StatsRegistry)} in a VM with the exits {@code disableExits}
     * ({@link KvmApi}{@code .KVM_X86_DISABLE_EXITS_*}) turned off by KVM_CAP_X86_DISABLE_EXITS;
     * a one-line {@link io.ringway.vcpu.kvm.KvmUnavailableException} where the kernel does not offer them.
     */
    public static Result run(Kvm kvm, Kind kind, int iterations, StatsRegistry registry, int disableExits) {
        if (iterations < 1 || iterations > 16_000_000) {
            throw new IllegalArgumentException("iterations must be 1..16000000, got " + iterations);
        }
        if (kind.interrupts()) {
            return runInterrupt(kvm, kind, iterations, registry, disableExits);
        }
        if (kind.doorbellSeen()) {
            return runDoorbellSeen(kvm, kind, iterations, registry, disableExits);
        }
        try (MicroGuest guest = MicroGuest.create(kvm, SAMPLES + 4L * iterations);
             EventFd doorbell = EventFd.create(true)) {
            if (disableExits != 0) {
                guest.vm().disableExits(disableExits);
            }
            if (kind == Kind.MMIO_DOORBELL) {
                guest.vm().addIoeventfd(doorbell, DOORBELL_ADDRESS, 0, false, null);
            }
            guest.load(MicroGuest.CODE, program(kind, iterations));
            VcpuRunner[] runner = new VcpuRunner[1];
            IoBus io = new IoBus();
            MmioBus mmio = new MmioBus();
            BusDevice sink = new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return 0;
                }

                @Override
                public void write(long offset, int size, long value) {
                    // the exit is what is measured
                }
            };
            io.register("bench", BENCH_PORT, 1, sink);
            mmio.register("bench", EXIT_ADDRESS, 0x1000, sink);
            io.register("done", DONE_PORT, 1, new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return 0;
                }

                @Override
                public void write(long offset, int size, long value) {
                    runner[0].finish();
                }
            });
            Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE);
            ExitStats stats = registry == null ? new ExitStats() : new ExitStats(registry, 0);
            runner[0] = new VcpuRunner(vcpu, io, mmio, stats);

            KvmStatsDelta kvmStats = KvmStatsDelta.start(vcpu, registry);
            long t0 = System.nanoTime();
            RunResult result;
            try {
                result = runner[0].run();
            } finally {
                kvmStats.finish();
                stats.close();
            }
            long wall = System.nanoTime() - t0;
            Map<String, Long> kvmMoved = kvmStats.moved();
            if (result.outcome() != RunResult.Outcome.FINISHED) {
                throw new IllegalStateException(kind.label() + " micro-guest did not finish: " + result.report());
            }
            long tscKhz = vcpu.tscKhz();
            Histogram guestNanos = guestSamples(guest.memory(), iterations, tscKhz, wall);
            int exitReason = switch (kind) {
                case PIO_EXIT -> KvmApi.KVM_EXIT_IO;
                case MMIO_EXIT, MMIO_DOORBELL -> KvmApi.KVM_EXIT_MMIO;
                case CPUID, IRQ_ROUND_TRIP, HLT_WAKEUP, DOORBELL_SEEN_POLLING, DOORBELL_SEEN_SLEEPING -> -1;
            };
            long exits = exitReason < 0 ? 0 : stats.count(exitReason) - (exitReason == KvmApi.KVM_EXIT_IO ? 1 : 0);
            Histogram host = null;
            if (kind == Kind.PIO_EXIT || kind == Kind.MMIO_EXIT) {
                host = stats.histogram(exitReason).copy();
            }
            return new Result(kind, iterations, host, guestNanos, (double) wall / iterations, exits,
                kind == Kind.MMIO_DOORBELL ? doorbell.read() : 0, tscKhz, kvmMoved);
        }
    }

    /** The guest's rdtsc samples (u32 ticks at SAMPLES) as nanoseconds. */
    private static Histogram guestSamples(MemorySegment memory, int iterations, long tscKhz, long wallNanos) {
        long ticks = 0;
        for (int i = 0; i < iterations; i++) {
            ticks += Integer.toUnsignedLong(memory.get(JAVA_INT, SAMPLES + 4L * i));
        }
        double nanosPerTick = tscKhz > 0 ? 1e6 / tscKhz : (double) wallNanos / Math.max(1, ticks);
        Histogram guestNanos = new Histogram(1, ExitStats.MAX_NANOS, 2);
        for (int i = 0; i < iterations; i++) {
            long t = Integer.toUnsignedLong(memory.get(JAVA_INT, SAMPLES + 4L * i));
            guestNanos.recordValue(Math.max(1, Math.min(ExitStats.MAX_NANOS, Math.round(t * nanosPerTick))));
        }
        return guestNanos;
    }

    /**
     * The interrupt kinds: the vCPU runs on its own thread, the calling thread is the data-plane
     * thread (it waits for the guest's doorbell, signals the irqfd and waits for the handler's count).
     */
    private static Result runInterrupt(Kvm kvm, Kind kind, int iterations, StatsRegistry registry, int disableExits) {
        boolean halt = kind == Kind.HLT_WAKEUP;
        try (MicroGuest guest = MicroGuest.create(kvm, SAMPLES + 4L * iterations);
             EventFd irq = EventFd.create(true);
             EventFd doorbell = EventFd.create(true)) {
            if (disableExits != 0) {
                guest.vm().disableExits(disableExits);
            }
            InterruptGuest ig = InterruptGuest.install(guest, irq, 0);
            guest.vm().addIoeventfd(doorbell, DOORBELL_ADDRESS, 0, false, null);
            guest.load(MicroGuest.CODE, interruptProgram(iterations, halt));
            VcpuRunner[] runner = new VcpuRunner[1];
            IoBus io = new IoBus();
            io.register("done", DONE_PORT, 1, BusDevice.onWrite(() -> runner[0].finish()));
            Vcpu vcpu = ig.createVcpu(0, MicroGuest.CODE, halt ? 0 : 3);
            ExitStats stats = registry == null ? new ExitStats() : new ExitStats(registry, 0);
            runner[0] = new VcpuRunner(vcpu, io, new MmioBus(), stats);
            Histogram host = new Histogram(1, ExitStats.MAX_NANOS, 2);
            KvmStatsDelta kvmStats = KvmStatsDelta.start(vcpu, registry);
            KvmStats blockingStats = halt ? kvmStats.stats() : null;
            int blocking = blockingStats == null ? -1 : blockingStats.indexOf("blocking");

            long t0 = System.nanoTime();
            long deadline = t0 + INTERRUPT_DEADLINE_NANOS;
            CompletableFuture<RunResult> done = runner[0].start("vcpu-0-" + kind.label());
            try {
                for (int i = 1; i <= iterations; i++) {
                    while (doorbell.read() == 0) {
                        if (done.isDone() || System.nanoTime() > deadline) {
                            throw gaveUp(done, kind, "the doorbell of interrupt " + i);
                        }
                        Thread.onSpinWait();
                    }
                    if (halt) {
                        waitUntilBlocked(blockingStats, blocking);
                    }
                    long s = System.nanoTime();
                    irq.signal();
                    while (ig.acks() < i) {
                        // the guest may finish as soon as it saw the last ack: look at the count once more
                        if ((done.isDone() || System.nanoTime() > deadline) && ig.acks() < i) {
                            throw gaveUp(done, kind, "the acknowledgement of interrupt " + i);
                        }
                        Thread.onSpinWait();
                    }
                    host.recordValue(Math.max(1, Math.min(ExitStats.MAX_NANOS, System.nanoTime() - s)));
                }
                awaitFinished(done, kind);
            } finally {
                if (!done.isDone()) {
                    runner[0].stop();
                    done.exceptionally(t -> null).join();
                }
                kvmStats.finish();
                stats.close();
            }
            long wall = System.nanoTime() - t0;
            Map<String, Long> kvmMoved = kvmStats.moved();
            long tscKhz = vcpu.tscKhz();
            long exits = stats.count(KvmApi.KVM_EXIT_IO) - 1 + stats.count(KvmApi.KVM_EXIT_MMIO);
            return new Result(kind, iterations, host, guestSamples(guest.memory(), iterations, tscKhz, wall),
                (double) wall / iterations, exits, ig.acks(), tscKhz, kvmMoved);
        }
    }

    /**
     * The doorbell-seen kinds: the vCPU runs on its own thread; the calling thread is the data-plane
     * thread. It waits for each kick (busy-polling the eventfd, or asleep in epoll_wait on it), then
     * writes the kick's number to the ACK word the guest spins on ({@link #interruptProgram} without
     * halting: the guest's figure is doorbell to ACK). Where the calling thread may run on two CPUs,
     * the vCPU is pinned to the first and the calling thread to the second for the run.
     */
    private static Result runDoorbellSeen(Kvm kvm, Kind kind, int iterations, StatsRegistry registry, int disableExits) {
        boolean sleep = kind == Kind.DOORBELL_SEEN_SLEEPING;
        try (MicroGuest guest = MicroGuest.create(kvm, SAMPLES + 4L * iterations);
             EventFd doorbell = EventFd.create(true);
             Epoll epoll = sleep ? Epoll.create(1) : null) {
            if (disableExits != 0) {
                guest.vm().disableExits(disableExits);
            }
            guest.vm().addIoeventfd(doorbell, DOORBELL_ADDRESS, 0, false, null);
            if (epoll != null) {
                epoll.add(doorbell.fd(), Epoll.EPOLLIN, 0);
            }
            MemorySegment memory = guest.memory();
            ACK_WORD.setRelease(memory, InterruptGuest.ACK, 0L);
            guest.load(MicroGuest.CODE, interruptProgram(iterations, false));
            VcpuRunner[] runner = new VcpuRunner[1];
            IoBus io = new IoBus();
            io.register("done", DONE_PORT, 1, BusDevice.onWrite(() -> runner[0].finish()));
            Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE);
            ExitStats stats = registry == null ? new ExitStats() : new ExitStats(registry, 0);
            runner[0] = new VcpuRunner(vcpu, io, new MmioBus(), stats);
            Histogram host = new Histogram(1, ExitStats.MAX_NANOS, 2);
            KvmStatsDelta kvmStats = KvmStatsDelta.start(vcpu, registry);
            long kicks = 0;

            // The vCPU and the data-plane thread on two different CPUs where this thread may use two:
            // else a sleeping thread is woken on the vCPU's own CPU and waits for it (see vm run's pinning).
            BitSet affinity = Cpu.currentThreadAffinity();
            int vcpuCpu = affinity.cardinality() >= 2 ? affinity.nextSetBit(0) : -1;
            int planeCpu = vcpuCpu < 0 ? -1 : affinity.nextSetBit(vcpuCpu + 1);
            if (planeCpu >= 0) {
                Cpu.pinCurrentThread(planeCpu);
            }
            long t0 = System.nanoTime();
            long deadline = t0 + INTERRUPT_DEADLINE_NANOS;
            CompletableFuture<RunResult> done = runner[0].start("vcpu-0-" + kind.label(), vcpuCpu);
            try {
                for (int i = 1; i <= iterations; i++) {
                    long seen;
                    long n;
                    while (true) {
                        if (sleep) {
                            int ready = epoll.await(100);
                            seen = System.nanoTime();
                            n = ready > 0 ? doorbell.read() : 0;
                        } else {
                            n = doorbell.read();
                            seen = System.nanoTime();
                        }
                        if (n != 0) {
                            break;
                        }
                        if (done.isDone() || seen > deadline) {
                            throw gaveUp(done, kind, "the doorbell of kick " + i);
                        }
                        if (!sleep) {
                            Thread.onSpinWait();
                        }
                    }
                    kicks += n;
                    if (kicks != i) {
                        throw new IllegalStateException(kind.label() + ": " + kicks + " kicks seen by kick " + i
                            + " (the guest rings once and waits for the ACK)");
                    }
                    ACK_WORD.setRelease(memory, InterruptGuest.ACK, (long) i);
                    host.recordValue(Math.max(1, Math.min(ExitStats.MAX_NANOS, System.nanoTime() - seen)));
                }
                awaitFinished(done, kind);
            } finally {
                if (!done.isDone()) {
                    runner[0].stop();
                    done.exceptionally(t -> null).join();
                }
                if (planeCpu >= 0) {
                    Cpu.setCurrentThreadAffinity(affinity);
                }
                kvmStats.finish();
                stats.close();
            }
            long wall = System.nanoTime() - t0;
            long tscKhz = vcpu.tscKhz();
            long exits = stats.count(KvmApi.KVM_EXIT_IO) - 1 + stats.count(KvmApi.KVM_EXIT_MMIO);
            return new Result(kind, iterations, host, guestSamples(memory, iterations, tscKhz, wall),
                (double) wall / iterations, exits, kicks, tscKhz, kvmStats.moved());
        }
    }

    /** Waits (30 s at most) for the vCPU thread's run to end, which must be by the guest's done port. */
    private static void awaitFinished(CompletableFuture<RunResult> done, Kind kind) {
        try {
            RunResult result = done.get(30, TimeUnit.SECONDS);
            if (result.outcome() != RunResult.Outcome.FINISHED) {
                throw new IllegalStateException(kind.label() + " micro-guest did not finish: " + result.report());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(kind.label() + ": interrupted", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException(kind.label() + " micro-guest run failed: " + e, e);
        }
    }

    private static IllegalStateException gaveUp(CompletableFuture<RunResult> done, Kind kind, String waitingFor) {
        RunResult r = done.getNow(null);
        if (r != null) {
            return new IllegalStateException(kind.label() + ": the vCPU run ended while the data-plane thread waited for "
                + waitingFor + ": " + r.report());
        }
        return new IllegalStateException(kind.label() + ": no " + waitingFor + " within "
            + TimeUnit.NANOSECONDS.toSeconds(INTERRUPT_DEADLINE_NANOS) + " s");
    }

    /** Waits (at most 1 ms) until KVM says the vCPU is blocked in its halt; without the statistic, waits the 1 ms. */
    private static void waitUntilBlocked(KvmStats stats, int blocking) {
        long until = System.nanoTime() + 1_000_000;
        while (System.nanoTime() < until) {
            if (stats != null && blocking >= 0) {
                stats.refresh();
                if (stats.value(blocking) != 0) {
                    return;
                }
            }
            Thread.onSpinWait();
        }
    }

    /**
     * The interrupt guest: r8 counts down, r9 walks the samples, r10 holds the doorbell, r12 the ACK
     * word, r13 the count the handler must reach.
     * <pre>
     * loop: r13++; [cli]; rdtsc; r11 = edx:eax; [r10] = r8 (doorbell); [sti; hlt]
     * wait: until [r12] == r13
     *       rdtsc; [r9] = (edx:eax - r11) as u32; r9 += 4; dec r8; jnz loop
     *       out DONE_PORT, al
     * </pre>
     */
    static byte[] interruptProgram(int iterations, boolean halt) {
        X86Assembler a = new X86Assembler();
        Label loop = a.newLabel("loop");
        Label wait = a.newLabel("wait");
        a.mov(Reg.R8, iterations).mov(Reg.R9, SAMPLES).mov(Reg.R10, DOORBELL_ADDRESS).mov(Reg.R12, InterruptGuest.ACK).xor(Reg.R13, Reg.R13);
        a.bind(loop).inc(Reg.R13);
        if (halt) {
            a.cli();
        }
        a.rdtsc().shl(Reg.RDX, 32).or(Reg.RAX, Reg.RDX).mov(Reg.R11, Reg.RAX);
        a.store32(Mem.at(Reg.R10), Reg.R8);
        if (halt) {
            InterruptGuest.haltUntilInterrupt(a);
        }
        a.bind(wait).load(Reg.RAX, Mem.at(Reg.R12)).cmp(Reg.RAX, Reg.R13).jcc(Cond.NZ, wait);
        a.rdtsc().shl(Reg.RDX, 32).or(Reg.RAX, Reg.RDX).sub(Reg.RAX, Reg.R11);
        a.store32(Mem.at(Reg.R9), Reg.RAX).add(Reg.R9, 4);
        a.dec(Reg.R8).jcc(Cond.NZ, loop);
        a.outImm(DONE_PORT, 1);
        return a.assemble();
    }

    /**
     * How KVM's vCPU statistics move over a run, published live to a registry when one is given;
     * does nothing where the kernel has no stats fd.
     */
    private static final class KvmStatsDelta {
        private final KvmStats stats;
        private final Map<String, Long> before;
        private final KvmStatsPublisher publisher;
        private Map<String, Long> moved = Map.of();
        private boolean finished;

        private KvmStatsDelta(KvmStats stats, StatsRegistry registry) {
            this.stats = stats;
            this.before = stats == null ? Map.of() : stats.snapshot();
            if (stats != null && registry != null) {
                publisher = new KvmStatsPublisher(stats, registry, "vcpu.0.kvm", KvmStatsPublisher.VCPU_DEFAULTS);
                publisher.startPeriodic(java.time.Duration.ofMillis(100), "kvm-stats-publisher");
            } else {
                publisher = null;
            }
        }

        static KvmStatsDelta start(Vcpu vcpu, StatsRegistry registry) {
            boolean has = vcpu.vm().kvm().checkExtension(KvmApi.KVM_CAP_BINARY_STATS_FD) > 0;
            return new KvmStatsDelta(has ? vcpu.openStats() : null, registry);
        }

        KvmStats stats() {
            return stats;
        }

        /** Reads the final values, stops publishing and closes the stats fd (call once, in a finally). */
        void finish() {
            if (stats == null || finished) {
                return;
            }
            finished = true;
            if (publisher != null) {
                publisher.close();
            }
            try (stats) {
                Map<String, Long> after = stats.snapshot();
                Map<String, Long> m = new LinkedHashMap<>();
                for (String name : KVM_STATS) {
                    if (after.containsKey(name)) {
                        m.put(name, after.get(name) - before.getOrDefault(name, 0L));
                    }
                }
                moved = m;
            }
        }

        /** How much each statistic moved (after {@link #finish()}). */
        Map<String, Long> moved() {
            return moved;
        }
    }

    /**
     * The guest: r8 counts down, r9 walks the sample array, r10 holds the target address.
     * <pre>
     * loop: rdtsc; r11 = edx:eax; OP; rdtsc; [r9] = (edx:eax - r11) as u32; r9 += 4; dec r8; jnz loop
     *       out DONE_PORT, al
     * </pre>
     */
    static byte[] program(Kind kind, int iterations) {
        X86Assembler a = new X86Assembler();
        Label loop = a.newLabel("loop");
        a.mov(Reg.R8, iterations).mov(Reg.R9, SAMPLES);
        a.mov(Reg.R10, kind == Kind.MMIO_DOORBELL ? DOORBELL_ADDRESS : EXIT_ADDRESS);
        a.bind(loop);
        a.rdtsc().shl(Reg.RDX, 32).or(Reg.RAX, Reg.RDX).mov(Reg.R11, Reg.RAX);
        switch (kind) {
            case PIO_EXIT -> a.outImm(BENCH_PORT, 1);
            case MMIO_EXIT, MMIO_DOORBELL -> a.store32(Mem.at(Reg.R10), Reg.R8);
            case CPUID -> a.xor32(Reg.RAX, Reg.RAX).cpuid();
            case IRQ_ROUND_TRIP, HLT_WAKEUP, DOORBELL_SEEN_POLLING, DOORBELL_SEEN_SLEEPING ->
                throw new IllegalArgumentException(kind + " has its own program: interruptProgram");
        }
        a.rdtsc().shl(Reg.RDX, 32).or(Reg.RAX, Reg.RDX).sub(Reg.RAX, Reg.R11);
        a.store32(Mem.at(Reg.R9), Reg.RAX).add(Reg.R9, 4);
        a.dec(Reg.R8).jcc(Cond.NZ, loop);
        a.outImm(DONE_PORT, 1);
        return a.assemble();
    }
}

package io.ringway.vcpu.bench;

import java.lang.foreign.MemorySegment;

import org.HdrHistogram.Histogram;

import io.ringway.runtime.sys.EventFd;
import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
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

import static java.lang.foreign.ValueLayout.JAVA_INT;

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
        CPUID("cpuid");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /**
     * One measured operation.
     *
     * @param hostExitNanos  per-exit round trip from the run loop, or null when the operation does not exit
     * @param guestNanos     per-operation time from the guest's rdtsc, in ns
     * @param wallNanosPerOp host wall time of the whole run / iterations
     * @param userspaceExits exits of the operation's kind that reached userspace
     * @param eventfdCount   for the doorbell: the eventfd counter after the run (must equal iterations)
     */
    public record Result(Kind kind, int iterations, Histogram hostExitNanos, Histogram guestNanos,
                         double wallNanosPerOp, long userspaceExits, long eventfdCount, long tscKhz) {
        /** Operations per second from the wall time. */
        public double opsPerSecond() {
            return 1e9 / wallNanosPerOp;
        }

        /** The histogram the table shows: the host's where the operation exits, else the guest's. */
        public Histogram primary() {
            return hostExitNanos != null ? hostExitNanos : guestNanos;
        }
    }

    private static final int BENCH_PORT = 0x80;
    private static final int DONE_PORT = 0x10;
    private static final long EXIT_ADDRESS = MicroGuest.MMIO_BASE;
    private static final long DOORBELL_ADDRESS = MicroGuest.MMIO_BASE + 0x1000;
    private static final long SAMPLES = 2L << 20;

    private ExitCostSuite() {
    }

    /** Runs {@code kind} {@code iterations} times in a fresh micro-guest. */
    public static Result run(Kvm kvm, Kind kind, int iterations) {
        if (iterations < 1 || iterations > 16_000_000) {
            throw new IllegalArgumentException("iterations must be 1..16000000, got " + iterations);
        }
        try (MicroGuest guest = MicroGuest.create(kvm, SAMPLES + 4L * iterations);
             EventFd doorbell = EventFd.create(true)) {
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
            ExitStats stats = new ExitStats();
            runner[0] = new VcpuRunner(vcpu, io, mmio, stats);

            long t0 = System.nanoTime();
            RunResult result = runner[0].run();
            long wall = System.nanoTime() - t0;
            if (result.outcome() != RunResult.Outcome.FINISHED) {
                throw new IllegalStateException(kind.label() + " micro-guest did not finish: " + result.report());
            }
            long tscKhz = vcpu.tscKhz();
            MemorySegment memory = guest.memory();
            long ticks = 0;
            for (int i = 0; i < iterations; i++) {
                ticks += Integer.toUnsignedLong(memory.get(JAVA_INT, SAMPLES + 4L * i));
            }
            double nanosPerTick = tscKhz > 0 ? 1e6 / tscKhz : (double) wall / Math.max(1, ticks);
            Histogram guestNanos = new Histogram(1, ExitStats.MAX_NANOS, 2);
            for (int i = 0; i < iterations; i++) {
                long t = Integer.toUnsignedLong(memory.get(JAVA_INT, SAMPLES + 4L * i));
                guestNanos.recordValue(Math.max(1, Math.min(ExitStats.MAX_NANOS, Math.round(t * nanosPerTick))));
            }
            int exitReason = switch (kind) {
                case PIO_EXIT -> KvmApi.KVM_EXIT_IO;
                case MMIO_EXIT, MMIO_DOORBELL -> KvmApi.KVM_EXIT_MMIO;
                case CPUID -> -1;
            };
            long exits = exitReason < 0 ? 0 : stats.count(exitReason) - (exitReason == KvmApi.KVM_EXIT_IO ? 1 : 0);
            Histogram host = null;
            if (kind == Kind.PIO_EXIT || kind == Kind.MMIO_EXIT) {
                host = stats.histogram(exitReason).copy();
            }
            return new Result(kind, iterations, host, guestNanos, (double) wall / iterations, exits,
                kind == Kind.MMIO_DOORBELL ? doorbell.read() : 0, tscKhz);
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
        }
        a.rdtsc().shl(Reg.RDX, 32).or(Reg.RAX, Reg.RDX).sub(Reg.RAX, Reg.R11);
        a.store32(Mem.at(Reg.R9), Reg.RAX).add(Reg.R9, 4);
        a.dec(Reg.R8).jcc(Cond.NZ, loop);
        a.outImm(DONE_PORT, 1);
        return a.assemble();
    }
}

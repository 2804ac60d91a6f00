package io.ringway.vcpu.exit;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;

import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.Cpu;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmRunDescriptor;
import io.ringway.vcpu.kvm.Vcpu;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The run loop of one vCPU: KVM_RUN, then dispatch of the exit — port I/O to the {@link IoBus},
 * MMIO to the {@link MmioBus} — with every exit counted and timed in {@link ExitStats}.
 *
 * <p>The loop ends when a device calls {@link #finish()}, another thread calls {@link #stop()}
 * (the vCPU is kicked out of KVM_RUN, see {@link Vcpu}), the guest halts, or the guest cannot go on:
 * KVM_EXIT_SHUTDOWN (triple fault), KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_FAIL_ENTRY, or an exit reason
 * this loop does not handle. Those end with a {@link RunResult.Outcome#FAULT} report naming the exit
 * and showing the registers, never with a hang.
 *
 * <p>The loop does not allocate per exit.
 */
public final class VcpuRunner {
    private final Vcpu vcpu;
    private final IoBus io;
    private final MmioBus mmio;
    private final ExitStats stats;
    private final MemorySegment run;
    private volatile boolean stopRequested;
    private boolean finishRequested;

    public VcpuRunner(Vcpu vcpu, IoBus io, MmioBus mmio, ExitStats stats) {
        this.vcpu = vcpu;
        this.io = io;
        this.mmio = mmio;
        this.stats = stats;
        this.run = vcpu.kvmRun();
    }

    public Vcpu vcpu() {
        return vcpu;
    }

    public ExitStats stats() {
        return stats;
    }

    /** Runs the loop on a new platform thread named {@code name}; the future completes when it ends. */
    public CompletableFuture<RunResult> start(String name) {
        return start(name, -1);
    }

    /** As {@link #start(String)}, the thread pinned to {@code cpu} unless it is -1. */
    public CompletableFuture<RunResult> start(String name, int cpu) {
        CompletableFuture<RunResult> done = new CompletableFuture<>();
        Thread.ofPlatform().name(name).daemon(true).start(() -> {
            try {
                if (cpu >= 0) {
                    Cpu.pinCurrentThread(cpu);
                }
                done.complete(run());
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        return done;
    }

    /** From any thread: ends the run as soon as possible (the vCPU leaves KVM_RUN within microseconds). */
    public void stop() {
        stopRequested = true;
        vcpu.kick();
    }

    /** From a device, on the vCPU thread: ends the run after the current exit is handled. */
    public void finish() {
        finishRequested = true;
    }

    /** Runs the loop on the calling thread until it ends. */
    public RunResult run() {
        finishRequested = false;
        vcpu.bindToCurrentThread();
        try {
            // A kick sets immediate_exit before it signals: with none set there is no signal to take either (one
            // sent from now on makes KVM_RUN return EINTR, and the loop takes it then). So a fresh run makes no
            // sigtimedwait(2) downcall handle before the guest's first instruction.
            if (vcpu.kickPending()) {
                vcpu.clearKick();
            }
            return loop();
        } finally {
            vcpu.unbindFromCurrentThread();
        }
    }

    private RunResult loop() {
        long exits = 0;
        int reason = -1;
        long last = System.nanoTime();
        while (true) {
            if (stopRequested) {
                return new RunResult(RunResult.Outcome.STOPPED, reason, exits, "vCPU " + vcpu.id() + " stopped on request after " + exits + " exits");
            }
            int rc = vcpu.run();
            long now = System.nanoTime();
            if (rc < 0) {
                if (rc == -Errno.EINTR || rc == -Errno.EAGAIN) {
                    stats.record(KvmApi.KVM_EXIT_INTR, now - last);
                    last = now;
                    if (!stopRequested) {
                        vcpu.clearKick(); // another signal, or a kick without a stop: go on
                    }
                    continue;
                }
                return fault(reason, exits, "KVM_RUN failed: " + Errno.name(-rc) + " (" + Errno.description(-rc) + ")");
            }
            reason = vcpu.exitReason();
            exits++;
            stats.record(reason, now - last);
            switch (reason) {
                case KvmApi.KVM_EXIT_IO -> handleIo();
                case KvmApi.KVM_EXIT_MMIO -> handleMmio();
                case KvmApi.KVM_EXIT_INTR -> {
                    // KVM returned 0 with an INTR exit: treat like EINTR
                }
                case KvmApi.KVM_EXIT_HLT -> {
                    return new RunResult(RunResult.Outcome.HALTED, reason, exits, "vCPU " + vcpu.id() + " halted");
                }
                case KvmApi.KVM_EXIT_SHUTDOWN ->
                    {
                        return fault(reason, exits, "the guest triple-faulted (an exception while delivering a double fault: no usable IDT, stack or handler)");
                    }
                case KvmApi.KVM_EXIT_INTERNAL_ERROR -> {
                    int suberror = run.get(JAVA_INT, KvmRunDescriptor.INTERNAL_SUBERROR_OFFSET);
                    int ndata = Math.min(run.get(JAVA_INT, KvmRunDescriptor.INTERNAL_NDATA_OFFSET), KvmRunDescriptor.INTERNAL_DATA_MAX);
                    StringBuilder sb = new StringBuilder("KVM internal error, suberror " + suberror + internalName(suberror));
                    for (int i = 0; i < ndata; i++) {
                        sb.append(i == 0 ? ", data" : "").append(" 0x")
                            .append(Long.toHexString(run.get(JAVA_LONG, KvmRunDescriptor.INTERNAL_DATA_OFFSET + 8L * i)));
                    }
                    return fault(reason, exits, sb.toString());
                }
                case KvmApi.KVM_EXIT_FAIL_ENTRY -> {
                    return fault(reason, exits, "VM entry failed, hardware reason 0x"
                        + Long.toHexString(run.get(JAVA_LONG, KvmRunDescriptor.FAIL_ENTRY_REASON_OFFSET))
                        + " on cpu " + run.get(JAVA_INT, KvmRunDescriptor.FAIL_ENTRY_CPU_OFFSET));
                }
                default -> {
                    return fault(reason, exits, "exit reason " + reason + " is not handled by this run loop");
                }
            }
            if (finishRequested) {
                return new RunResult(RunResult.Outcome.FINISHED, reason, exits, "vCPU " + vcpu.id() + " finished after " + exits + " exits");
            }
            last = now;
        }
    }

    private void handleIo() {
        int size = run.get(JAVA_BYTE, KvmRunDescriptor.IO_SIZE_OFFSET);
        int port = Short.toUnsignedInt(run.get(JAVA_SHORT, KvmRunDescriptor.IO_PORT_OFFSET));
        int count = run.get(JAVA_INT, KvmRunDescriptor.IO_COUNT_OFFSET);
        long offset = run.get(JAVA_LONG, KvmRunDescriptor.IO_DATA_OFFSET_OFFSET);
        boolean out = run.get(JAVA_BYTE, KvmRunDescriptor.IO_DIRECTION_OFFSET) == KvmApi.KVM_EXIT_IO_OUT;
        if (offset < 0 || offset + (long) size * count > run.byteSize()) {
            throw new IllegalStateException("KVM gave a PIO data area outside kvm_run: offset " + offset + ", " + count + " x " + size);
        }
        if (!io.claimed(port)) {
            stats.unclaimedIo();
        }
        for (int i = 0; i < count; i++) {
            long at = offset + (long) i * size;
            if (out) {
                io.write(port, size, readLe(at, size));
            } else {
                writeLe(at, size, io.read(port, size));
            }
        }
    }

    private void handleMmio() {
        long address = run.get(JAVA_LONG, KvmRunDescriptor.MMIO_PHYS_ADDR_OFFSET);
        int len = run.get(JAVA_INT, KvmRunDescriptor.MMIO_LEN_OFFSET);
        boolean write = run.get(JAVA_BYTE, KvmRunDescriptor.MMIO_IS_WRITE_OFFSET) != 0;
        if (len < 1 || len > 8) {
            throw new IllegalStateException("KVM gave an MMIO access of " + len + " bytes (must be 1..8)");
        }
        if (!mmio.claimed(address)) {
            stats.unclaimedMmio();
        }
        if (write) {
            mmio.write(address, len, readLe(KvmRunDescriptor.MMIO_DATA_OFFSET, len));
        } else {
            writeLe(KvmRunDescriptor.MMIO_DATA_OFFSET, len, mmio.read(address, len));
        }
    }

    private long readLe(long at, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = v << 8 | (run.get(JAVA_BYTE, at + i) & 0xff);
        }
        return v;
    }

    private void writeLe(long at, int size, long value) {
        for (int i = 0; i < size; i++) {
            run.set(JAVA_BYTE, at + i, (byte) (value >>> (8 * i)));
        }
    }

    private static String internalName(int suberror) {
        return switch (suberror) {
            case 1 -> " (KVM_INTERNAL_ERROR_EMULATION: an instruction KVM could not emulate)";
            case 2 -> " (KVM_INTERNAL_ERROR_SIMUL_EX: exception during exception delivery)";
            case 3 -> " (KVM_INTERNAL_ERROR_DELIVERY_EV: event delivery failed)";
            case 4 -> " (KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON)";
            default -> "";
        };
    }

    private RunResult fault(int reason, long exits, String what) {
        StringBuilder sb = new StringBuilder();
        sb.append("vCPU ").append(vcpu.id()).append(" ended by ").append(reason < 0 ? "KVM_RUN" : KvmApi.exitName(reason))
            .append(" after ").append(exits).append(" exits: ").append(what);
        try {
            sb.append('\n').append(vcpu.getRegs()).append('\n').append(vcpu.getSregs());
        } catch (RuntimeException e) {
            sb.append("\n(registers unavailable: ").append(e.getMessage()).append(')');
        }
        return new RunResult(RunResult.Outcome.FAULT, reason, exits, sb.toString());
    }
}

package io.ringway.vcpu.exit;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.ringway.vcpu.kvm.KvmRegs;

/**
 * Runs a vCPU with a deadline, so a guest that loops, waits for an interrupt that never comes or
 * is stuck re-faulting cannot hang its caller: when the deadline passes the vCPU is kicked out of
 * KVM_RUN ({@link VcpuRunner#stop()}) and the result is {@link RunResult.Outcome#DEADLINE_PASSED}
 * with a report naming where the guest was (RIP and the registers). Faults the run loop sees
 * itself (triple fault, internal error, failed entry) come back as they are, with their own report.
 */
public final class VcpuWatchdog {
    /** How long a stopped vCPU may take to leave KVM_RUN before the watchdog gives up on it. */
    private static final long STOP_GRACE_MS = 5_000;

    private VcpuWatchdog() {
    }

    /** Runs {@code runner} on a new thread named {@code threadName} and waits for its end, at most {@code deadline}. */
    public static RunResult run(VcpuRunner runner, String threadName, Duration deadline) {
        CompletableFuture<RunResult> done = runner.start(threadName);
        try {
            return unwrap(done, deadline.toNanos());
        } catch (TimeoutException e) {
            runner.stop();
            RunResult stopped;
            try {
                stopped = unwrap(done, TimeUnit.MILLISECONDS.toNanos(STOP_GRACE_MS));
            } catch (TimeoutException again) {
                throw new IllegalStateException("vCPU " + runner.vcpu().id() + " passed its deadline of " + deadline.toMillis()
                    + " ms and did not leave KVM_RUN within " + STOP_GRACE_MS + " ms of the stop request");
            }
            if (stopped.outcome() != RunResult.Outcome.STOPPED) {
                return stopped; // it ended by itself just as the deadline passed
            }
            String where;
            try {
                KvmRegs regs = runner.vcpu().getRegs(); // safe: the run loop has ended
                where = "rip=0x" + Long.toHexString(regs.rip()) + "\n" + regs + "\n" + runner.vcpu().getSregs();
            } catch (RuntimeException unreadable) {
                where = "(registers unavailable: " + unreadable.getMessage() + ")";
            }
            return new RunResult(RunResult.Outcome.DEADLINE_PASSED, stopped.exitReason(), stopped.exits(),
                "vCPU " + runner.vcpu().id() + " did not finish within its deadline of " + deadline.toMillis() + " ms (after "
                    + stopped.exits() + " exits); stopped at " + where);
        }
    }

    private static RunResult unwrap(CompletableFuture<RunResult> done, long nanos) throws TimeoutException {
        try {
            return done.get(nanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the vCPU run", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("the vCPU run loop failed: " + e.getCause(), e.getCause());
        }
    }
}

package io.ringway.vcpu.exit;

/**
 * How a vCPU run ended.
 *
 * @param outcome    why the loop ended
 * @param exitReason the last KVM exit reason (KvmApi.KVM_EXIT_*), or -1 when none
 * @param exits      exits handled in this run
 * @param report     for {@link Outcome#FAULT}: the exit, its data and the registers; else a one-liner
 */
public record RunResult(Outcome outcome, int exitReason, long exits, String report) {
    /** Why a run ended. */
    public enum Outcome {
        /** A device called {@link VcpuRunner#finish()}: the guest said it was done. */
        FINISHED,
        /** {@link VcpuRunner#stop()} was called. */
        STOPPED,
        /** The guest executed HLT (at CPL 0, with the in-kernel irqchip absent). */
        HALTED,
        /** The guest cannot go on: triple fault, internal error, failed entry, an exit the loop does not know. */
        FAULT,
        /** The run did not end by itself before its deadline and was stopped ({@link VcpuWatchdog}); the report names the RIP. */
        DEADLINE_PASSED
    }
}

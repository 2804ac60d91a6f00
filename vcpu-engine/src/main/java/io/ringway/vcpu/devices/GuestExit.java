package io.ringway.vcpu.devices;

/**
 * How the guest asked to end, recorded by the legacy devices (power-off, reset, debug exit) and read
 * by the VMM after the run: the first request wins. {@code onRequest} runs on the vCPU thread inside
 * the exit, once (typically {@code VcpuRunner::finish}).
 */
public final class GuestExit {
    /** What the guest did. */
    public enum Kind {
        /** Nothing yet. */
        NONE,
        /** ACPI S5 through the sleep control register. */
        POWER_OFF,
        /** A reset request (i8042 pulse, 0xCF9, ACPI RESET_REG). */
        RESET,
        /** A write of a status to the debug exit port. */
        DEBUG_EXIT
    }

    private final Runnable onRequest;
    private volatile Kind kind = Kind.NONE;
    private volatile int status;

    public GuestExit(Runnable onRequest) {
        this.onRequest = onRequest;
    }

    /** Records a request (ignored after the first) and runs the callback. */
    public void request(Kind what, int exitStatus) {
        synchronized (this) {
            if (kind != Kind.NONE) {
                return;
            }
            status = exitStatus;
            kind = what;
        }
        onRequest.run();
    }

    public Kind kind() {
        return kind;
    }

    /** The status for the process: 0 for power-off and reset, the written value for a debug exit. */
    public int status() {
        return status;
    }
}

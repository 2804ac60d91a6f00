package io.ringway.cli;

import java.time.Duration;
import java.time.Instant;

/**
 * What {@code vm boot --timings} prints: where the time from the launcher's start to the guest's
 * boot-timer write went, and the process's CPU time when the VM was ready to run (the JVM's own work:
 * start-up, class loading, JIT, VM set-up; robust to other load, unlike the wall-clock figures). The
 * launcher ({@code ringway}) passes its start as {@code -Dringway.launched} (bash's EPOCHREALTIME,
 * seconds with microseconds), so "launcher to main()" covers the launcher script, exec and the JVM's
 * start-up up to the main class; the rest are {@link System#nanoTime()} intervals.
 */
final class BootTimings {
    private final long mainNanos;
    private final long calledNanos = System.nanoTime();
    private long creatingNanos;
    private long createdNanos;
    private Duration cpuAtCreated;

    /** @param mainNanos nanoTime at main(); the command's call() begins now */
    BootTimings(long mainNanos) {
        this.mainNanos = mainNanos;
    }

    /** Files read, /dev/kvm about to be opened and the VM created. */
    void creating() {
        creatingNanos = System.nanoTime();
    }

    /** The VM is ready to run. */
    void created() {
        createdNanos = System.nanoTime();
        cpuAtCreated = ProcessHandle.current().info().totalCpuDuration().orElse(null);
    }

    /** @param bootTimerWrite nanoTime of the guest's boot-timer write, -1 when it never wrote */
    String line(long bootTimerWrite) {
        String launcher = "?";
        String launched = System.getProperty("ringway.launched");
        if (launched != null) {
            try {
                long launchedMicros = Math.round(Double.parseDouble(launched) * 1e6);
                Instant now = Instant.now();
                long nowMicros = now.getEpochSecond() * 1_000_000 + now.getNano() / 1000;
                long mainMicros = nowMicros - (System.nanoTime() - mainNanos) / 1000;
                launcher = ms((mainMicros - launchedMicros) * 1000);
            } catch (NumberFormatException e) {
                launcher = "? (-Dringway.launched=" + launched + ")";
            }
        }
        boolean wrote = bootTimerWrite >= 0;
        return "timings (ms): launcher to main() " + launcher + ", main() to command " + ms(calledNanos - mainNanos)
            + ", command to VM creation " + ms(creatingNanos - calledNanos) + ", VM creation " + ms(createdNanos - creatingNanos)
            + ", guest run to boot timer " + (wrote ? ms(bootTimerWrite - createdNanos) : "never")
            + "; main_to_init_ms=" + (wrote ? ms(bootTimerWrite - mainNanos) : "never") + " launcher_to_main_ms=" + launcher
            + " cpu_ms_at_vm_created=" + (cpuAtCreated == null ? "?" : ms(cpuAtCreated.toNanos()));
    }

    private static String ms(long nanos) {
        return String.format("%.1f", nanos / 1e6);
    }
}

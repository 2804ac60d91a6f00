package io.ringway.cli;

/**
 * The {@code vm boot --timings} line: where the time from the launcher's start to the guest's
 * boot-timer write went. The launcher ({@code ringway}) passes its start as {@code -Dringway.launched}
 * (bash's EPOCHREALTIME, seconds with microseconds), so "launcher to main()" covers the launcher script,
 * exec and the JVM's start-up up to the main class; the rest are {@link System#nanoTime()} intervals.
 */
final class BootTimings {
    private BootTimings() {
    }

    /**
     * @param mainNanos nanoTime at main()
     * @param called    nanoTime when the command's call() began (after picocli built and parsed the command line)
     * @param creating  nanoTime just before LinuxVm.create (files read, /dev/kvm opened)
     * @param created   nanoTime just after it
     * @param bootTimer LinuxVm.Result.bootTimerNanos (from LinuxVm.create's start, -1 when never written)
     */
    static String line(long mainNanos, long called, long creating, long created, long bootTimer) {
        String launcher = "?";
        String launched = System.getProperty("ringway.launched");
        if (launched != null) {
            try {
                long launchedMicros = Math.round(Double.parseDouble(launched) * 1e6);
                java.time.Instant now = java.time.Instant.now();
                long nowMicros = now.getEpochSecond() * 1_000_000 + now.getNano() / 1000;
                long mainMicros = nowMicros - (System.nanoTime() - mainNanos) / 1000;
                launcher = ms((mainMicros - launchedMicros) * 1000);
            } catch (NumberFormatException e) {
                launcher = "? (-Dringway.launched=" + launched + ")";
            }
        }
        String run = bootTimer < 0 ? "never" : ms(bootTimer - (created - creating));
        return "timings (ms): launcher to main() " + launcher + ", main() to command " + ms(called - mainNanos)
            + ", command to VM creation " + ms(creating - called) + ", VM creation " + ms(created - creating)
            + ", guest run to boot timer " + run + "; main_to_init_ms=" + (bootTimer < 0 ? "never" : ms(creating - mainNanos + bootTimer))
            + " launcher_to_main_ms=" + launcher;
    }

    private static String ms(long nanos) {
        return String.format("%.1f", nanos / 1e6);
    }
}

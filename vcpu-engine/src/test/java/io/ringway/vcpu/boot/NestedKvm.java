package io.ringway.vcpu.boot;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * What the nested-kvm.sh tests (vcpu-engine's {@code LinuxBootNestedTest} and
 * {@code LinuxBlkNestedTest}, cli's {@code VmBootNetNestedTest}) share: finding the peers (programs on
 * the PATH, the host's kernel) and running a peer with a deadline, its output in a log. Published to
 * other modules' tests through vcpu-engine's test-jar.
 */
public final class NestedKvm {
    private static final int TAIL_CHARS = 6000;

    private NestedKvm() {
    }

    /** The newest readable /boot/vmlinuz-*, by name. */
    public static Optional<Path> newestKernel() throws IOException {
        return newestKernel(false);
    }

    /** The newest readable /boot/vmlinuz-* whose /lib/modules/VERSION directory exists (a guest loads its modules). */
    public static Optional<Path> newestKernelWithModules() throws IOException {
        return newestKernel(true);
    }

    private static Optional<Path> newestKernel(boolean withModules) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/boot"))) {
            return s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-") && Files.isReadable(p))
                .filter(p -> !withModules || Files.isDirectory(Path.of("/lib/modules", p.getFileName().toString().substring("vmlinuz-".length()))))
                .max(Comparator.comparing(p -> p.getFileName().toString()));
        }
    }

    /** Whether {@code program} is an executable in a directory of the PATH. */
    public static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    /**
     * No output from a nested-kvm.sh run for this long: its L1 hung (all L1 output stops with L1 at
     * 100% CPU; seen with QEMU's own guests in L1 too, docs/STATUS.md "Session 4 traps"). The run is
     * then tried once more; the longest quiet stretch of a healthy run here is about a minute.
     */
    static final long STALL_SECONDS = 180;

    /**
     * Runs {@code cmd} with extra environment pairs (name, value, ...), stdin closed, output to
     * {@code log}; past the deadline it stops the process tree and fails the test with the log's tail.
     * A nested-kvm.sh run whose log stops growing for {@link #STALL_SECONDS} is stopped and run once
     * more (the stalled log is kept beside it, and the retry is printed); a second run gets the whole
     * deadline and no stall check. A failed mkinitramfs.sh run (the recipe as the command) fails the
     * test too.
     *
     * @return the exit status
     */
    public static int run(List<String> cmd, long timeoutSeconds, Path log, String... env) throws Exception {
        return run(cmd, timeoutSeconds, cmd.get(0).endsWith("nested-kvm.sh") ? STALL_SECONDS : 0, log, env);
    }

    /** {@link #run(List, long, Path, String...)} with the stall check given ({@code stallSeconds} 0: none). */
    static int run(List<String> cmd, long timeoutSeconds, long stallSeconds, Path log, String... env) throws Exception {
        long stall = stallSeconds;
        for (;;) {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            for (int i = 0; i < env.length; i += 2) {
                pb.environment().put(env[i], env[i + 1]);
            }
            Process p = pb.start();
            p.getOutputStream().close();
            String ended = await(p, timeoutSeconds, stall, log);
            if (ended == null) {
                int rc = p.exitValue();
                if (cmd.get(0).endsWith("mkinitramfs.sh") && rc != 0) {
                    fail("initramfs build failed (" + rc + "): " + readLog(log));
                }
                return rc;
            }
            stop(p);
            if (ended.equals("stalled") && stall > 0) {
                Path kept = log.resolveSibling(log.getFileName() + ".stalled");
                Files.move(log, kept, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                System.out.println(cmd.get(0) + ": no output for " + stall + " s (a hung L1): running it once more; "
                        + "the stalled log is " + kept);
                stall = 0;
                continue;
            }
            fail(cmd.get(0) + " did not finish within " + timeoutSeconds + " s; log " + log + ":\n" + tail(readLog(log)));
        }
    }

    /** @return null once the process ended, "timeout" past the deadline, "stalled" when the log stopped growing for {@code stall} s (0: no check) */
    private static String await(Process p, long timeoutSeconds, long stall, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        long size = -1;
        long grewAt = System.nanoTime();
        while (!p.waitFor(1, TimeUnit.SECONDS)) {
            long now = System.nanoTime();
            if (now - deadline >= 0) {
                return "timeout";
            }
            long s = Files.exists(log) ? Files.size(log) : 0;
            if (s != size) {
                size = s;
                grewAt = now;
            } else if (stall > 0 && now - grewAt >= TimeUnit.SECONDS.toNanos(stall)) {
                return "stalled";
            }
        }
        return null;
    }

    private static void stop(Process p) throws InterruptedException {
        p.descendants().forEach(ProcessHandle::destroy);
        p.destroy();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    /** The last characters of a log, for a failure message. */
    public static String tail(String s) {
        return s.length() <= TAIL_CHARS ? s : s.substring(s.length() - TAIL_CHARS);
    }

    /** A log whatever its bytes (a console may print anything). */
    private static String readLog(Path log) throws IOException {
        return Files.readString(log, StandardCharsets.ISO_8859_1);
    }
}

package io.ringway.vcpu.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The C baseline for the PIO exit round trip: {@code pio_exit.c} (a resource) compiled with gcc
 * at run time and run in a child process, so Java's figure has a peer measured in the same run.
 * Absent gcc, {@link #measure} returns null and the caller says so.
 */
public final class CPioYardstick {
    private static final Pattern OUTPUT = Pattern.compile("c_pio_exit_ns_median=(\\d+) c_pio_exit_ns_mean=([0-9.]+) exits=(\\d+)");

    /** The C program's figures. */
    public record Result(long medianNanos, double meanNanos, long exits) {
    }

    private CPioYardstick() {
    }

    /** Compiles and runs the yardstick for {@code iterations} exits; null when gcc or KVM is missing or it failed. */
    public static Result measure(int iterations) {
        Path dir = null;
        try (InputStream source = CPioYardstick.class.getResourceAsStream("pio_exit.c")) {
            if (source == null) {
                return null;
            }
            dir = Files.createTempDirectory("ringway-pio-exit");
            Path c = dir.resolve("pio_exit.c");
            Files.copy(source, c);
            Path exe = dir.resolve("pio_exit");
            Process gcc = new ProcessBuilder("gcc", "-O2", c.toString(), "-o", exe.toString()).redirectErrorStream(true).start();
            gcc.getInputStream().readAllBytes();
            if (!gcc.waitFor(60, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
                return null;
            }
            Process run = new ProcessBuilder(exe.toString(), Integer.toString(iterations)).redirectErrorStream(true).start();
            String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!run.waitFor(300, TimeUnit.SECONDS) || run.exitValue() != 0) {
                return null;
            }
            Matcher m = OUTPUT.matcher(out);
            return m.find() ? new Result(Long.parseLong(m.group(1)), Double.parseDouble(m.group(2)), Long.parseLong(m.group(3))) : null;
        } catch (IOException e) {
            return null; // no gcc
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } finally {
            if (dir != null) {
                try (Stream<Path> files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (IOException ignored) {
                    // a temp dir left behind is harmless
                }
            }
        }
    }
}

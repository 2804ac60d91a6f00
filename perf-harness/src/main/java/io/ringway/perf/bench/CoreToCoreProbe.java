package io.ringway.perf.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.ringway.runtime.sys.Cpu;

/**
 * The machine's core-to-core state: a cache-line ping-pong between CPU 0 and CPU 1, the same
 * algorithm as shared/peers/c2c.c. These machines flip between a fast state (65–116 ns round
 * trip) and a slow one (~400 ns) that moves packet rates by up to 2.7x, so every result records
 * this figure beside it.
 *
 * <p>{@link #measure()} compiles and runs the C probe (shipped as a resource, the yardstick the
 * shared peers use) when gcc is on the machine, and falls back to the same ping-pong in Java.
 */
public final class CoreToCoreProbe {
    private static final int ROUNDS = 500_000;

    private CoreToCoreProbe() {
    }

    /** A probe result: round trip in ns and which probe measured it. */
    public record Result(double nanos, String probe) {
    }

    /** The C probe when gcc is available, else the Java one. */
    public static Result measure() {
        double c = cProbe();
        if (!Double.isNaN(c)) {
            return new Result(c, "c2c.c");
        }
        return new Result(javaProbe(), "java");
    }

    private static double cProbe() {
        Path dir = null;
        try (InputStream source = CoreToCoreProbe.class.getResourceAsStream("c2c.c")) {
            if (source == null) {
                return Double.NaN;
            }
            dir = Files.createTempDirectory("ringway-c2c");
            Path c = dir.resolve("c2c.c");
            Files.copy(source, c);
            Path exe = dir.resolve("c2c");
            Process gcc = new ProcessBuilder("gcc", "-O2", "-pthread", c.toString(), "-o", exe.toString())
                    .redirectErrorStream(true).start();
            gcc.getInputStream().readAllBytes();
            if (!gcc.waitFor(60, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
                return Double.NaN;
            }
            Process run = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
            String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!run.waitFor(60, TimeUnit.SECONDS) || run.exitValue() != 0 || !out.startsWith("c2c_roundtrip_ns=")) {
                return Double.NaN;
            }
            return Double.parseDouble(out.substring("c2c_roundtrip_ns=".length()));
        } catch (IOException | NumberFormatException e) {
            return Double.NaN; // no gcc: the Java probe answers
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
        } finally {
            if (dir != null) {
                try (var files = Files.list(dir)) {
                    for (Path f : files.toList()) {
                        Files.deleteIfExists(f);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // a temp dir left behind is harmless
                }
            }
        }
    }

    /** Java ping-pong; best of three runs so that the JIT has compiled the loops. */
    static double javaProbe() {
        double best = Double.NaN;
        for (int i = 0; i < 3; i++) {
            double r = javaProbeOnce();
            if (Double.isNaN(best) || r < best) {
                best = r;
            }
        }
        return best;
    }

    private static double javaProbeOnce() {
        if (Cpu.onlineCpus() < 2) {
            return Double.NaN;
        }
        AtomicInteger flag = new AtomicInteger();
        Thread pong = Thread.ofPlatform().name("c2c-pong").start(() -> {
            Cpu.pinCurrentThread(1);
            for (int i = 0; i < ROUNDS; i++) {
                while (flag.getAcquire() != 1) {
                    // plain spin, as c2c.c does: PAUSE would add its own latency to the figure
                }
                flag.setRelease(0);
            }
        });
        double[] result = new double[1];
        Thread ping = Thread.ofPlatform().name("c2c-ping").start(() -> {
            Cpu.pinCurrentThread(0);
            long start = System.nanoTime();
            for (int i = 0; i < ROUNDS; i++) {
                flag.setRelease(1);
                while (flag.getAcquire() != 0) {
                    // plain spin
                }
            }
            result[0] = (System.nanoTime() - start) / (double) ROUNDS;
        });
        try {
            ping.join();
            pong.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
        }
        return result[0];
    }
}

package io.ringway.perf.net;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * DPDK's vhost PMD as the peer of a net race: {@code dpdk-testpmd --vdev net_vhost0,iface=SOCK} in
 * interactive mode (its stdin stays open: testpmd quits at end of input), forwarding in one
 * testpmd mode (rxonly, txonly or macswap) with both of its lcores on one CPU, as
 * {@code packet-plane/bench/race.sh} runs it. Its stdout is a pipe, so it runs under
 * {@code stdbuf -o0}; its hugepage files (which DPDK leaves behind with
 * {@code --single-file-segments}) are deleted at close.
 */
public final class TestpmdVhost implements AutoCloseable {
    /** Where Debian's dpdk package installs testpmd. */
    public static final Path BINARY = Path.of("/usr/bin/dpdk-testpmd");
    public static final String INSTALL = "apt-get install dpdk";
    static final Path HUGE_DIR = Path.of("/dev/hugepages");
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final Process process;
    private final String prefix;
    private final OutputStream stdin;
    private final StringBuffer output = new StringBuffer();
    private final Thread reader;
    /** Kills testpmd if this JVM exits (SIGTERM, Ctrl-C) while it runs: a busy-polling orphan would hold CPU 0. */
    private final Thread killOnExit;

    /**
     * Why testpmd cannot run here (not installed, no hugepages, hugetlbfs not mounted), with how to
     * fix it; null when it can.
     */
    public static String unavailableReason() {
        if (!Files.isExecutable(BINARY)) {
            return "dpdk-testpmd is not installed (" + INSTALL + ")";
        }
        long pages = freeHugepages();
        if (pages < 128) {
            return "dpdk-testpmd needs 128 free hugepages (-m 256), " + pages + " free (echo 512 > /proc/sys/vm/nr_hugepages)";
        }
        if (!Files.isDirectory(HUGE_DIR)) {
            return "hugetlbfs is not mounted (mount -t hugetlbfs nodev /dev/hugepages)";
        }
        return null;
    }

    /**
     * HugePages_Free from /proc/meminfo, 0 if unreadable. Not /proc/sys/vm/nr_hugepages: a sysctl file
     * answers end-of-file to any read at a non-zero offset, and Files.readString reads it in more than
     * one call, so it sees only the first digit ("1" for 1024).
     */
    static long freeHugepages() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("HugePages_Free:")) {
                    return Long.parseLong(line.substring("HugePages_Free:".length()).trim());
                }
            }
        } catch (IOException | NumberFormatException e) {
            // no figure: treated as none
        }
        return 0;
    }

    /**
     * The command line: vhost PMD server on {@code socket}, forwarding {@code mode} with 64-byte txonly
     * frames, main and forwarding lcore both on {@code cpu}.
     */
    static List<String> command(Path socket, String mode, int cpu, String prefix) {
        List<String> cmd = new ArrayList<>(List.of("stdbuf", "-o0", "-e0", BINARY.toString(),
                "--lcores", "0@" + cpu + ",1@" + cpu, "--main-lcore", "0", "--no-pci", "--single-file-segments",
                "--iova-mode=va", "--huge-dir=" + HUGE_DIR, "--file-prefix=" + prefix, "-m", "256",
                "--vdev", "net_vhost0,iface=" + socket + ",queues=1",
                "--", "-i", "--nb-cores=1", "--rxq=1", "--txq=1", "--total-num-mbufs=8192", "--txpkts=64",
                "--no-flush-rx", "--forward-mode=" + mode));
        return cmd;
    }

    /**
     * Starts testpmd, waits for its prompt and its socket, and starts forwarding.
     *
     * @param socket where the vhost PMD listens
     * @param mode   rxonly, txonly or macswap
     * @param cpu    CPU of both lcores
     */
    public static TestpmdVhost start(Path socket, String mode, int cpu) throws IOException {
        String prefix = "rwbench" + ProcessHandle.current().pid() + "x" + INSTANCES.incrementAndGet();
        Files.deleteIfExists(socket);
        TestpmdVhost t = new TestpmdVhost(new ProcessBuilder(command(socket, mode, cpu, prefix)).redirectErrorStream(true).start(),
                prefix);
        try {
            t.awaitOutput("testpmd> ", 0, 30_000);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!Files.exists(socket)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("dpdk-testpmd did not create " + socket + " within 10 s:\n" + t.output);
                }
                Thread.sleep(10);
            }
            int mark = t.send("start");
            t.awaitOutput("testpmd> ", mark, 10_000);
        } catch (RuntimeException | InterruptedException e) {
            t.close();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
        }
        return t;
    }

    private TestpmdVhost(Process process, String prefix) {
        this.process = process;
        this.prefix = prefix;
        this.stdin = process.getOutputStream();
        killOnExit = Thread.ofPlatform().unstarted(() -> {
            process.destroyForcibly();
            removeHugepageFiles(prefix);
        });
        Runtime.getRuntime().addShutdownHook(killOnExit);
        InputStream out = process.getInputStream();
        reader = Thread.ofPlatform().daemon().name("testpmd-output").start(() -> {
            byte[] buf = new byte[8192];
            try {
                int n;
                while ((n = out.read(buf)) > 0) {
                    output.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // the process ended
            }
        });
    }

    /** @return everything testpmd printed so far */
    public String output() {
        return output.toString();
    }

    private int send(String line) throws IOException {
        int mark = output.length();
        stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
        return mark;
    }

    private void awaitOutput(String text, int from, long timeoutMillis) {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (output.indexOf(text, from) < 0) {
            if (!process.isAlive() || System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("dpdk-testpmd did not print '" + text.strip() + "' (alive " + process.isAlive()
                        + "); its output:\n" + output);
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for dpdk-testpmd", e);
            }
        }
    }

    /** Stops forwarding and quits (killing it if it does not), then deletes its hugepage files. */
    @Override
    public void close() {
        try {
            if (process.isAlive()) {
                send("stop");
                send("quit");
                stdin.close();
            }
        } catch (IOException e) {
            // already gone
        }
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            }
            reader.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        removeHugepageFiles(prefix);
        try {
            Runtime.getRuntime().removeShutdownHook(killOnExit);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook runs anyway, harmlessly
        }
    }

    /** Deletes {@code /dev/hugepages/PREFIXmap_*}: DPDK keeps them after it exits, and they hold the pages. */
    static void removeHugepageFiles(String prefix) {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(HUGE_DIR, prefix + "map_*")) {
            for (Path f : files) {
                Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            System.out.println("  net: could not delete the hugepage files of dpdk-testpmd (" + HUGE_DIR + "/" + prefix + "map_*): " + e);
        }
    }
}

package io.ringway.net.interop;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assumptions;

/**
 * dpdk-testpmd in interactive mode, driven through its stdin; its output is collected for
 * assertions. Skips the calling test when testpmd or hugepages are missing. testpmd's stdout is a
 * pipe here, so stdio would buffer the statistics until exit: it runs under {@code stdbuf -o0}. {@code --no-flush-rx}: by default "start" drains and frees
 * what arrived before it, uncounted, which breaks exact comparisons.
 */
public final class Testpmd implements AutoCloseable {
    public static final Path BINARY = Path.of("/usr/bin/dpdk-testpmd");
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final Process process;
    /** DPDK file prefix: names the hugepage files this testpmd leaves behind. */
    private final String prefix;
    private final OutputStream stdin;
    private final StringBuffer output = new StringBuffer();
    private final Thread reader;

    public static void assumeAvailable() {
        Assumptions.assumeTrue(Files.isExecutable(BINARY), "dpdk-testpmd is not installed (apt-get install dpdk)");
        long pages;
        try {
            pages = Long.parseLong(Files.readString(Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")).trim());
        } catch (IOException | NumberFormatException e) {
            pages = 0;
        }
        Assumptions.assumeTrue(pages > 0, "no hugepages for dpdk-testpmd: echo 512 > /proc/sys/vm/nr_hugepages");
        Assumptions.assumeTrue(Files.isDirectory(Path.of("/dev/hugepages")),
                "hugetlbfs is not mounted: mount -t hugetlbfs none /dev/hugepages");
    }

    /**
     * Starts testpmd with a virtio-user port on {@code vdev} and waits for its prompt.
     *
     * @param vdev   e.g. {@code net_virtio_user0,path=/tmp/x.sock,queues=1}
     * @param queues rx/tx queues
     */
    public Testpmd(String vdev, int queues, Path log) throws IOException {
        this(List.of(vdev), queues, log);
    }

    /**
     * Starts testpmd with one port per entry of {@code vdevs} (port i is {@code vdevs[i]}) and waits
     * for its prompt.
     */
    public Testpmd(List<String> vdevs, int queues, Path log) throws IOException {
        prefix = "rwnet" + ProcessHandle.current().pid() + "x" + INSTANCES.incrementAndGet();
        List<String> cmd = new ArrayList<>(List.of("stdbuf", "-o0", "-e0", BINARY.toString(), "--no-pci", "--single-file-segments",
                "--iova-mode=va", "--huge-dir=/dev/hugepages", "--file-prefix=" + prefix, "-l", "0-1", "-m", "256"));
        for (String vdev : vdevs) {
            cmd.add("--vdev");
            cmd.add(vdev);
        }
        cmd.addAll(List.of("--", "-i", "--rxq=" + queues, "--txq=" + queues,
                "--nb-cores=1", "--txpkts=64", "--total-num-mbufs=8192", "--no-flush-rx"));
        process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        stdin = process.getOutputStream();
        InputStream out = process.getInputStream();
        reader = Thread.ofPlatform().daemon().name("testpmd-output").start(() -> {
            byte[] buf = new byte[8192];
            try {
                int n;
                while ((n = out.read(buf)) > 0) {
                    output.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // process ended
            }
            try {
                Files.writeString(log, output);
            } catch (IOException e) {
                // best effort
            }
        });
        awaitOutput("testpmd> ", 0, 30_000);
    }

    /** @return everything testpmd printed so far */
    public String output() {
        return output.toString();
    }

    /** Sends one command line; returns the output position before it. */
    public int send(String command) throws IOException {
        int mark = output.length();
        stdin.write((command + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
        return mark;
    }

    /** Waits until {@code text} appears after {@code from}; returns its position. */
    public int awaitOutput(String text, int from, long timeoutMillis) {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (true) {
            int at = output.indexOf(text, from);
            if (at >= 0) {
                return at;
            }
            if (!process.isAlive() || System.currentTimeMillis() > deadline) {
                throw new AssertionError("testpmd did not print '" + text + "' (alive " + process.isAlive() + "):\n"
                        + output);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** Forward statistics of one port as "stop" prints them. */
    public record PortStats(long rxPackets, long rxDropped, long txPackets, long txDropped) {
    }

    /** Runs "stop" and parses the forward statistics of {@code port}. */
    public PortStats stop(int port) throws IOException {
        return stopAll(port + 1)[port];
    }

    /** Runs "stop" and parses the forward statistics of ports 0 to {@code ports - 1}. */
    public PortStats[] stopAll(int ports) throws IOException {
        int mark = send("stop");
        int end = awaitOutput("Done.", mark, 20_000);
        String text = output.substring(mark, end);
        PortStats[] stats = new PortStats[ports];
        for (int port = 0; port < ports; port++) {
            stats[port] = parse(text, port);
        }
        return stats;
    }

    private static PortStats parse(String text, int port) {
        int at = text.indexOf("Forward statistics for port " + port);
        if (at < 0) {
            throw new AssertionError("no forward statistics for port " + port + ":\n" + text);
        }
        String block = text.substring(at);
        return new PortStats(number(block, "RX-packets"), number(block, "RX-dropped"), number(block, "TX-packets"),
                number(block, "TX-dropped"));
    }

    private static long number(String text, String label) {
        Matcher m = Pattern.compile(label + ":\\s*(\\d+)").matcher(text);
        if (!m.find()) {
            throw new AssertionError("no " + label + " in:\n" + text);
        }
        return Long.parseLong(m.group(1));
    }

    /** Kills testpmd with SIGKILL, as a crashing front-end would go: no "quit", its sockets just close. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        try {
            send("quit");
            stdin.close();
        } catch (IOException e) {
            // already gone
        }
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        reader.join(5000);
        removeHugepageFiles(prefix);
    }

    /**
     * DPDK keeps its hugepage files (with --single-file-segments, which --huge-unlink refuses)
     * after it exits, and they hold the pages: remove the ones of {@code prefix}.
     */
    static void removeHugepageFiles(String prefix) throws IOException {
        try (var files = java.nio.file.Files.newDirectoryStream(java.nio.file.Path.of("/dev/hugepages"), prefix + "map_*")) {
            for (java.nio.file.Path f : files) {
                java.nio.file.Files.deleteIfExists(f);
            }
        }
    }
}

package io.ringway.storage.interop;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.ringway.storage.interop.QemuPeers.digest;
import static io.ringway.storage.interop.QemuPeers.kernelVersion;
import static io.ringway.storage.interop.QemuPeers.onPath;

/**
 * A Linux guest under QEMU (TCG) with one vhost-user-blk-pci disk, running a job from the test
 * initramfs (src/test/resources/peers: mkinitramfs.sh + guest-root/peers/*.sh) and powering off.
 * The initramfs is built once per kernel and script version and cached in target/qemu-interop.
 */
final class QemuGuest {
    static final String QEMU = "qemu-system-x86_64";
    private static final Path WORK = Path.of("target", "qemu-interop").toAbsolutePath();
    private static Path initramfs;

    private QemuGuest() {
    }

    /** @return why the guest cannot run here (a message naming what to install), or empty */
    static Optional<String> missingPeers() {
        List<String> missing = new ArrayList<>();
        if (onPath(QEMU) == null) {
            missing.add("qemu-system-x86_64 (apt-get install qemu-system-x86)");
        }
        if (kernelVersion() == null) {
            missing.add("a kernel in /boot with its modules (apt-get install linux-image-amd64)");
        }
        if (!Files.isExecutable(Path.of("/bin/busybox")) && !Files.isExecutable(Path.of("/usr/bin/busybox"))) {
            missing.add("busybox (apt-get install busybox-static)");
        }
        if (onPath("fio") == null) {
            missing.add("fio (apt-get install fio)");
        }
        if (onPath("cpio") == null) {
            missing.add("cpio (apt-get install cpio)");
        }
        return missing.isEmpty() ? Optional.empty()
                : Optional.of("QEMU interop test skipped, missing: " + String.join(", ", missing));
    }

    /** Builds (or reuses) the initramfs: busybox, virtio-blk modules, fio with its libraries, the guest jobs. */
    static synchronized Path initramfs() throws IOException, InterruptedException {
        if (initramfs != null) {
            return initramfs;
        }
        Path scripts;
        try {
            scripts = Path.of(QemuGuest.class.getResource("/peers/mkinitramfs.sh").toURI()).getParent();
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test resource peers/mkinitramfs.sh not found", e);
        }
        String kver = kernelVersion();
        Path fio = onPath("fio");
        String key = digest(kver + "|" + fio + "|" + Files.size(fio) + "|" + Files.getLastModifiedTime(fio), scripts);
        Files.createDirectories(WORK);
        Path out = WORK.resolve("guest-" + key + ".cpio.gz");
        QemuPeers.buildInitramfs(scripts.resolve("mkinitramfs.sh"), out, WORK.resolve("mkinitramfs.log"), Map.of(), fio.toString());
        initramfs = out;
        return out;
    }

    /** What a guest run printed and how it ended. */
    record Run(String console, int exitCode, boolean timedOut, Duration took, Path consoleLog) {
        /** @return group 1 of the first line matching {@code regex}, or null */
        String find(String regex) {
            Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(console);
            return m.find() ? m.group(1) : null;
        }

        /** The interesting part of the console for assertion messages: marker lines and kernel errors. */
        String summary() {
            StringBuilder b = new StringBuilder("console ").append(consoleLog).append(timedOut ? " (timed out)" : "")
                    .append(", qemu exit ").append(exitCode).append(", ").append(took.toMillis()).append(" ms:\n");
            console.lines().filter(l -> !l.startsWith("RINGWAY_FIO 3;"))
                    .filter(l -> l.contains("RINGWAY_") || l.contains("PEERS_") || l.contains("rror") || l.contains("qemu")
                            || l.contains("vhost") || l.contains("Kernel panic"))
                    .limit(60).forEach(l -> b.append("  ").append(l).append('\n'));
            return b.toString();
        }
    }

    /** A QEMU invocation; {@link #run} starts it and waits for the guest to power off. */
    static final class Launch {
        private final Path socket;
        private int queues = 1;
        private int cpus = 1;
        private final List<String> append = new ArrayList<>();
        private boolean reconnect;
        private boolean packed;
        private Duration timeout = Duration.ofSeconds(120);
        private Process process;

        Launch(Path socket) {
            this.socket = socket;
        }

        Launch queues(int n) {
            this.queues = n;
            return this;
        }

        Launch cpus(int n) {
            this.cpus = n;
            return this;
        }

        /** A guest job parameter on the kernel command line, e.g. peers.mode=verify. */
        Launch param(String p) {
            append.add(p);
            return this;
        }

        /** The disk's virtqueues use the packed layout (packed=on: QEMU offers VIRTIO_F_RING_PACKED). */
        Launch packed() {
            this.packed = true;
            return this;
        }

        /** QEMU reconnects to the socket (every second) when the back-end goes away. */
        Launch reconnect() {
            this.reconnect = true;
            return this;
        }

        Launch timeout(Duration d) {
            this.timeout = d;
            return this;
        }

        List<String> command(Path initrd) {
            String kver = kernelVersion();
            List<String> c = new ArrayList<>(List.of(QEMU, "-M", "q35", "-accel", "tcg", "-smp", Integer.toString(cpus),
                    "-m", "512", "-object", "memory-backend-memfd,id=mem,size=512M,share=on", "-numa", "node,memdev=mem",
                    "-chardev", "socket,id=c0,path=" + socket + (reconnect ? ",reconnect=1" : ""),
                    "-device", "vhost-user-blk-pci,chardev=c0,num-queues=" + queues + (packed ? ",packed=on" : ""),
                    "-nic", "none", "-nographic", "-no-reboot", "-kernel", "/boot/vmlinuz-" + kver, "-initrd", initrd.toString()));
            StringBuilder a = new StringBuilder("console=ttyS0 quiet panic=-1 peers.run=blkverify");
            append.forEach(p -> a.append(' ').append(p));
            c.add("-append");
            c.add(a.toString());
            return c;
        }

        /** Starts QEMU with its console going to {@code consoleLog}. */
        Launch start(Path consoleLog) throws IOException, InterruptedException {
            process = new ProcessBuilder(command(initramfs())).redirectErrorStream(true)
                    .redirectOutput(consoleLog.toFile()).start();
            process.getOutputStream().close();
            return this;
        }

        Process process() {
            return process;
        }

        /** Waits for QEMU to end (the guest powers off) or kills it at the timeout. */
        Run await(Path consoleLog, long startNanos) throws IOException, InterruptedException {
            boolean ended = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!ended) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
            String console = Files.readString(consoleLog, StandardCharsets.ISO_8859_1);
            return new Run(console, ended ? process.exitValue() : -1, !ended,
                    Duration.ofNanos(System.nanoTime() - startNanos), consoleLog);
        }

        /** Starts QEMU, waits for the guest to power off (killing QEMU at the timeout), returns the console. */
        Run run(Path consoleLog) throws IOException, InterruptedException {
            long t0 = System.nanoTime();
            start(consoleLog);
            try {
                return await(consoleLog, t0);
            } finally {
                kill();
            }
        }

        /** Kills QEMU if it is still running. */
        void kill() {
            if (process != null && process.isAlive()) {
                process.destroyForcibly();
                try {
                    process.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}

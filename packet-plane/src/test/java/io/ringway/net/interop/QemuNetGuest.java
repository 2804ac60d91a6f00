package io.ringway.net.interop;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import io.ringway.storage.interop.QemuPeers;

import static io.ringway.storage.interop.QemuPeers.digest;
import static io.ringway.storage.interop.QemuPeers.kernelVersion;
import static io.ringway.storage.interop.QemuPeers.onPath;

/**
 * A Linux guest under QEMU (TCG) with one {@code virtio-net-pci} NIC on a vhost-user socket,
 * running a job of the test initramfs (guest-root/peers/*.sh in this module's test resources).
 *
 * <p>The initramfs is built by the recipe the storage-plane QEMU tests use
 * (storage-plane/src/test/resources/peers/mkinitramfs.sh, with this module's guest jobs and the
 * virtio_net modules) and cached in target/qemu-interop under a digest of its inputs.
 *
 * <p>QEMU 7.2 under TCG crashes in vhost_net_start when virtio-net-pci uses MSI-X: the NIC gets
 * {@code vectors=0} (INTx).
 */
final class QemuNetGuest implements AutoCloseable {
    static final String QEMU = "qemu-system-x86_64";
    static final Path WORK = Path.of("target", "qemu-interop").toAbsolutePath();
    /** virtio_net and what it needs, deps first as modules.dep gives them (mkinitramfs.sh resolves the rest). */
    private static final String MODULES = "virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci"
            + " failover net_failover virtio_net";
    private static Path initramfs;

    private final Process process;
    private final Path console;

    private QemuNetGuest(Process process, Path console) {
        this.process = process;
        this.console = console;
    }

    /** @return why a guest cannot run here (naming what to install), or empty */
    static Optional<String> missingPeers() {
        List<String> missing = new ArrayList<>();
        if (onPath(QEMU) == null) {
            missing.add("qemu-system-x86_64 (apt-get install qemu-system-x86)");
        }
        if (kernelVersion() == null) {
            missing.add("a kernel in /boot with its modules (apt-get install linux-image-amd64)");
        }
        if (onPath("busybox") == null) {
            missing.add("busybox (apt-get install busybox-static)");
        }
        if (onPath("cpio") == null) {
            missing.add("cpio (apt-get install cpio)");
        }
        if (!Files.isRegularFile(recipe())) {
            missing.add("the initramfs recipe " + recipe() + " (run from a full Ringway checkout)");
        }
        return missing.isEmpty() ? Optional.empty()
                : Optional.of("QEMU net interop test skipped, missing: " + String.join(", ", missing));
    }

    /** The shared initramfs recipe, found from the module directory (Maven's working directory for tests). */
    private static Path recipe() {
        return Path.of("..", "storage-plane", "src", "test", "resources", "peers", "mkinitramfs.sh").toAbsolutePath().normalize();
    }

    private static Path guestRoot() {
        return Path.of("src", "test", "resources", "peers", "guest-root").toAbsolutePath();
    }

    /** Builds (or reuses) the initramfs: busybox, the virtio_net modules and this module's guest jobs. */
    static synchronized Path initramfs() throws IOException, InterruptedException {
        if (initramfs != null) {
            return initramfs;
        }
        String kver = kernelVersion();
        Files.createDirectories(WORK);
        Path out = WORK.resolve("net-guest-" + digest(kver + "|" + MODULES, recipe(), guestRoot()) + ".cpio.gz");
        QemuPeers.buildInitramfs(recipe(), out, WORK.resolve("mkinitramfs-net.log"),
                Map.of("KVER", kver, "MODS", MODULES, "EXTRA", guestRoot().toString()));
        initramfs = out;
        return out;
    }

    /**
     * Starts a guest whose NIC (MAC {@code mac}) is on the vhost-user {@code socket}; it runs the
     * guest job {@code job} with {@code params} on its kernel command line and powers off after it.
     */
    static QemuNetGuest start(Path socket, String mac, String job, List<String> params, Path console)
            throws IOException, InterruptedException {
        List<String> cmd = List.of(QEMU, "-M", "q35", "-accel", "tcg", "-smp", "1", "-m", "256",
                "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
                "-chardev", "socket,id=c0,path=" + socket, "-netdev", "vhost-user,id=n0,chardev=c0",
                "-device", "virtio-net-pci,netdev=n0,mac=" + mac + ",vectors=0",
                "-nographic", "-no-reboot", "-kernel", "/boot/vmlinuz-" + kernelVersion(), "-initrd", initramfs().toString(),
                "-append", "console=ttyS0 quiet panic=-1 peers.run=" + job + " " + String.join(" ", params));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(console.toFile()).start();
        p.getOutputStream().close();
        return new QemuNetGuest(p, console);
    }

    /** @return the console so far (ISO-8859-1: the firmware prints escape sequences) */
    String console() throws IOException {
        return Files.readString(console, StandardCharsets.ISO_8859_1).replace("\r", "");
    }

    /** Waits until the console contains {@code text} or QEMU ends. @return whether it appeared */
    boolean awaitConsole(String text, long timeoutMillis) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (System.nanoTime() < deadline) {
            if (console().contains(text)) {
                return true;
            }
            if (!process.isAlive()) {
                return console().contains(text);
            }
            TimeUnit.MILLISECONDS.sleep(50);
        }
        return false;
    }

    /** Waits for the guest to power off. @return whether it did within the timeout */
    boolean awaitExit(long timeoutMillis) throws InterruptedException {
        return process.waitFor(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    /** @return the console log file */
    Path consoleLog() {
        return console;
    }

    /** Kills QEMU if it still runs. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }
}

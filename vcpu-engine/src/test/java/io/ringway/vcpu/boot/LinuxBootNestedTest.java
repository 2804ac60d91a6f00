package io.ringway.vcpu.boot;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Boots the host's stock Debian kernel (/boot/vmlinuz-*) with a busybox initramfs on Ringway's VMM
 * inside nested-kvm.sh — a QEMU TCG guest whose /dev/kvm is kvm_amd, a hardware-style KVM (this
 * machine's own PVM cannot boot a stock kernel in usable time) — to init and ACPI power-off.
 *
 * <p>Skips only where qemu-system-x86_64 or a kernel is missing. Takes about a minute on a quiet
 * machine (L1 boot, the JVM under TCG, the kernel's decompressor); the deadline is
 * {@code -Dringway.nestedBoot.timeoutSeconds} (default 360) because a loaded 2-core machine makes it
 * several times slower. Console and VMM output: target/linux-boot/nested-boot.log.
 */
class LinuxBootNestedTest {
    private static final Path MODULE = Path.of("").toAbsolutePath();
    private static final Path WORK = MODULE.resolve("target/linux-boot");
    private static final Path PEERS = MODULE.resolve("src/test/resources/peers");
    private static final Path RECIPE = MODULE.resolve("../storage-plane/src/test/resources/peers/mkinitramfs.sh").normalize();
    private static final long TIMEOUT_S = Long.getLong("ringway.nestedBoot.timeoutSeconds", 360);

    @Test
    void aStockKernelBootsToInitAndPowersOff() throws Exception {
        assumeTrue(onPath("qemu-system-x86_64"), "skipped, needs qemu-system-x86_64 (apt-get install qemu-system-x86)");
        Optional<Path> kernel = newestKernel();
        assumeTrue(kernel.isPresent(), "skipped, needs a kernel in /boot/vmlinuz-* (apt-get install linux-image-amd64)");
        Files.createDirectories(WORK);

        Path initrd = WORK.resolve("boot-initramfs.cpio.gz");
        run(List.of(RECIPE.toString(), initrd.toString()), 120, WORK.resolve("mkinitramfs.log"),
            "MODS", " ", "EXTRA", PEERS.resolve("guest-root").toString());

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(PEERS.resolve("nested-kvm.sh").toString(), "-m", "1536", "--",
            java, "--enable-native-access=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
            "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", System.getProperty("java.class.path"),
            NestedBootGuest.class.getName(), kernel.get().toString(), initrd.toString(), "512", Long.toString(TIMEOUT_S - 60),
            "console=ttyS0 quiet pci=off reboot=k panic=-1 peers.run=boot"));
        Path log = WORK.resolve("nested-boot.log");
        long t0 = System.nanoTime();
        int rc = run(cmd, TIMEOUT_S, log, "PEERS_DIR", WORK.resolve("peers").toString(), "NESTED_TIMEOUT", Long.toString(TIMEOUT_S));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
        String out = Files.readString(log, StandardCharsets.UTF_8);
        System.out.println("nested Linux boot: " + seconds + " s in all; log " + log);

        assertTrue(out.contains("RINGWAY_BOOT_OK"), "the guest's init job did not print its marker on our UART; log " + log + ":\n" + tail(out));
        assertTrue(out.contains("RINGWAY_VM_RESULT exit=POWER_OFF status=0"), "the guest did not power off through ACPI S5; log " + log + ":\n" + tail(out));
        assertTrue(out.contains("mem_kb=") && !out.contains("cpus=0"), out);
        assertEquals(0, rc, "nested-kvm.sh exit status (the VMM's); log " + log);
    }

    private static Optional<Path> newestKernel() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/boot"))) {
            return s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-") && Files.isReadable(p))
                .max(Comparator.comparing(p -> p.getFileName().toString()));
        }
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    /** Runs {@code cmd} with extra environment pairs, output to {@code log}; fails the test past the deadline. */
    private static int run(List<String> cmd, long timeoutSeconds, Path log, String... env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        for (int i = 0; i < env.length; i += 2) {
            pb.environment().put(env[i], env[i + 1]);
        }
        Process p = pb.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            fail(cmd.get(0) + " did not finish within " + timeoutSeconds + " s; log " + log + ":\n" + tail(Files.readString(log)));
        }
        int rc = p.exitValue();
        if (cmd.get(0).endsWith("mkinitramfs.sh") && rc != 0) {
            fail("initramfs build failed (" + rc + "): " + Files.readString(log));
        }
        return rc;
    }

    private static String tail(String s) {
        return s.length() <= 4000 ? s : s.substring(s.length() - 4000);
    }
}

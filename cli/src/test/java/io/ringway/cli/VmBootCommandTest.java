package io.ringway.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@code ringway vm boot}: bad input gets one line naming the problem and status 2 (no KVM needed). */
class VmBootCommandTest {
    @TempDir
    Path dir;

    private String err;

    private int boot(String... args) {
        PrintStream saved = System.err;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
        try {
            return new CommandLine(new VmBootCommand()).execute(args);
        } finally {
            System.setErr(saved);
            err = buffer.toString(StandardCharsets.UTF_8);
        }
    }

    @Test
    void aFileThatIsNotAKernelIsNamedInOneLine() throws Exception {
        Path junk = Files.write(dir.resolve("junk.img"), new byte[4096]);
        assertEquals(2, boot("--kernel", junk.toString()));
        assertEquals("ringway vm boot: " + junk + ": not a bzImage: no \"HdrS\" magic at offset 0x202 (found 0x0)\n", err);
    }

    @Test
    void aMissingKernelFileIsNamed() {
        Path missing = dir.resolve("nothere");
        assertEquals(2, boot("--kernel", missing.toString()));
        assertEquals("ringway vm boot: " + missing + ": no such file\n", err);
    }

    @Test
    void aMemorySizeThatIsNotASizeIsNamed() throws Exception {
        Path junk = Files.write(dir.resolve("k"), new byte[16]);
        assertEquals(2, boot("--kernel", junk.toString(), "--memory", "lots"));
        assertEquals(1, err.lines().count(), err);
        assertEquals(true, err.startsWith("ringway vm boot: --memory lots: "), err);
    }

    @Test
    void aBadNetSpecIsNamedInOneLine() throws Exception {
        Path junk = Files.write(dir.resolve("k"), new byte[16]);
        assertEquals(2, boot("--kernel", junk.toString(), "--net", "loop"));
        assertEquals("ringway vm boot: --net loop: expected switch, tap:NAME or vhost:SOCK (then ,mac=XX:XX:XX:XX:XX:XX)\n", err);
    }

    @Test
    void aBadMacIsNamedInOneLine() throws Exception {
        Path junk = Files.write(dir.resolve("k"), new byte[16]);
        assertEquals(2, boot("--kernel", junk.toString(), "--net", "switch,mac=52:54:00"));
        assertEquals(1, err.lines().count(), err);
        assertEquals(true, err.startsWith("ringway vm boot: --net switch,mac=52:54:00: mac= wants six hex bytes"), err);
    }

    @Test
    void aVhostNicWithoutBackEndIsNamedInOneLine() throws Exception {
        Path sock = dir.resolve("nobody.sock");
        // the kernel file is read and checked before the NICs are built: a real one gets that far
        java.util.Optional<Path> real;
        try (var s = Files.list(Path.of("/boot"))) {
            real = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-") && Files.isReadable(p)).findFirst();
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(real.isPresent(), "skipped, needs a kernel in /boot/vmlinuz-* (apt-get install linux-image-amd64)");
        assertEquals(2, boot("--kernel", real.get().toString(), "--net", "vhost:" + sock));
        assertEquals(1, err.lines().count(), err);
        assertEquals(true, err.startsWith("ringway vm boot: --net: ") && err.contains("nobody.sock"), err);
    }

    @Test
    void guestRamTheKernelRefusesIsNamedInOneLine() throws Exception {
        java.util.Optional<Path> real;
        try (var s = Files.list(Path.of("/boot"))) {
            real = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-") && Files.isReadable(p)).findFirst();
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(real.isPresent(), "skipped, needs a kernel in /boot/vmlinuz-* (apt-get install linux-image-amd64)");
        Path kvm = Path.of("/dev/kvm");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(kvm) && Files.isWritable(kvm), "skipped, needs read-write /dev/kvm");
        // 256 TiB: more than mmap can give (47-bit address space), so the VM's RAM fails to map whatever the overcommit mode
        assertEquals(2, boot("--kernel", real.get().toString(), "--memory", "256T"));
        assertEquals(1, err.lines().count(), err);
        assertEquals(true, err.startsWith("ringway vm boot: guest RAM of 268435456 MiB: ") && err.contains("ENOMEM; see vm.overcommit_memory)"), err);
    }

    @Test
    void aNicWithPciOffOnTheCommandLineIsRefusedByName() throws Exception {
        Path junk = Files.writeString(dir.resolve("kernel"), "not a kernel");
        assertEquals(2, boot("--kernel", junk.toString(), "--net", "switch", "--cmdline", "console=ttyS0 pci=off"));
        assertEquals("ringway vm boot: --net puts NICs on PCI, but --cmdline says pci=off\n", err);
    }

    @Test
    void aDiskWithPciOffOnTheCommandLineIsRefusedByName() throws Exception {
        Path junk = Files.writeString(dir.resolve("kernel"), "not a kernel");
        assertEquals(2, boot("--kernel", junk.toString(), "--blk", "malloc:16M", "--cmdline", "console=ttyS0 pci=off"));
        assertEquals("ringway vm boot: --blk puts disks on PCI, but --cmdline says pci=off\n", err);
    }

    @Test
    void theLaunchersFastPathRunsTheSameCommandAndNamesItInUsageErrors() {
        PrintStream saved = System.err;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
        Path missing = dir.resolve("nothere");
        try {
            assertEquals(2, Main.bootFastPath(new String[] {"vm", "boot", "--kernel", missing.toString()}));
            assertEquals("ringway vm boot: " + missing + ": no such file\n", buffer.toString(StandardCharsets.UTF_8));
            buffer.reset();
            assertEquals(2, Main.bootFastPath(new String[] {"vm", "boot", "--cpus", "x", "--kernel", missing.toString()}));
            String usage = buffer.toString(StandardCharsets.UTF_8);
            assertEquals(true, usage.contains("Usage: ringway vm boot "), usage);
        } finally {
            System.setErr(saved);
        }
    }
}

package io.ringway.vcpu.boot;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import static io.ringway.vcpu.boot.NestedKvm.newestKernel;
import static io.ringway.vcpu.boot.NestedKvm.onPath;
import static io.ringway.vcpu.boot.NestedKvm.run;
import static io.ringway.vcpu.boot.NestedKvm.tail;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Boots the host's stock Debian kernel with a busybox initramfs on Ringway's VMM inside
 * nested-kvm.sh — a QEMU TCG guest whose /dev/kvm is kvm_amd, a hardware-style KVM (this machine's
 * own PVM cannot boot a stock kernel in usable time) — to init and ACPI power-off, twice in one JVM:
 * the bzImage (/boot/vmlinuz-*) through the 64-bit boot protocol with 2 vCPUs and pci=off (the guest
 * brings the AP up by INIT/SIPI and init sees both CPUs online), then the uncompressed vmlinux taken
 * out of it (its xz payload) through its PVH entry point with 1 vCPU and PCI on (with pci=noearly,
 * which spares the AMD GART search's scan of 256 buses, ~16,400 port exits, see {@link LinuxVm#PCI_CMDLINE}):
 * Linux finds the root bridge and its [bus 00] in the DSDT and enumerates the host bridge through
 * configuration mechanism #1, touching no other bus.
 * Both guests see the CPU topology {@link CpuidTopology} describes (one package, a core per vCPU,
 * APIC ids as in the MADT) and log no "[Firmware Bug]".
 *
 * <p>Skips only where qemu-system-x86_64 or a kernel is missing. Takes about a minute on a quiet
 * machine (L1 boot, the JVM under TCG, the kernel's decompressor); the deadline is
 * {@code -Dringway.nestedBoot.timeoutSeconds} (default 480, for both boots) because a loaded 2-core machine makes it
 * several times slower. Console and VMM output: target/linux-boot/nested-boot.log.
 */
class LinuxBootNestedTest {
    private static final Path MODULE = Path.of("").toAbsolutePath();
    private static final Path WORK = MODULE.resolve("target/linux-boot");
    private static final Path PEERS = MODULE.resolve("src/test/resources/peers");
    private static final Path RECIPE = MODULE.resolve("../storage-plane/src/test/resources/peers/mkinitramfs.sh").normalize();
    private static final long TIMEOUT_S = Long.getLong("ringway.nestedBoot.timeoutSeconds", 480);

    @Test
    void aStockKernelBootsToInitAndPowersOffAsBzImageAndAsPvhVmlinux() throws Exception {
        assumeTrue(onPath("qemu-system-x86_64"), "skipped, needs qemu-system-x86_64 (apt-get install qemu-system-x86)");
        Optional<Path> kernel = newestKernel();
        assumeTrue(kernel.isPresent(), "skipped, needs a kernel in /boot/vmlinuz-* (apt-get install linux-image-amd64)");
        Files.createDirectories(WORK);

        Path initrd = WORK.resolve("boot-initramfs.cpio.gz");
        run(List.of(RECIPE.toString(), initrd.toString()), 120, WORK.resolve("mkinitramfs.log"),
            "MODS", " ", "EXTRA", PEERS.resolve("guest-root").toString());

        Path vmlinux = WORK.resolve("vmlinux");
        extractVmlinux(kernel.get(), vmlinux);

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(PEERS.resolve("nested-kvm.sh").toString(), "-m", "1536", "--",
            java, "--enable-native-access=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
            "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
            NestedBootGuest.class.getName(), initrd.toString(), "512", Long.toString(TIMEOUT_S / 2 - 30),
            "console=ttyS0 quiet reboot=k panic=-1 peers.run=boot", "2:pci=off:" + kernel.get(), "1:" + LinuxVm.PCI_CMDLINE + ":" + vmlinux));
        Path log = WORK.resolve("nested-boot.log");
        long t0 = System.nanoTime();
        // The project (classes, initramfs, vmlinux) must be seen inside L1 even when it lives under /tmp.
        int rc = run(cmd, TIMEOUT_S, log, "PEERS_DIR", WORK.resolve("peers").toString(), "NESTED_TIMEOUT", Long.toString(TIMEOUT_S),
            "NESTED_SHARE", MODULE.getParent().toString());
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
        String out = Files.readString(log, StandardCharsets.UTF_8);
        System.out.println("nested Linux boot: " + seconds + " s in all; log " + log);
        out.lines().filter(l -> l.startsWith("RINGWAY_")).forEach(System.out::println);

        assertEquals(2, out.lines().filter(l -> l.startsWith("RINGWAY_BOOT_OK")).count(),
            "each guest's init job prints its marker on our UART; log " + log + ":\n" + tail(out));
        assertTrue(out.contains("kernel=" + kernel.get().getFileName() + " cpus=2 entry=LONG_64 exit=POWER_OFF status=0"),
            "the bzImage guest did not power off through ACPI S5; log " + log + ":\n" + tail(out));
        assertTrue(out.contains("kernel=vmlinux cpus=1 entry=PVH_32 exit=POWER_OFF status=0"),
            "the vmlinux (PVH) guest did not power off through ACPI S5; log " + log + ":\n" + tail(out));
        List<String> booted = out.lines().filter(l -> l.startsWith("RINGWAY_BOOT_OK")).toList();
        assertTrue(booted.get(0).contains(" cpus=2 online=0-1 mem_kb="),
            "the 2-vCPU guest brought its AP up (2 CPUs in /proc/cpuinfo, 0-1 online): " + booted.get(0));
        assertTrue(booted.get(1).contains(" cpus=1 online=0 mem_kb="), "the 1-vCPU guest sees one CPU: " + booted.get(1));
        // CpuidTopology: one package of N cores whose APIC ids are the MADT's, and no firmware complaint
        List<String> topology = out.lines().filter(l -> l.startsWith("RINGWAY_TOPO ")).toList();
        assertEquals(List.of("RINGWAY_TOPO packages=1 core_ids=0,1, siblings=2, cpu_cores=2, apicids=0,1, fw_bug=0",
                "RINGWAY_TOPO packages=1 core_ids=0, siblings=1, cpu_cores=1, apicids=0, fw_bug=0"), topology,
            "the guests' /proc/cpuinfo topology:\n" + tail(out));
        assertTrue(out.contains("smpboot: Max logical packages: 1"), "Linux counts one package:\n" + tail(out));
        List<String> pci = out.lines().filter(l -> l.startsWith("RINGWAY_PCI ")).toList();
        assertEquals(List.of("RINGWAY_PCI 0000:00:00.0 0x1b36 0x0008 0x060000"), pci,
            "only the PCI guest enumerates, and finds the host bridge at 00:00.0:\n" + tail(out));
        assertTrue(out.contains("boot_timer_ms=") && !out.contains("boot_timer_ms=-1"), "init wrote the boot-timer port:\n" + tail(out));
        String pvh = out.lines().filter(l -> l.startsWith("RINGWAY_VM_RESULT kernel=vmlinux")).findFirst().orElseThrow();
        long exits = Long.parseLong(pvh.replaceAll(".* after (\\d+) exits.*", "$1"));
        // measured: 633-641 exits with pci=noearly; 17,329 with iommu=noaperture alone (search_agp_bridge over 256 buses),
        // 33,862 with neither (the aperture search too); 520 with pci=off. Every console byte is an exit too: with the
        // topology lines the guest job prints (RINGWAY_TOPO), 1,350 in CI; the bound only has to tell the scan apart
        assertTrue(exits < 5_000, "pci=noearly: no early scan of 256 buses through 0xCF8/0xCFC (~16,400 more exits): " + pvh);
        String config = out.lines().filter(l -> l.startsWith("RINGWAY_PCI_CONFIG kernel=vmlinux")).findFirst().orElseThrow();
        assertTrue(config.contains(" buses_addressed=1 highest_bus=0"), "the PCI guest addresses bus 0 only, the range PCI0's _CRS gives: " + config);
        long cycles = Long.parseLong(config.replaceAll(".* config_address_writes=(\\d+) .*", "$1"));
        // measured: 94 (enumerating 00:00.0 and probing the 31 empty slots)
        assertTrue(cycles < 200, "config cycles of enumerating one bus: " + config);
        // guest RAM without vhost-user devices: anonymous memory advised MADV_HUGEPAGE, huge wherever L1's THP allows it
        List<String> ram = out.lines().filter(l -> l.startsWith("RINGWAY_GUEST_RAM ")).toList();
        assertEquals(2, ram.size(), "one guest RAM line per guest:\n" + tail(out));
        for (String line : ram) {
            assertTrue(line.contains(" backing=low 512 MiB at 0x0: anonymous memory at a 2 MiB boundary, MADV_HUGEPAGE"), line);
            if (line.contains("enabled: madvise)") || line.contains("enabled: always)")) {
                long huge = Long.parseLong(line.replaceAll("RINGWAY_GUEST_RAM huge_page_bytes=(-?\\d+) .*", "$1"));
                assertTrue(huge >= 16L << 20, "a booted guest touches tens of MiB of its RAM (kernel, initramfs, memmap): huge pages should back them, 4 KiB pages show 0: " + line);
            }
        }
        assertEquals(0, rc, "nested-kvm.sh exit status (the VMM's); log " + log);
    }

    /** The vmlinux inside a bzImage: its payload (boot.rst payload_offset, xz here) decompressed with xz. */
    private static void extractVmlinux(Path bzImage, Path out) throws Exception {
        if (Files.exists(out) && Files.getLastModifiedTime(out).compareTo(Files.getLastModifiedTime(bzImage)) > 0) {
            return;
        }
        MemorySegment image = MemorySegment.ofArray(Files.readAllBytes(bzImage));
        SetupHeader header = SetupHeader.parse(image, bzImage.toString());
        long payload = header.protectedModeOffset() + Integer.toUnsignedLong(image.get(JAVA_INT_UNALIGNED, 0x248));
        byte[] magic = image.asSlice(payload, 6).toArray(JAVA_BYTE);
        assumeTrue(Arrays.equals(magic, new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z', 0}),
            "skipped, the kernel's payload is not xz (this test takes the vmlinux out of an xz bzImage)");
        Path xz = WORK.resolve("payload.xz");
        Files.write(xz, image.asSlice(payload, image.byteSize() - payload).toArray(JAVA_BYTE));
        Path tmp = WORK.resolve("vmlinux.tmp");
        Process p = new ProcessBuilder("xz", "-dc", "--single-stream", xz.toString()).redirectOutput(tmp.toFile())
            .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        assertEquals(0, p.waitFor(), "xz -dc of the kernel payload");
        Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.delete(xz);
    }
}

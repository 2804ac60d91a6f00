package io.ringway.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import static io.ringway.vcpu.boot.NestedKvm.newestKernelWithModules;
import static io.ringway.vcpu.boot.NestedKvm.onPath;
import static io.ringway.vcpu.boot.NestedKvm.run;
import static io.ringway.vcpu.boot.NestedKvm.tail;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Two Linux guests booted by {@code ringway vm boot} ping each other through {@code ringway net --mode
 * switch}, inside nested-kvm.sh (a QEMU TCG guest "L1" whose /dev/kvm is a hardware-style KVM; this
 * machine's PVM cannot boot a stock kernel in usable time). Three processes in L1
 * (src/test/resources/peers/vm-net-ping.sh): the switch with two vhost-user sockets, and one VMM per
 * guest with {@code --net vhost:SOCK,mac=...}: the host's Debian kernel drives the NIC with its own
 * virtio_pci and virtio_net modules (modern virtio-pci, MSI-X through irqfds, notifications through
 * ioeventfds, the rings served by the switch process through the vhost-user front-end). Each guest's
 * init (packet-plane's guest job netping.sh, role both) retries a ping until the other answers, sends
 * {@code ping -c 3 -W 2}, stays up until the other's three echo requests arrived, and powers off.
 * Guest A also has a second NIC, {@code --net tap:rwvmtap0} (eth1), and pings L1's address on that tap
 * after the switch ping (a second NIC rather than a third guest: a JVM's start under TCG costs half a
 * minute of L1's one CPU).
 *
 * <p>Checks: both guests saw their own MAC (the VMM's, not the back-end's) on a virtio_net eth0, got 3
 * of 3 replies and powered off (vm boot exit status 0); the switch learned one address on each port
 * and forwarded frames both ways; guest A got 3 of 3 replies from L1 over the tap. Prints boot-to-ping times.
 * Skips only where qemu-system-x86_64, a kernel, busybox or cpio is missing. Log:
 * cli/target/vm-net/nested-net.log. Deadline {@code -Dringway.nestedNet.timeoutSeconds} (default 420:
 * a loaded 2-core machine is several times slower than the ~2-3 minutes this takes on a quiet one).
 */
class VmBootNetNestedTest {
    private static final Path MODULE = Path.of("").toAbsolutePath();
    private static final Path ROOT = MODULE.getParent();
    private static final Path WORK = MODULE.resolve("target/vm-net");
    private static final Path NESTED = ROOT.resolve("vcpu-engine/src/test/resources/peers/nested-kvm.sh");
    private static final Path RECIPE = ROOT.resolve("storage-plane/src/test/resources/peers/mkinitramfs.sh");
    private static final Path GUEST_JOBS = ROOT.resolve("packet-plane/src/test/resources/peers/guest-root");
    private static final Path SCRIPT = MODULE.resolve("src/test/resources/peers/vm-net-ping.sh");
    /** virtio_net and its dependencies (failover, net_failover) over modern virtio-pci; modules.dep resolves the rest. */
    private static final String MODULES = "virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci"
        + " failover net_failover virtio_net";
    private static final long TIMEOUT_S = Long.getLong("ringway.nestedNet.timeoutSeconds", 420);

    @Test
    void twoGuestsPingEachOtherThroughRingwaysSwitchAndOneGuestPingsL1OverATap() throws Exception {
        assumeTrue(onPath("qemu-system-x86_64"), "skipped, needs qemu-system-x86_64 (apt-get install qemu-system-x86)");
        Optional<Path> kernel = newestKernelWithModules();
        assumeTrue(kernel.isPresent(), "skipped, needs a kernel in /boot/vmlinuz-* (apt-get install linux-image-amd64)");
        assumeTrue(onPath("busybox") || Files.isExecutable(Path.of("/bin/busybox")), "skipped, needs busybox (apt-get install busybox-static)");
        assumeTrue(onPath("cpio"), "skipped, needs cpio (apt-get install cpio)");
        Files.createDirectories(WORK);

        Path initrd = WORK.resolve("net-initramfs.cpio.gz");
        String kver = kernel.get().getFileName().toString().substring("vmlinuz-".length());
        int built = run(List.of("bash", RECIPE.toString(), initrd.toString()), 120, WORK.resolve("mkinitramfs.log"),
            "KVER", kver, "MODS", MODULES, "EXTRA", GUEST_JOBS.toString());
        assertEquals(0, built, "initramfs recipe: " + Files.readString(WORK.resolve("mkinitramfs.log")));

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = WORK.resolve("nested-net.log");
        long t0 = System.nanoTime();
        int rc = run(List.of(NESTED.toString(), "-m", "2048", "--", "bash", SCRIPT.toString(), java,
                System.getProperty("java.class.path"), kernel.get().toString(), initrd.toString(), Long.toString(TIMEOUT_S / 2), "tap",
                io.ringway.vcpu.boot.LinuxVm.PCI_CMDLINE),
            TIMEOUT_S, log, "PEERS_DIR", WORK.resolve("peers").toString(), "NESTED_TIMEOUT", Long.toString(TIMEOUT_S),
            "NESTED_SHARE", ROOT.toString());
        String out = Files.readString(log, StandardCharsets.ISO_8859_1);
        System.out.printf("nested two-guest ping: %d s in all; log %s%n", TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0), log);
        out.lines().filter(l -> l.contains("RINGWAY_") || l.contains("VMNET_EXIT") || l.contains("| ringway vm boot:")
            || l.contains("switch vhost")).forEach(System.out::println);

        for (String g : new String[] {"A", "B"}) {
            String mac = g.equals("A") ? "52:54:00:21:50:01" : "52:54:00:21:50:02";
            assertTrue(Pattern.compile("(?m)^" + g + " [0-9.]+\\| RINGWAY_NET eth0 " + mac + " .* driver=virtio_net$").matcher(out).find(),
                "guest " + g + " has a virtio_net eth0 with the MAC its VMM set; log " + log + ":\n" + tail(out));
            assertTrue(Pattern.compile("(?m)^" + g + " [0-9.]+\\| RINGWAY_PING rc=0").matcher(out).find()
                    && Pattern.compile("(?m)^" + g + " [0-9.]+\\| 3 packets transmitted, 3 packets received").matcher(out).find(),
                "guest " + g + " got 3 of 3 replies; log " + log + ":\n" + tail(out));
            assertTrue(Pattern.compile("(?m)^" + g + " [0-9.]+\\| RINGWAY_PING_DONE rc=0 echoes_in=([4-9]|\\d\\d)").matcher(out).find(),
                "guest " + g + " answered the other's pings and finished; log " + log + ":\n" + tail(out));
            assertTrue(out.contains("| VMNET_EXIT " + g + " 0"), "guest " + g + " powered off, vm boot exit status 0; log " + log + ":\n" + tail(out));
            Matcher exits = Pattern.compile("(?m)^" + g + " [0-9.]+\\| ringway vm boot: guest powered off after (\\d+) exits").matcher(out);
            // measured 1,928 (B) and 3,170 (A, with the tap) with LinuxVm.PCI_CMDLINE (pci=noearly); 35,167 and 36,417 without
            assertTrue(exits.find() && Long.parseLong(exits.group(1)) < 6_000,
                "guest " + g + " powered off without the early PCI bus scans (< 6,000 exits); log " + log + ":\n" + tail(out));
            System.out.println("guest " + g + ": " + pingTimes(out, g));
        }
        for (String port : new String[] {"vhost0", "vhost1"}) {
            Matcher m = Pattern.compile("(?m)^SW [0-9.]+\\|\\s+switch " + port + ": rx ([\\d,]+), tx ([\\d,]+)(?: \\(zero-copy [\\d,]+\\))?, flooded [\\d,]+, learned ([\\d,]+)")
                .matcher(out);
            assertTrue(m.find(), "the switch printed its counters for " + port + " at SIGTERM; log " + log + ":\n" + tail(out));
            long rx = Long.parseLong(m.group(1).replace(",", ""));
            long tx = Long.parseLong(m.group(2).replace(",", ""));
            long learned = Long.parseLong(m.group(3).replace(",", ""));
            // each guest sends at least an ARP request or reply, 4 echo requests (probe + 3) and 4 replies
            assertTrue(rx >= 8 && tx >= 8, port + ": switch rx " + rx + ", tx " + tx);
            assertEquals(1, learned, port + ": the switch learned exactly its guest's address there");
        }
        assertTrue(out.contains("| VMNET_EXIT SW 143") || out.contains("| VMNET_EXIT SW 0"), "the switch ended on SIGTERM:\n" + tail(out));

        assertTrue(Pattern.compile("(?m)^A [0-9.]+\\| RINGWAY_NET eth1 52:54:00:21:50:03 .* driver=virtio_net$").matcher(out).find(),
            "guest A has its second NIC (tap) as eth1; log " + log + ":\n" + tail(out));
        assertTrue(Pattern.compile("(?m)^A [0-9.]+\\| RINGWAY_PING2 rc=0").matcher(out).find(),
            "guest A pinged L1 through tap rwvmtap0 (3 of 3); log " + log + ":\n" + tail(out));
        Matcher tap = Pattern.compile("(?m)^A [0-9.]+\\| ringway vm boot: vm-net1 52:54:00:21:50:03 tap:rwvmtap0: guest sent (\\d+), guest received (\\d+)")
            .matcher(out);
        assertTrue(tap.find(), "guest A's VMM reports its tap NIC's counters; log " + log + ":\n" + tail(out));
        assertTrue(Long.parseLong(tap.group(1)) >= 4 && Long.parseLong(tap.group(2)) >= 4,
            "the tap NIC carried ARP and 3+ echo requests out, ARP and 3+ replies in: " + tap.group());
        assertEquals(0, rc, "nested-kvm.sh exit status (the script's); log " + log);
    }

    /** "first reply at S s after the script started (guest uptime U s)". */
    private static String pingTimes(String out, String guest) {
        Matcher m = Pattern.compile("(?m)^" + guest + " ([0-9.]+)\\| RINGWAY_NET peer answered after (\\d+) failed tries, uptime ([0-9.]+)").matcher(out);
        return m.find() ? "first reply " + m.group(1) + " s after the processes started (guest uptime " + m.group(3) + " s, "
            + m.group(2) + " unanswered tries before)" : "no first-reply line";
    }
}

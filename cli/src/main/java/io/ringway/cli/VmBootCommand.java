package io.ringway.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.storage.bdev.BlockDeviceSpec;
import io.ringway.vcpu.boot.BadKernelException;
import io.ringway.vcpu.boot.LinuxLoader;
import io.ringway.vcpu.boot.LinuxVm;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmUnavailableException;
import io.ringway.vcpu.net.GuestNics;
import io.ringway.vcpu.net.NicSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringway vm boot}: boot a Linux kernel on Ringway's VMM; the exit status is the guest's. */
@Command(name = "boot", mixinStandardHelpOptions = true,
        description = {"Boot a Linux kernel (bzImage, or an uncompressed vmlinux ELF) with an optional initrd on --cpus KVM vCPUs,",
            "console on a COM1 8250 UART. Exits with the guest's status: 0 after an ACPI power-off or a reset, the value",
            "written to the debug-exit port 0x501, 1 when the guest faulted, 124 on --timeout, 2 for bad input."})
final class VmBootCommand implements Callable<Integer> {
    @Option(names = "--kernel", required = true, paramLabel = "FILE", description = "bzImage or vmlinux.")
    Path kernel;

    @Option(names = "--initrd", paramLabel = "FILE", description = "Initial ramdisk (cpio, compressed or not).")
    Path initrd;

    @Option(names = "--cmdline", paramLabel = "S",
            description = {"Kernel command line (default: \"" + LinuxVm.DEFAULT_CMDLINE + " pci=off\" without devices, \"" + LinuxVm.DEFAULT_CMDLINE
                + " " + LinuxVm.PCI_CMDLINE + "\" with --blk or --net: pci=noearly skips Linux's early PCI scans, among them the AMD GART search",
                "over 256 buses (~16,400 port exits) on an AMD family 0Fh-15h CPU model such as the nested test's QEMU TCG CPU)."})
    String cmdline;

    @Option(names = "--blk", paramLabel = "BDEV-SPEC|vhost:SOCK",
            description = {"A virtio-blk disk on PCI (repeatable; /dev/vda, /dev/vdb, ... in order): malloc:SIZE, null:SIZE or file:PATH[,direct]",
                "served in this process on a data-plane thread of its own, or vhost:SOCK, a vhost-user-blk back-end (ringway blk,",
                "qemu-storage-daemon) that gets the rings and serves them without this process."})
    java.util.List<String> blk = new java.util.ArrayList<>();

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "1", description = "vCPUs, 1..254, started by the guest through INIT/SIPI (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--memory", paramLabel = "SIZE", defaultValue = "512M", description = "Guest RAM, like 512M or 2G (default: ${DEFAULT-VALUE}).")
    String memory;

    @Option(names = "--console", paramLabel = "stdio|file:F", defaultValue = "stdio", description = "Where the UART's output goes (default: ${DEFAULT-VALUE}).")
    String console;

    @Option(names = "--net", paramLabel = "switch|tap:NAME|vhost:SOCK[,mac=M]",
            description = "A virtio-net NIC on PCI (repeatable; eth0, eth1, ... in order). switch: this VM's in-process L2 switch,"
                + " joined by all its --net switch NICs (a guest's own NICs on one segment); tap:NAME: a tap device NAME (created down:"
                + " ip link set NAME up and address it on the host); vhost:SOCK: a vhost-user-net back-end listening on SOCK (ringway net,"
                + " DPDK's vhost PMD) serves the rings. mac=52:54:00:12:34:56 sets the MAC (default 52:54:PP:PP:PP:II from the pid and"
                + " the NIC's index). switch and tap NICs run on one net data-plane thread.")
    List<String> net = new ArrayList<>();

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "0", description = "Stop the guest after this long; 0 waits for ever (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--hugepages", description = {"Back guest RAM with reserved 2 MiB huge pages (a hugetlb memfd; with too few reserved it",
        "falls back to normal pages and says so). Without it guest RAM is anonymous memory advised MADV_HUGEPAGE (transparent",
        "huge pages, as QEMU's RAM), or a memfd when a vhost: device's back-end must map it. KVM maps the guest with 2 MiB pages",
        "where the host's are."})
    boolean hugepages;

    @Option(names = "--timings", description = "Print where the time to the guest's boot-timer write went (JVM start, main(), VM creation, guest run) on stderr.")
    boolean timings;

    @Override
    public Integer call() {
        BootTimings clock = new BootTimings(Main.MAIN_NANOS);
        long bytes;
        try {
            bytes = BlockDeviceSpec.parseSize(memory);
        } catch (IllegalArgumentException e) {
            System.err.println("ringway vm boot: --memory " + memory + ": " + e.getMessage());
            return 2;
        }
        List<NicSpec> nicSpecs = new ArrayList<>();
        try {
            for (int i = 0; i < net.size(); i++) {
                nicSpecs.add(NicSpec.parse(net.get(i), i, ProcessHandle.current().pid()));
            }
        } catch (IllegalArgumentException e) {
            System.err.println("ringway vm boot: " + e.getMessage());
            return 2;
        }
        boolean devices = !blk.isEmpty() || !nicSpecs.isEmpty();
        String line = cmdline != null ? cmdline
            : LinuxVm.DEFAULT_CMDLINE + " " + (devices ? LinuxVm.PCI_CMDLINE : "pci=off");
        if (devices && java.util.Arrays.asList(line.split("\\s+")).contains("pci=off")) {
            System.err.println("ringway vm boot: " + (blk.isEmpty() ? "--net puts NICs" : "--blk puts disks") + " on PCI, but --cmdline says pci=off");
            return 2;
        }
        MemorySegment kernelImage;
        MemorySegment initrdImage;
        try {
            kernelImage = read(kernel);
            initrdImage = initrd == null ? null : read(initrd);
            LinuxLoader.check(kernelImage, kernel.toString()); // a bad file is named as such, KVM or not
        } catch (BadKernelException e) {
            System.err.println("ringway vm boot: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            System.err.println("ringway vm boot: " + e.getMessage());
            return 2;
        }
        GuestNics nics;
        try {
            nics = nicSpecs.isEmpty() ? null : GuestNics.create(nicSpecs, -1, StatsRegistry.process());
        } catch (RuntimeException e) {
            System.err.println("ringway vm boot: --net: " + e.getMessage());
            return 2;
        }
        clock.creating();
        // the VM (and its virtio-pci functions) closes before the NICs it serves
        try (GuestNics ownedNics = nics;
             OutputStream out = openConsole();
             Kvm kvm = Kvm.open();
             LinuxVm vm = LinuxVm.create(kvm, cpus, bytes, ramBacking(nicSpecs), kernelImage, kernel.toString(),
                 initrdImage, initrd == null ? null : initrd.toString(), line, out)) {
            for (String spec : blk) {
                vm.addBlk(spec);
            }
            if (nics != null) {
                for (GuestNics.Nic nic : nics.nics()) {
                    vm.addVirtioPci(nic.name(), nic.device(), nic.inProcess() ? nics.lcore() : null);
                }
            }
            clock.created();
            LinuxVm.Result result = vm.run(timeoutSeconds <= 0 ? Duration.ofDays(365) : Duration.ofSeconds(timeoutSeconds));
            out.flush();
            System.err.println("ringway vm boot: " + result.report());
            if (nics != null) {
                nics.report().forEach(l -> System.err.println("ringway vm boot: " + l));
            }
            if (timings) {
                System.err.println("ringway vm boot: " + clock.line(vm.bootTimerWriteNanos()));
                System.err.println("ringway vm boot: guest RAM: " + vm.ramBacking() + "; huge pages map " + hugeMib(vm.ramHugePageBytes())
                    + " of " + (bytes >> 20) + " MiB");
            }
            return result.status();
        } catch (BadKernelException | KvmUnavailableException | IllegalArgumentException e) {
            System.err.println("ringway vm boot: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            System.err.println("ringway vm boot: " + e.getMessage());
            return 2;
        }
    }

    /**
     * 2 MiB pages for guest RAM by default, as QEMU's anonymous RAM gets them: anonymous memory with MADV_HUGEPAGE
     * unless a vhost-user back-end must map guest RAM from an fd (then a memfd); --hugepages asks for hugetlb.
     */
    private LinuxVm.RamBacking ramBacking(List<NicSpec> nicSpecs) {
        boolean vhost = blk.stream().anyMatch(b -> b.startsWith("vhost:")) || nicSpecs.stream().anyMatch(n -> n.kind() == NicSpec.Kind.VHOST);
        return LinuxVm.RamBacking.choose(hugepages, vhost);
    }

    private static String hugeMib(long bytes) {
        return bytes < 0 ? "? (no /proc/self/smaps)" : (bytes >> 20) + " MiB";
    }

    private OutputStream openConsole() throws IOException {
        // the UART hands over whole lines: no buffering stream in between
        if (console.equals("stdio")) {
            return new FileOutputStream(FileDescriptor.out) {
                @Override
                public void close() {
                    // stdout stays open for our own messages
                }
            };
        }
        if (console.startsWith("file:") && console.length() > 5) {
            return Files.newOutputStream(Path.of(console.substring(5)));
        }
        throw new IllegalArgumentException("--console must be stdio or file:PATH, got " + console);
    }

    private static MemorySegment read(Path file) throws IOException {
        try {
            return MemorySegment.ofArray(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": no such file");
        } catch (IOException e) {
            throw new IOException(file + ": cannot read: " + e.getMessage());
        }
    }
}

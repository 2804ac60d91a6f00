package io.ringway.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.ringway.vcpu.boot.LinuxVm;
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

    @Option(names = "--cpus", paramLabel = "N", defaultValue = VmBootOptions.DEFAULT_CPUS, description = "vCPUs, 1..254, started by the guest through INIT/SIPI (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--memory", paramLabel = "SIZE", defaultValue = VmBootOptions.DEFAULT_MEMORY, description = "Guest RAM, like 512M or 2G (default: ${DEFAULT-VALUE}).")
    String memory;

    @Option(names = "--console", paramLabel = "stdio|file:F", defaultValue = VmBootOptions.DEFAULT_CONSOLE, description = "Where the UART's output goes (default: ${DEFAULT-VALUE}).")
    String console;

    @Option(names = "--net", paramLabel = "switch|tap:NAME|vhost:SOCK[,mac=M]",
            description = "A virtio-net NIC on PCI (repeatable; eth0, eth1, ... in order). switch: this VM's in-process L2 switch,"
                + " joined by all its --net switch NICs (a guest's own NICs on one segment); tap:NAME: a tap device NAME (created down:"
                + " ip link set NAME up and address it on the host); vhost:SOCK: a vhost-user-net back-end listening on SOCK (ringway net,"
                + " DPDK's vhost PMD) serves the rings. mac=52:54:00:12:34:56 sets the MAC (default 52:54:PP:PP:PP:II from the pid and"
                + " the NIC's index). switch and tap NICs run on one net data-plane thread.")
    List<String> net = new ArrayList<>();

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = VmBootOptions.DEFAULT_TIMEOUT, description = "Stop the guest after this long; 0 waits for ever (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--hugepages", description = {"Back guest RAM with reserved 2 MiB huge pages (a hugetlb memfd; with too few free it falls",
        "back to what it would be without the flag and says so). Without it guest RAM is anonymous memory advised MADV_HUGEPAGE (transparent",
        "huge pages, as QEMU's RAM), or a memfd when a vhost: device's back-end must map it. KVM maps the guest with 2 MiB pages",
        "where the host's are."})
    boolean hugepages;

    @Option(names = "--timings", description = "Print where the time to the guest's boot-timer write went (JVM start, main(), VM creation, guest run) on stderr.")
    boolean timings;

    /** The options as one record, the same that {@link VmBootArgs#parse} builds from the same argument line. */
    VmBootOptions options() {
        return new VmBootOptions(kernel, initrd, cmdline, blk, cpus, memory, console, net, timeoutSeconds, hugepages, timings);
    }

    @Override
    public Integer call() {
        return VmBoot.run(options());
    }
}

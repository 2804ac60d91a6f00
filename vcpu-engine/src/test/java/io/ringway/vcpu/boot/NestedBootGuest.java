package io.ringway.vcpu.boot;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.ringway.vcpu.kvm.Kvm;

/**
 * The program {@link LinuxBootNestedTest} runs inside nested-kvm.sh (the test's class path, a
 * hardware-style KVM): boots each KERNEL in turn with CPUS vCPUs, INITRD and CMDLINE plus that kernel's
 * EXTRA arguments on Ringway's VMM, console on stdout, and prints one {@code RINGWAY_VM_RESULT} line per
 * kernel; the exit status is the first non-zero guest status.
 * Args: INITRD MEMORY_MIB TIMEOUT_S CMDLINE [--blk=SPEC...] CPUS:EXTRA:KERNEL... (EXTRA may be empty); each
 * {@code --blk=SPEC} adds a virtio-blk disk ({@link LinuxVm#addBlk}) to the next kernel's VM, and after that
 * VM's run a {@code RINGWAY_PCI_FUNCTION} line gives the function's slow-path notifications and unroutable messages;
 * a {@code RINGWAY_PCI_CONFIG} line per kernel tells how the guest used the configuration ports ({@link io.ringway.vcpu.pci.PciBus#configCycles}).
 */
public final class NestedBootGuest {
    private NestedBootGuest() {
    }

    public static void main(String[] args) throws IOException {
        Path initrd = Path.of(args[0]);
        long memory = Long.parseLong(args[1]) << 20;
        Duration timeout = Duration.ofSeconds(Long.parseLong(args[2]));
        String cmdline = args[3];
        OutputStream console = new FileOutputStream(FileDescriptor.out);
        int status = 0;
        java.util.List<String> disks = new java.util.ArrayList<>();
        try (Kvm kvm = Kvm.open()) {
            for (int i = 4; i < args.length; i++) {
                if (args[i].startsWith("--blk=")) {
                    disks.add(args[i].substring("--blk=".length()));
                    continue;
                }
                String[] spec = args[i].split(":", 3);
                int cpus = Integer.parseInt(spec[0]);
                String kernelCmdline = spec[1].isEmpty() ? cmdline : cmdline + " " + spec[1];
                Path kernel = Path.of(spec[2]);
                long start = System.nanoTime();
                // as `vm boot`: anonymous RAM on transparent huge pages unless a vhost-user back-end must map it
                LinuxVm.RamBacking backing = LinuxVm.RamBacking.choose(false, disks.stream().anyMatch(d -> d.startsWith("vhost:")));
                try (LinuxVm vm = LinuxVm.create(kvm, cpus, memory, backing, MemorySegment.ofArray(Files.readAllBytes(kernel)), kernel.toString(),
                         MemorySegment.ofArray(Files.readAllBytes(initrd)), initrd.toString(), kernelCmdline, console)) {
                    for (String disk : disks) {
                        vm.addBlk(disk);
                    }
                    disks.clear();
                    long created = System.nanoTime();
                    LinuxVm.Result result = vm.run(timeout);
                    for (io.ringway.vcpu.pci.virtio.VirtioPciFunction f : vm.virtioFunctions()) {
                        System.out.printf("RINGWAY_PCI_FUNCTION name=%s slow_notifies=%d bad_messages=%d%n", f.name(), f.slowNotifies(), f.badMessages());
                    }
                    System.out.println("RINGWAY_PCI_CONFIG kernel=" + kernel.getFileName() + " " + vm.pci().configCycles());
                    System.out.printf("RINGWAY_GUEST_RAM huge_page_bytes=%d backing=%s%n", vm.ramHugePageBytes(), String.join(" | ", vm.ramBacking()));
                    System.out.printf("RINGWAY_VM_RESULT kernel=%s cpus=%d entry=%s exit=%s status=%d setup_ms=%d run_ms=%d boot_timer_ms=%d: %s%n",
                        kernel.getFileName(), cpus, vm.entry().mode(), result.exit(), result.status(), (created - start) / 1_000_000,
                        (System.nanoTime() - created) / 1_000_000, result.bootTimerNanos() / 1_000_000, result.report());
                    System.out.flush();
                    if (status == 0) {
                        status = result.status();
                    }
                }
            }
        }
        System.exit(status);
    }
}

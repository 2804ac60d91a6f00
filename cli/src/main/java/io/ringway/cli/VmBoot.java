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

import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.storage.bdev.BlockDeviceSpec;
import io.ringway.vcpu.boot.BadKernelException;
import io.ringway.vcpu.boot.LinuxLoader;
import io.ringway.vcpu.boot.LinuxVm;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmUnavailableException;
import io.ringway.vcpu.net.GuestNics;
import io.ringway.vcpu.net.NicSpec;

/**
 * What {@code ringway vm boot} does, whichever parser read its options ({@link VmBootCommand} with picocli,
 * or the launcher's fast path {@link VmBootArgs}): no picocli here, so the fast path loads none of it.
 */
final class VmBoot {
    private VmBoot() {
    }

    /** Boots as {@code o} says; returns the exit status (the guest's, 2 for bad input). */
    static int run(VmBootOptions o) {
        BootTimings clock = new BootTimings(Main.MAIN_NANOS);
        Path kernel = o.kernel();
        Path initrd = o.initrd();
        String memory = o.memory();
        List<String> blk = o.blk();
        List<String> net = o.net();
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
        String line = o.cmdline() != null ? o.cmdline()
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
             OutputStream out = openConsole(o.console());
             Kvm kvm = Kvm.open();
             LinuxVm vm = LinuxVm.create(kvm, o.cpus(), bytes, ramBacking(o, nicSpecs), kernelImage, kernel.toString(),
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
            LinuxVm.Result result = vm.run(o.timeoutSeconds() <= 0 ? Duration.ofDays(365) : Duration.ofSeconds(o.timeoutSeconds()));
            out.flush();
            System.err.println("ringway vm boot: " + result.report());
            if (nics != null) {
                nics.report().forEach(l -> System.err.println("ringway vm boot: " + l));
            }
            if (o.timings()) {
                System.err.println("ringway vm boot: " + clock.line(vm.bootTimerWriteNanos()));
                vm.ramBacking().forEach(l -> System.err.println("ringway vm boot: guest RAM " + l));
                System.err.println("ringway vm boot: guest RAM: huge pages map " + hugeMib(vm.ramHugePageBytes()) + " of " + (bytes >> 20) + " MiB");
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
     * unless a vhost-user back-end must map guest RAM from an fd (then a memfd); --hugepages asks for hugetlb, which
     * falls back to the same when too few huge pages are free.
     */
    private static LinuxVm.RamBacking ramBacking(VmBootOptions o, List<NicSpec> nicSpecs) {
        boolean vhost = o.blk().stream().anyMatch(b -> b.startsWith("vhost:")) || nicSpecs.stream().anyMatch(n -> n.kind() == NicSpec.Kind.VHOST);
        return LinuxVm.RamBacking.choose(o.hugepages(), vhost);
    }

    private static String hugeMib(long bytes) {
        return bytes < 0 ? "? (no /proc/self/smaps)" : (bytes >> 20) + " MiB";
    }

    private static OutputStream openConsole(String console) throws IOException {
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

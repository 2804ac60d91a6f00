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
import java.util.concurrent.Callable;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.storage.bdev.BlockDeviceSpec;
import io.ringway.vcpu.boot.BadKernelException;
import io.ringway.vcpu.boot.LinuxLoader;
import io.ringway.vcpu.boot.LinuxVm;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmUnavailableException;
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

    @Option(names = "--cmdline", paramLabel = "S", defaultValue = "console=ttyS0 reboot=k panic=-1 pci=off",
            description = {"Kernel command line (default: ${DEFAULT-VALUE}; without pci=off Linux enumerates PCI bus 0, but on an",
                "AMD family 0Fh-15h CPU model (the nested test's QEMU TCG CPU is 0Fh) its AGP/GART scans of 256 buses cost ~33,000 port exits, ~3 s nested)."})
    String cmdline;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "1", description = "vCPUs, 1..254, started by the guest through INIT/SIPI (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--memory", paramLabel = "SIZE", defaultValue = "512M", description = "Guest RAM, like 512M or 2G (default: ${DEFAULT-VALUE}).")
    String memory;

    @Option(names = "--console", paramLabel = "stdio|file:F", defaultValue = "stdio", description = "Where the UART's output goes (default: ${DEFAULT-VALUE}).")
    String console;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "0", description = "Stop the guest after this long; 0 waits for ever (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--hugepages", description = {"Back guest RAM with 2 MiB huge pages (a hugetlb memfd; with too few reserved it",
        "falls back to normal pages and says so). KVM then maps the guest with 2 MiB pages."})
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
        clock.creating();
        try (OutputStream out = openConsole();
             Kvm kvm = Kvm.open();
             LinuxVm vm = LinuxVm.create(kvm, cpus, bytes, SharedRegion.Options.DEFAULTS.hugepages(hugepages), kernelImage, kernel.toString(),
                 initrdImage, initrd == null ? null : initrd.toString(), cmdline, out)) {
            clock.created();
            LinuxVm.Result result = vm.run(timeoutSeconds <= 0 ? Duration.ofDays(365) : Duration.ofSeconds(timeoutSeconds));
            out.flush();
            System.err.println("ringway vm boot: " + result.report());
            if (timings) {
                System.err.println("ringway vm boot: " + clock.line(vm.bootTimerWriteNanos()));
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

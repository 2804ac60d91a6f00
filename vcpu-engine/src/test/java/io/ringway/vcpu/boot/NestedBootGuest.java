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
 * hardware-style KVM): boots KERNEL with INITRD and CMDLINE on Ringway's VMM, console on stdout,
 * and exits with the guest's status. Args: KERNEL INITRD MEMORY_MIB TIMEOUT_S CMDLINE.
 */
public final class NestedBootGuest {
    private NestedBootGuest() {
    }

    public static void main(String[] args) throws IOException {
        long start = System.nanoTime();
        Path kernel = Path.of(args[0]);
        Path initrd = Path.of(args[1]);
        OutputStream console = new FileOutputStream(FileDescriptor.out);
        int status;
        try (Kvm kvm = Kvm.open();
             LinuxVm vm = LinuxVm.create(kvm, 1, Long.parseLong(args[2]) << 20,
                 MemorySegment.ofArray(Files.readAllBytes(kernel)), kernel.toString(),
                 MemorySegment.ofArray(Files.readAllBytes(initrd)), initrd.toString(), args[4], console)) {
            long created = System.nanoTime();
            LinuxVm.Result result = vm.run(Duration.ofSeconds(Long.parseLong(args[3])));
            System.out.printf("RINGWAY_VM_RESULT exit=%s status=%d setup_ms=%d run_ms=%d: %s%n", result.exit(), result.status(),
                (created - start) / 1_000_000, (System.nanoTime() - created) / 1_000_000, result.report());
            status = result.status();
        }
        System.out.flush();
        System.exit(status);
    }
}

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
 * hardware-style KVM): boots each KERNEL in turn with CPUS vCPUs, INITRD and CMDLINE on Ringway's VMM,
 * console on stdout, and prints one {@code RINGWAY_VM_RESULT} line per kernel; the exit status is the
 * first non-zero guest status. Args: INITRD MEMORY_MIB TIMEOUT_S CMDLINE CPUS:KERNEL...
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
        try (Kvm kvm = Kvm.open()) {
            for (int i = 4; i < args.length; i++) {
                int colon = args[i].indexOf(':');
                int cpus = Integer.parseInt(args[i].substring(0, colon));
                Path kernel = Path.of(args[i].substring(colon + 1));
                long start = System.nanoTime();
                try (LinuxVm vm = LinuxVm.create(kvm, cpus, memory, MemorySegment.ofArray(Files.readAllBytes(kernel)), kernel.toString(),
                         MemorySegment.ofArray(Files.readAllBytes(initrd)), initrd.toString(), cmdline, console)) {
                    long created = System.nanoTime();
                    LinuxVm.Result result = vm.run(timeout);
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

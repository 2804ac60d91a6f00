package io.ringway.vcpu.boot;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.time.Duration;

import org.junit.jupiter.api.Test;

import io.ringway.vcpu.devices.GuestExit;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmTestSupport;
import io.ringway.vcpu.kvm.KvmUnavailableException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.abort;

/**
 * The boot CPU as LinuxVm leaves it, on this machine's KVM: a tiny "kernel" (a vmlinux ELF of a few
 * instructions) reads the boot data the protocol says it gets and reports a byte of it through the
 * debug-exit port, which becomes the run's status.
 */
class LinuxVmTest {
    private static final long MEMORY = 64L << 20;

    /** 64-bit entry: mov al, [rsi + 0x210] (type_of_loader); mov dx, 0x501; out dx, al; hlt. */
    private static final byte[] READ_TYPE_OF_LOADER = {(byte) 0x8a, (byte) 0x86, 0x10, 0x02, 0, 0, 0x66, (byte) 0xba, 0x01, 0x05, (byte) 0xee, (byte) 0xf4};
    /** PVH entry (32-bit): mov eax, [ebx] (hvm_start_info.magic); mov dx, 0x501; out dx, al; hlt. */
    private static final byte[] READ_START_INFO_MAGIC = {(byte) 0x8b, 0x03, 0x66, (byte) 0xba, 0x01, 0x05, (byte) 0xee, (byte) 0xf4};

    private static MemorySegment kernel(byte[] code, long pvhEntry) {
        MemorySegment elf = TestImages.elf(0x200000, pvhEntry);
        MemorySegment.copy(MemorySegment.ofArray(code), 0, elf, 0x1000, code.length);
        return elf;
    }

    private static LinuxVm.Result boot(Kvm kvm, MemorySegment image) {
        try (LinuxVm vm = LinuxVm.create(kvm, 1, MEMORY, image, "tiny", null, null, "", new ByteArrayOutputStream())) {
            return vm.run(Duration.ofSeconds(60));
        } catch (KvmUnavailableException e) {
            abort("skipped, needs " + e.getMessage());
            throw e;
        }
    }

    @Test
    void the64BitEntryRunsInLongModeWithRsiAtTheZeroPage() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            LinuxVm.Result r = boot(kvm, kernel(READ_TYPE_OF_LOADER, -1));
            assertEquals(GuestExit.Kind.DEBUG_EXIT, r.exit(), r.report());
            assertEquals(0xff, r.status(), "type_of_loader read through RSI");
        }
    }

    @Test
    void thePvhEntryRunsIn32BitModeWithEbxAtTheStartInfo() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            LinuxVm.Result r = boot(kvm, kernel(READ_START_INFO_MAGIC, 0x200000));
            assertEquals(GuestExit.Kind.DEBUG_EXIT, r.exit(), r.report());
            assertEquals(HvmStartInfo.MAGIC & 0xff, r.status(), "low byte of the hvm_start_info magic read through EBX");
        }
    }

    @Test
    void aKernelThatFaultsEndsTheRunWithAReportNotAHang() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            // ud2 with no IDT: #UD, then #DF, then a triple fault
            LinuxVm.Result r = boot(kvm, kernel(new byte[] {0x0f, 0x0b}, -1));
            assertEquals(GuestExit.Kind.NONE, r.exit());
            assertEquals(1, r.status(), r.report());
            assertTrue(r.report().contains("KVM_EXIT_SHUTDOWN"), r.report());
        }
    }
}

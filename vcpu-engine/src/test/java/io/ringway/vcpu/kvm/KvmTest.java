package io.ringway.vcpu.kvm;

import java.util.List;

import org.junit.jupiter.api.Test;

import io.ringway.runtime.mem.SharedRegion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KvmTest {
    @Test
    void openChecksTheApiVersionAndMapsAtLeastAKvmRun() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            assertTrue(kvm.vcpuMmapSize() >= KvmRunDescriptor.SIZE, "mmap size " + kvm.vcpuMmapSize());
            assertTrue(kvm.checkExtension(KvmApi.KVM_CAP_USER_MEMORY) > 0);
        }
    }

    @Test
    void aMissingCapabilityIsNamedInOneLine() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            KvmUnavailableException e = assertThrows(KvmUnavailableException.class,
                () -> kvm.requireExtension(0x7fff_0000, "KVM_CAP_MADE_UP"));
            assertEquals("KVM capability KVM_CAP_MADE_UP missing on this machine", e.getMessage());
        }
    }

    @Test
    void supportedCpuidHasTheVendorLeaf() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 0), "leaf 0 in " + cpuid.size() + " entries");
        }
    }

    @Test
    void memorySlotsMayNotOverlap() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             Vm vm = kvm.createVm();
             SharedRegion a = SharedRegion.create("slot-a", 1 << 20);
             SharedRegion b = SharedRegion.create("slot-b", 1 << 20)) {
            vm.addMemory(0, a);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vm.addMemory(0x8_0000, b));
            assertTrue(e.getMessage().contains("overlaps slot 0"), e.getMessage());
            assertEquals(1, vm.addMemory(1 << 20, b).slot());
        }
    }

    @Test
    void irqchipPitIoeventfdAndIrqfdCanBeSetUp() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); Vm vm = kvm.createVm();
             var doorbell = io.ringway.runtime.sys.EventFd.create(true);
             var pio = io.ringway.runtime.sys.EventFd.create(true);
             var irq = io.ringway.runtime.sys.EventFd.create(true)) {
            vm.createIrqchip();
            vm.createPit2();
            vm.addIoeventfd(doorbell, 0xd000_0000L, 0, false, null);
            vm.addIoeventfd(pio, 0x500, 2, true, 7L);
            vm.addIrqfd(irq, 5);
            vm.removeIrqfd(irq, 5);
            vm.removeIoeventfd(pio, 0x500, 2, true, 7L);
            vm.removeIoeventfd(doorbell, 0xd000_0000L, 0, false, null);
        }
    }
}

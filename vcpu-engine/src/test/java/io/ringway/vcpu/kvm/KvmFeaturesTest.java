package io.ringway.vcpu.kvm;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.bench.KvmFlavour;
import io.ringway.vcpu.exit.BusDevice;
import io.ringway.vcpu.exit.ExitStats;
import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.exit.VcpuRunner;
import io.ringway.vcpu.guest.MicroGuest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** KVM features on Vm and Vcpu: binary statistics, dirty page logging, GSI routing, DISABLE_EXITS. */
class KvmFeaturesTest {
    private static final int DONE_PORT = 0x10;

    private static Kvm openWith(int capability, String name) {
        Kvm kvm = KvmTestSupport.openOrSkip();
        if (kvm.checkExtension(capability) <= 0) {
            kvm.close();
            assumeTrue(false, "skipped, needs " + name + " (KVM_CHECK_EXTENSION says absent)");
        }
        return kvm;
    }

    private static VcpuRunner runner(Vcpu vcpu) {
        VcpuRunner[] runner = new VcpuRunner[1];
        IoBus io = new IoBus();
        io.register("done", DONE_PORT, 1, BusDevice.onWrite(() -> runner[0].finish()));
        io.register("sink", 0x80, 1, BusDevice.onWrite(() -> { }));
        runner[0] = new VcpuRunner(vcpu, io, new MmioBus(), new ExitStats());
        return runner[0];
    }

    // ---------------------------------------------------------------- binary statistics

    @Test
    void vcpuStatisticsNameTheVcpuAndCountItsExitsAsTheRunLoopSawThem() {
        int n = 300;
        try (Kvm kvm = openWith(KvmApi.KVM_CAP_BINARY_STATS_FD, "KVM_CAP_BINARY_STATS_FD");
             MicroGuest guest = MicroGuest.create(kvm, 2 << 20)) {
            X86Assembler a = new X86Assembler();
            Label loop = a.newLabel("loop");
            a.mov(Reg.RCX, n).bind(loop).outImm(0x80, 1).dec(Reg.RCX).jcc(Cond.NZ, loop).outImm(DONE_PORT, 1);
            guest.load(MicroGuest.CODE, a.assemble());
            Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE);
            try (KvmStats stats = vcpu.openStats()) {
                long ioBefore = stats.value("io_exits");
                long exitsBefore = stats.value("exits");
                VcpuRunner r = runner(vcpu);

                long emulatedBefore = stats.value("insn_emulation");
                RunResult result = r.run();
                stats.refresh();

                assertEquals(RunResult.Outcome.FINISHED, result.outcome(), result.report());
                assertTrue(stats.id().endsWith("/vcpu-0"), stats.id());
                if (KvmFlavour.detect() == KvmFlavour.PVM) {
                    // PVM emulates the guest's out instructions and does not count them in io_exits (seen: 0)
                    assertTrue(stats.value("insn_emulation") - emulatedBefore >= n + 1, "PVM insn_emulation vs the guest's n + 1 outs");
                } else {
                    assertEquals(n + 1, stats.value("io_exits") - ioBefore, "KVM's io_exits vs the guest's n + 1 outs");
                }
                assertTrue(stats.value("exits") - exitsBefore >= n + 1, "exits " + (stats.value("exits") - exitsBefore));
                assertEquals(-1, stats.value("no_such_statistic"));
                assertTrue(stats.snapshot().containsKey("halt_exits"), stats.snapshot().keySet().toString());
            }
        }
    }

    @Test
    void vmStatisticsOpenWithTheirDescriptors() {
        try (Kvm kvm = openWith(KvmApi.KVM_CAP_BINARY_STATS_FD, "KVM_CAP_BINARY_STATS_FD");
             Vm vm = kvm.createVm(); KvmStats stats = vm.openStats()) {
            assertTrue(stats.id().startsWith("kvm-"), stats.id());
            assertTrue(!stats.descriptors().isEmpty(), "descriptors");
            for (KvmStats.Descriptor d : stats.descriptors()) {
                assertTrue(d.size() >= 1 && !d.name().isEmpty(), d.toString());
            }
        }
    }

    // ---------------------------------------------------------------- dirty page logging

    @Test
    void theDirtyLogShowsExactlyThePagesTheGuestWroteSinceTheLastRead() {
        long base = 0x4000_0000L; // a second slot: no page table or stack lives here
        // The guest reaches it through 4 KiB pages at an alias above the 4 GiB identity map. With one 2 MiB
        // guest page over the slot, a shadow-paging KVM (PVM) maps every later read of that 2 MiB page writable
        // once the guest has set its dirty bit, and logs the read page as dirty too: exact only per guest PTE.
        long alias = 0x1_4000_0000L;
        long[] firstWrites = {3, 7, 40, 63};
        long[] secondWrites = {5, 40};
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20);
             SharedRegion logged = SharedRegion.create("ringway-dirty-test", 64 * DirtyBitmap.PAGE_SIZE)) {
            Vm.MemorySlot slot = guest.vm().addMemory(base, logged, true);
            guest.pageTables().map(alias, base, logged.size(), 4096, io.ringway.vcpu.guest.PageTables.WRITABLE | io.ringway.vcpu.guest.PageTables.USER);
            X86Assembler a = new X86Assembler();
            for (long page : firstWrites) {
                a.mov(Reg.RBX, alias + page * DirtyBitmap.PAGE_SIZE + 8).store32(Mem.at(Reg.RBX), (int) page);
            }
            a.mov(Reg.RBX, alias + 10 * DirtyBitmap.PAGE_SIZE).load32(Reg.RAX, Mem.at(Reg.RBX)); // a read dirties nothing
            a.outImm(DONE_PORT, 1);
            for (long page : secondWrites) {
                a.mov(Reg.RBX, alias + page * DirtyBitmap.PAGE_SIZE + 16).store32(Mem.at(Reg.RBX), (int) page);
            }
            a.outImm(DONE_PORT, 1);
            guest.load(MicroGuest.CODE, a.assemble());
            VcpuRunner r = runner(guest.createVcpu(0, MicroGuest.CODE));
            assertEquals(0, guest.vm().dirtyLog(slot.slot()).dirtyCount(), "nothing written before the run");

            assertEquals(RunResult.Outcome.FINISHED, r.run().outcome());
            DirtyBitmap first = guest.vm().dirtyLog(slot.slot());
            assertEquals(RunResult.Outcome.FINISHED, r.run().outcome()); // the second half of the program
            DirtyBitmap second = guest.vm().dirtyLog(slot.slot());
            DirtyBitmap third = guest.vm().dirtyLog(slot.slot());

            assertArrayEquals(firstWrites, first.dirtyPages(), first.toString());
            assertArrayEquals(secondWrites, second.dirtyPages(), second.toString());
            assertEquals(0, third.dirtyCount(), "the log is re-armed by each read: " + third);
            assertEquals(base + 5 * DirtyBitmap.PAGE_SIZE, second.dirtyAddresses()[0]);
            assertEquals(64, first.pages());
            assertEquals(40, logged.segment().get(java.lang.foreign.ValueLayout.JAVA_INT, 40 * DirtyBitmap.PAGE_SIZE + 8), "the guest's write landed");
        }
    }

    @Test
    void theDirtyLogOfASlotThatDoesNotLogIsRefusedByName() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> guest.vm().dirtyLog(0));
            assertEquals("memory slot 0 does not log dirty pages (add it with logDirtyPages, or setDirtyLogging)", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> guest.vm().dirtyLog(5));
        }
    }

    // ---------------------------------------------------------------- GSI routing

    @Test
    void anMsiRouteNeedsTheApicWindowAndAVectorAbove15() {
        IllegalArgumentException address = assertThrows(IllegalArgumentException.class, () -> new GsiRoute.Msi(30, 0xfec0_0000L, 0x40));
        assertEquals("MSI address must lie in 0xfee00000..0xfeefffff (the local APIC window), got 0xfec00000", address.getMessage());
        IllegalArgumentException vector = assertThrows(IllegalArgumentException.class, () -> GsiRoute.msiToApic(30, 0, 14));
        assertEquals("MSI vector must be 16..255 (0-15 are reserved), got 14", vector.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new GsiRoute.Irqchip(3, KvmApi.KVM_IRQCHIP_PIC_MASTER, 8));
        assertEquals(new GsiRoute.Msi(30, 0xfee0_3000L, 0x41), GsiRoute.msiToApic(30, 3, 0x41));
    }

    @Test
    void theDefaultRoutesAreThoseOfAPc() {
        List<GsiRoute> routes = GsiRoute.defaultIrqchipRoutes();
        assertEquals(16 * 2 + 8, routes.size());
        assertTrue(routes.contains(new GsiRoute.Irqchip(0, KvmApi.KVM_IRQCHIP_IOAPIC, 2)), "GSI 0 -> IOAPIC pin 2");
        assertTrue(routes.contains(new GsiRoute.Irqchip(9, KvmApi.KVM_IRQCHIP_PIC_SLAVE, 1)));
        assertTrue(routes.contains(new GsiRoute.Irqchip(23, KvmApi.KVM_IRQCHIP_IOAPIC, 23)));
    }

    @Test
    void routingAnMsiKeepsTheRestOfTheTableAndReplacesThatGsi() {
        try (Kvm kvm = openWith(KvmApi.KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"); Vm vm = kvm.createVm()) {
            vm.createIrqchip();
            vm.routeMsi(24, 0, 0x40);
            vm.routeMsi(24, 1, 0x41);
            vm.routeMsi(25, 0, 0x42);
            List<GsiRoute> expected = new ArrayList<>(GsiRoute.defaultIrqchipRoutes());
            expected.add(GsiRoute.msiToApic(24, 1, 0x41));
            expected.add(GsiRoute.msiToApic(25, 0, 0x42));
            assertEquals(expected, vm.gsiRoutes());
            int max = kvm.checkExtension(KvmApi.KVM_CAP_IRQ_ROUTING);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vm.routeMsi(max, 0, 0x40));
            assertEquals("GSI " + max + " out of range: KVM routes GSIs 0.." + (max - 1), e.getMessage());
        }
    }

    // ---------------------------------------------------------------- DISABLE_EXITS

    @Test
    void disableExitsTakesTheOfferedBitsBeforeTheFirstVcpuAndNamesWhatIsMissing() {
        try (Kvm kvm = openWith(KvmApi.KVM_CAP_X86_DISABLE_EXITS, "KVM_CAP_X86_DISABLE_EXITS"); Vm vm = kvm.createVm()) {
            int offered = vm.disableExitsOffered();
            int wanted = offered & (KvmApi.KVM_X86_DISABLE_EXITS_HLT | KvmApi.KVM_X86_DISABLE_EXITS_PAUSE);
            assumeTrue(wanted != 0, "skipped, KVM_CAP_X86_DISABLE_EXITS offers neither HLT nor PAUSE here (" + Vm.disableExitsNames(offered) + ")");
            int missing = ~offered & 0xf;
            if (missing != 0) {
                KvmUnavailableException e = assertThrows(KvmUnavailableException.class, () -> vm.disableExits(missing));
                assertEquals("KVM_CAP_X86_DISABLE_EXITS does not offer " + Vm.disableExitsNames(missing) + " here (offered: "
                    + Vm.disableExitsNames(offered) + ")", e.getMessage());
            }
            vm.disableExits(wanted);
            vm.createVcpu(0);
            IllegalStateException late = assertThrows(IllegalStateException.class, () -> vm.disableExits(wanted));
            assertEquals("KVM_CAP_X86_DISABLE_EXITS must be enabled before the first vCPU is created", late.getMessage());
        }
    }

    @Test
    void disableExitsNamesItsBits() {
        assertEquals("HLT|PAUSE", Vm.disableExitsNames(KvmApi.KVM_X86_DISABLE_EXITS_HLT | KvmApi.KVM_X86_DISABLE_EXITS_PAUSE));
        assertEquals("MWAIT|CSTATE", Vm.disableExitsNames(0x9));
        assertEquals("none", Vm.disableExitsNames(0));
    }
}

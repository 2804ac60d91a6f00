package io.ringway.vcpu.boot;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import java.util.List;

import org.junit.jupiter.api.Test;

import io.ringway.runtime.mem.AnonymousRegion;
import io.ringway.runtime.mem.MappedRegion;
import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.mem.TransparentHugePages;
import io.ringway.vcpu.kvm.Vm;
import io.ringway.vcpu.virtio.ExternalRings;
import io.ringway.vhost.virtio.QueueConfig;

import io.ringway.vcpu.devices.GuestExit;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmTestSupport;
import io.ringway.vcpu.pci.PciHostBridge;
import io.ringway.vcpu.kvm.KvmUnavailableException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.abort;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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

    /**
     * PVH entry (32-bit, paging off), the BSP starts AP 1 as Linux's wakeup_secondary_cpu_via_init does:
     * it writes a real-mode AP program at 0x10000 (mov dx, 0x501; mov al, 0x42; out dx, al; hlt),
     * software-enables its LAPIC (SVR 0xFEE000F0 = 0x1FF: KVM's LAPIC sends no IPI while disabled, as
     * found here), then through its ICR (0xFEE00300, destination in 0xFEE00310) sends INIT and a SIPI
     * with vector 0x10 (start at 0x10000), and spins ({@code jmp $}): only the AP can end the run, with
     * status 0x42.
     */
    private static final byte[] START_AP_1 = {
        (byte) 0xc7, 0x05, 0x00, 0x00, 0x01, 0x00, (byte) 0xba, 0x01, 0x05, (byte) 0xb0, // mov dword [0x10000], AP code 0..3
        (byte) 0xc7, 0x05, 0x04, 0x00, 0x01, 0x00, 0x42, (byte) 0xee, (byte) 0xf4, (byte) 0xf4, // mov dword [0x10004], AP code 4..7
        (byte) 0xc7, 0x05, (byte) 0xf0, 0x00, (byte) 0xe0, (byte) 0xfe, (byte) 0xff, 0x01, 0x00, 0x00, // SVR: APIC enabled, vector 0xFF
        (byte) 0xc7, 0x05, 0x10, 0x03, (byte) 0xe0, (byte) 0xfe, 0x00, 0x00, 0x00, 0x01, // ICR high: destination APIC id 1
        (byte) 0xc7, 0x05, 0x00, 0x03, (byte) 0xe0, (byte) 0xfe, 0x00, 0x45, 0x00, 0x00, // ICR low: INIT, level assert
        (byte) 0xc7, 0x05, 0x00, 0x03, (byte) 0xe0, (byte) 0xfe, 0x10, 0x46, 0x00, 0x00, // ICR low: start-up, vector 0x10
        (byte) 0xeb, (byte) 0xfe}; // jmp $
    /**
     * 64-bit entry, configuration mechanism #1 as a guest uses it: mov eax, 0x80000000 (bus 0, device 0,
     * register 0); mov dx, 0xcf8; out dx, eax; mov dx, 0xcfc; in eax, dx; then the low byte of the
     * vendor id to the debug-exit port.
     */
    private static final byte[] READ_HOST_BRIDGE_VENDOR = {(byte) 0xb8, 0, 0, 0, (byte) 0x80, 0x66, (byte) 0xba, (byte) 0xf8, 0x0c,
        (byte) 0xef, 0x66, (byte) 0xba, (byte) 0xfc, 0x0c, (byte) 0xed, 0x66, (byte) 0xba, 0x01, 0x05, (byte) 0xee, (byte) 0xf4};
    /** 64-bit entry: jmp $ (a BSP that never ends the run itself). */
    private static final byte[] SPIN = {(byte) 0xeb, (byte) 0xfe};

    private static LinuxVm.Result boot(Kvm kvm, MemorySegment image) {
        return boot(kvm, 1, image);
    }

    private static LinuxVm.Result boot(Kvm kvm, int cpus, MemorySegment image) {
        try (LinuxVm vm = LinuxVm.create(kvm, cpus, MEMORY, image, "tiny", null, null, "", new ByteArrayOutputStream())) {
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

    @Test
    void apsWaitUninitializedAndADebugExitFromTheBspEndsEveryVcpu() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 3, kernel(READ_TYPE_OF_LOADER, -1))) {
            assertEquals(KvmApi.KVM_MP_STATE_RUNNABLE, vm.mpState(0), "the BSP runs from the entry point");
            assertEquals(KvmApi.KVM_MP_STATE_UNINITIALIZED, vm.mpState(1), "AP 1 waits for INIT/SIPI");
            assertEquals(KvmApi.KVM_MP_STATE_UNINITIALIZED, vm.mpState(2), "AP 2 waits for INIT/SIPI");
            // the APs sit in KVM_RUN waiting for a SIPI that never comes: run() returns only if the exit stops them
            LinuxVm.Result r = vm.run(Duration.ofSeconds(60));
            assertEquals(GuestExit.Kind.DEBUG_EXIT, r.exit(), r.report());
            assertEquals(0xff, r.status(), r.report());
            assertTrue(r.report().contains("on 3 vCPUs"), r.report());
        }
    }

    @Test
    void theBspStartsAnApWithInitAndSipiAndTheApsExitEndsTheBspToo() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 2, kernel(START_AP_1, 0x200000))) {
            LinuxVm.Result r = vm.run(Duration.ofSeconds(60));
            assertEquals(GuestExit.Kind.DEBUG_EXIT, r.exit(), r.report());
            assertEquals(0x42, r.status(), "status written by the AP's real-mode code at the SIPI vector: " + r.report());
        }
    }

    @Test
    void aTimeoutStopsEveryVcpuIncludingApsNeverStarted() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 2, kernel(SPIN, -1))) {
            LinuxVm.Result r = vm.run(Duration.ofMillis(300));
            assertEquals(GuestExit.Kind.NONE, r.exit(), r.report());
            assertEquals(124, r.status(), r.report());
        }
    }

    @Test
    void aVcpuCountOutsideTheMadtRangeIsRefusedByName() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            for (int cpus : new int[] {0, LinuxVm.MAX_CPUS + 1}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> LinuxVm.create(kvm, cpus, MEMORY, kernel(SPIN, -1), "tiny", null, null, "", new ByteArrayOutputStream()));
                assertTrue(e.getMessage().startsWith("--cpus " + cpus + ": must be 1..254"), e.getMessage());
            }
        }
    }

    private static LinuxVm createOrSkip(Kvm kvm, int cpus, MemorySegment image) {
        return createOrSkip(kvm, cpus, MEMORY, image);
    }

    private static LinuxVm createOrSkip(Kvm kvm, int cpus, long memory, MemorySegment image) {
        try {
            return LinuxVm.create(kvm, cpus, memory, image, "tiny", null, null, "", new ByteArrayOutputStream());
        } catch (KvmUnavailableException e) {
            abort("skipped, needs " + e.getMessage());
            throw e;
        }
    }

    @Test
    void theGuestReadsTheHostBridgeThroughConfigurationMechanism1() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            LinuxVm.Result r = boot(kvm, kernel(READ_HOST_BRIDGE_VENDOR, -1));
            assertEquals(GuestExit.Kind.DEBUG_EXIT, r.exit(), r.report());
            assertEquals(PciHostBridge.VENDOR_ID & 0xff, r.status(), "low byte of vendor id 1b36 at 00:00.0: " + r.report());
        }
    }

    /** As {@link #READ_HOST_BRIDGE_VENDOR} for bus 0, device 1 (CONFIG_ADDRESS 0x80000800): the high byte of the vendor id. */
    private static final byte[] READ_SLOT_1_VENDOR_HIGH = {(byte) 0xb8, 0, 0x08, 0, (byte) 0x80, 0x66, (byte) 0xba, (byte) 0xf8, 0x0c,
        (byte) 0xef, 0x66, (byte) 0xba, (byte) 0xfc, 0x0c, (byte) 0xed, (byte) 0x88, (byte) 0xe0, 0x66, (byte) 0xba, 0x01, 0x05, (byte) 0xee, (byte) 0xf4};

    @Test
    void aBlkDiskIsAVirtioFunctionInSlot1ThatTheGuestEnumerates() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 1, kernel(READ_SLOT_1_VENDOR_HIGH, -1))) {
            vm.addBlk("malloc:16M");
            assertEquals(1, vm.virtioFunctions().size());
            assertEquals("blk0", vm.virtioFunctions().get(0).name());
            LinuxVm.Result r = vm.run(Duration.ofSeconds(60));
            assertEquals(GuestExit.Kind.DEBUG_EXIT, r.exit(), r.report());
            assertEquals(0x1a, r.status(), "vendor id 1af4 (virtio) at 00:01.0: " + r.report());
        }
    }

    /** madvise(MADV_HUGEPAGE) needs a kernel with transparent huge pages, which has this file. */
    private static void assumeThp() {
        assumeTrue(Files.exists(Path.of("/sys/kernel/mm/transparent_hugepage/enabled")),
            "no /sys/kernel/mm/transparent_hugepage/enabled: kernel without transparent huge pages (MADV_HUGEPAGE refused)");
    }

    @Test
    void guestRamIsAnonymousOnTransparentHugePagesByDefaultAndTheGuestRunsOnIt() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 1, kernel(READ_TYPE_OF_LOADER, -1))) {
            LinuxVm.Result r = vm.run(Duration.ofSeconds(60));
            assertEquals(0xff, r.status(), r.report());
            assertEquals(1, vm.ramBacking().size(), "64 MiB: one part, below the MMIO hole: " + vm.ramBacking());
            assertTrue(vm.ramBacking().get(0).startsWith("low 64 MiB at 0x0: anonymous memory at a 2 MiB boundary, "), vm.ramBacking().get(0));
            assumeThp();
            assertTrue(vm.ramBacking().get(0).startsWith("low 64 MiB at 0x0: anonymous memory at a 2 MiB boundary, MADV_HUGEPAGE"), vm.ramBacking().get(0));
            String thp = TransparentHugePages.enabled();
            if (thp.equals("madvise") || thp.equals("always")) {
                // the loader wrote the kernel at 2 MiB and the boot data below 1 MiB: at least one huge page each, when
                // the kernel can find free 2 MiB blocks (a fragmented host gives 4 KiB pages: no bug of ours)
                long huge = vm.ramHugePageBytes();
                assumeTrue(huge != 0, "the kernel backed no guest RAM with huge pages (THP " + thp + "): memory too fragmented?");
                assertTrue(huge >= 2 << 20, "huge page bytes of guest RAM: " + huge + " (THP " + thp + ")");
            }
        }
    }

    @Test
    void memfdRamIsSharedForVhostUserBackEndsAndTheGuestRunsOnIt() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = create(kvm, LinuxVm.RamBacking.MEMFD, kernel(READ_TYPE_OF_LOADER, -1))) {
            assertEquals(0xff, vm.run(Duration.ofSeconds(60)).status());
            assertTrue(vm.ramBacking().get(0).startsWith("low 64 MiB at 0x0: memfd (shmem)"), vm.ramBacking().get(0));
            assumeThp();
            assertTrue(vm.ramBacking().get(0).startsWith("low 64 MiB at 0x0: memfd (shmem), MADV_HUGEPAGE (transparent_hugepage/shmem_enabled: "),
                vm.ramBacking().get(0));
        }
    }

    @Test
    void vmBootPicksMemfdRamOnlyWhenAVhostUserBackEndMustMapIt() {
        assertEquals(LinuxVm.RamBacking.ANONYMOUS, LinuxVm.RamBacking.choose(false, false));
        assertEquals(LinuxVm.RamBacking.MEMFD, LinuxVm.RamBacking.choose(false, true));
        assertEquals(LinuxVm.RamBacking.HUGETLB_IN_PROCESS, LinuxVm.RamBacking.choose(true, false));
        assertEquals(LinuxVm.RamBacking.HUGETLB, LinuxVm.RamBacking.choose(true, true));
    }

    @Test
    void hugetlbFallsBackToAnFdOnlyWhenAVhostUserBackEndNeedsOne() {
        assertEquals(LinuxVm.RamBacking.MEMFD, LinuxVm.RamBacking.HUGETLB.fallback());
        assertEquals(LinuxVm.RamBacking.ANONYMOUS, LinuxVm.RamBacking.HUGETLB_IN_PROCESS.fallback());
        assertEquals(null, LinuxVm.RamBacking.ANONYMOUS.fallback());
        assertEquals(null, LinuxVm.RamBacking.MEMFD.fallback());
    }

    /** More 2 MiB pages than are free now: a hugetlb request that must fall back (nothing is touched, so it costs no memory). */
    private static long moreThanTheFreeHugePages() throws Exception {
        Path free = Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
        long pages = Files.exists(free) ? Long.parseLong(Files.readString(free).trim()) : 0;
        return (pages + 8) << 21;
    }

    @Test
    void tooFewFreeHugePagesGiveTransparentHugePagesWithoutVhostUserDevices() throws Exception {
        long size = moreThanTheFreeHugePages();
        LinuxVm.RamPart part = LinuxVm.ram("low", 0, size, size, LinuxVm.RamBacking.HUGETLB_IN_PROCESS);
        try (MappedRegion r = part.region()) {
            assertTrue(r instanceof AnonymousRegion, "anonymous memory, not a 4 KiB memfd: " + part.line());
            assertTrue(part.line().startsWith("low " + (size >> 20) + " MiB at 0x0: anonymous memory at a 2 MiB boundary"), part.line());
            assertTrue(part.line().contains("; not hugetlb: "), "the line says why not: " + part.line());
        }
    }

    @Test
    void tooFewFreeHugePagesGiveAMemfdWhenAVhostUserBackEndNeedsTheFd() throws Exception {
        long size = moreThanTheFreeHugePages();
        LinuxVm.RamPart part = LinuxVm.ram("high", BootLayout.HIGH_RAM_START, size, size, LinuxVm.RamBacking.HUGETLB);
        try (MappedRegion r = part.region()) {
            assertTrue(r instanceof SharedRegion s && !s.hugepages(), part.line());
            assertTrue(part.line().startsWith("high " + (size >> 20) + " MiB at 0x100000000: memfd (shmem)"), part.line());
            assertTrue(part.line().contains("; not hugetlb: "), "the line says why not: " + part.line());
        }
    }

    @Test
    void freeHugePagesGiveHugetlbEitherWay() {
        long size = 2 << 20;
        assumeTrue(SharedRegion.hugePagesShortage(size) == null, "skipped, needs a free 2 MiB huge page: " + SharedRegion.hugePagesShortage(size));
        for (LinuxVm.RamBacking b : List.of(LinuxVm.RamBacking.HUGETLB, LinuxVm.RamBacking.HUGETLB_IN_PROCESS)) {
            LinuxVm.RamPart part = LinuxVm.ram("low", 0, size, size, b);
            try (MappedRegion r = part.region()) {
                // a huge page taken by another process in between makes it fall back: that line says so
                assumeTrue(!part.line().contains("; not hugetlb: "), "the free huge page went elsewhere meanwhile: " + part.line());
                assertEquals("low 2 MiB at 0x0: hugetlb memfd (2 MiB pages)", part.line(), b.name());
            }
        }
    }

    @Test
    void guestRamTheKernelRefusesIsNamedInOneLine() {
        // 256 TiB: beyond the 47-bit user address space mmap hands out, so ENOMEM whatever vm.overcommit_memory says
        long memory = 256L << 40;
        long high = BootLayout.highRam(memory);
        for (LinuxVm.RamBacking b : List.of(LinuxVm.RamBacking.ANONYMOUS, LinuxVm.RamBacking.MEMFD)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LinuxVm.ram("high", BootLayout.HIGH_RAM_START, high, memory, b));
            assertTrue(e.getMessage().startsWith("guest RAM of 268435456 MiB: "), b + ": " + e.getMessage());
            assertTrue(e.getMessage().endsWith("(mmap for the high " + (high >> 20) + " MiB failed with ENOMEM; see vm.overcommit_memory)"),
                b + ": " + e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
    }

    @Test
    void aVmWhoseRamTheKernelRefusesIsNotCreated() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> createOrSkip(kvm, 1, 256L << 40, kernel(SPIN, -1)).close());
            assertTrue(e.getMessage().startsWith("guest RAM of 268435456 MiB: ") && e.getMessage().contains("ENOMEM"), e.getMessage());
        }
    }

    @Test
    void aTimeoutBeyondWhatNanosecondsHoldIsForEver() {
        // Duration.toNanos() overflows past 292 years (ArithmeticException, with the vCPU threads already started)
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 1, kernel(READ_TYPE_OF_LOADER, -1))) {
            LinuxVm.Result r = vm.run(Duration.ofSeconds(Long.MAX_VALUE));
            assertEquals(GuestExit.Kind.DEBUG_EXIT, r.exit(), r.report());
            assertEquals(0xff, r.status(), r.report());
        }
    }

    @Test
    void everyPartOfGuestRamHasItsOwnLine() {
        long memory = BootLayout.MMIO_HOLE_START + (64L << 20); // 3 GiB below the MMIO hole, 64 MiB from 4 GiB (untouched: no cost)
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 1, memory, kernel(SPIN, -1))) {
            List<String> lines = vm.ramBacking();
            assertEquals(2, lines.size(), lines.toString());
            assertTrue(lines.get(0).startsWith("low 3072 MiB at 0x0: anonymous memory"), lines.get(0));
            assertTrue(lines.get(1).startsWith("high 64 MiB at 0x100000000: anonymous memory"), lines.get(1));
        }
    }

    @Test
    void aVhostUserDiskOnAnonymousRamIsRefusedByNameBeforeConnecting() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 1, kernel(SPIN, -1))) {
            // no back-end listens there: the refusal must come first, and name the memory, not the socket
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vm.addBlk("vhost:/nonexistent/ringway.sock"));
            assertTrue(e.getMessage().startsWith("--blk vhost:/nonexistent/ringway.sock: a vhost-user back-end maps guest RAM from its fd, but this VM's RAM is anonymous"),
                e.getMessage());
            assertEquals(0, vm.virtioFunctions().size(), "no function added");
        }
    }

    @Test
    void anyExternalRingsDeviceOnAnonymousRamIsRefusedByNameAtCreation() {
        ExternalRings rings = new ExternalRings() {
            @Override
            public void start(long features, List<Vm.MemorySlot> memory, List<QueueConfig> queues, int[] kickFds, int[] callFds) {
                throw new AssertionError("never started");
            }

            @Override
            public void stop() {
            }

            @Override
            public int deviceType() {
                return LinuxVm.VIRTIO_BLK_ID;
            }

            @Override
            public long deviceFeatures() {
                return 1L << 32; // VIRTIO_F_VERSION_1, which a modern virtio-pci function needs
            }

            @Override
            public int queueCount() {
                return 1;
            }

            @Override
            public int maxQueueSize() {
                return 256;
            }

            @Override
            public byte[] readConfig(int offset, int length) {
                return new byte[length];
            }

            @Override
            public void writeConfig(int offset, byte[] data) {
            }
        };
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 1, kernel(SPIN, -1))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vm.addVirtioPci("ext0", rings, null));
            assertTrue(e.getMessage().startsWith("ext0: a vhost-user back-end serves this device, but memory slot 0 [0x0, 0x"), e.getMessage());
            assertTrue(e.getMessage().contains("is anonymous memory at a 2 MiB boundary") && e.getMessage().contains("no fd"), e.getMessage());
            assertEquals(0, vm.virtioFunctions().size(), "no function added");
        }
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = create(kvm, LinuxVm.RamBacking.MEMFD, kernel(SPIN, -1))) {
            assertEquals("ext0", vm.addVirtioPci("ext0", rings, null).name(), "memfd RAM takes the same device");
        }
    }

    private static LinuxVm create(Kvm kvm, LinuxVm.RamBacking backing, MemorySegment image) {
        try {
            return LinuxVm.create(kvm, 1, MEMORY, backing, image, "tiny", null, null, "", new ByteArrayOutputStream());
        } catch (KvmUnavailableException e) {
            abort("skipped, needs " + e.getMessage());
            throw e;
        }
    }

    @Test
    void aBadDiskSpecIsNamedAndLeavesNothingBehind() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             LinuxVm vm = createOrSkip(kvm, 1, kernel(SPIN, -1))) {
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> vm.addBlk("tape:1G"));
            assertTrue(bad.getMessage().contains("unknown kind 'tape'"), bad.getMessage());
            IllegalArgumentException noSocket = assertThrows(IllegalArgumentException.class, () -> vm.addBlk("vhost:"));
            assertTrue(noSocket.getMessage().contains("expected vhost:SOCKET"), noSocket.getMessage());
            assertEquals(0, vm.virtioFunctions().size(), "no function added");
            vm.addBlk("null:1M");
            assertEquals("blk0", vm.virtioFunctions().get(0).name(), "the failed specs took no name");
        }
    }
}

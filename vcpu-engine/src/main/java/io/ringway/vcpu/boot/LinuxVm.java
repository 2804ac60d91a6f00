package io.ringway.vcpu.boot;

import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.ringway.runtime.mem.AnonymousRegion;
import io.ringway.runtime.mem.MappedRegion;
import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.mem.TransparentHugePages;
import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.EventFd;
import io.ringway.runtime.sys.LinuxException;
import io.ringway.vcpu.devices.BootTimer;
import io.ringway.vcpu.devices.GuestExit;
import io.ringway.vcpu.devices.PlatformPorts;
import io.ringway.vcpu.devices.Serial8250;
import io.ringway.vcpu.exit.ExitStats;
import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.exit.VcpuRunner;
import io.ringway.vcpu.guest.LongMode;
import io.ringway.vcpu.kvm.CpuidEntry;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmRegs;
import io.ringway.vcpu.kvm.KvmSregs;
import io.ringway.vcpu.kvm.KvmSregs.DescriptorTable;
import io.ringway.vcpu.kvm.KvmSregs.Seg;
import io.ringway.vcpu.kvm.KvmSregs.Segment;
import io.ringway.vcpu.kvm.KvmUnavailableException;
import io.ringway.vcpu.kvm.Vcpu;
import io.ringway.vcpu.kvm.Vm;
import io.ringway.vcpu.pci.PciBus;
import io.ringway.vcpu.pci.PciHostBridge;
import io.ringway.vcpu.pci.virtio.VirtioPciFunction;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.bdev.BlockDeviceSpec;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vcpu.virtio.VhostUserDevice;
import io.ringway.vhost.virtio.VirtioDevice;

/**
 * A KVM virtual machine that boots Linux: guest RAM (split around the MMIO hole; anonymous memory on
 * transparent huge pages, or a memfd that vhost-user back-ends can map: {@link RamBacking}), the in-kernel irqchip (PIC, IOAPIC, LAPIC) and PIT, CPUID from
 * KVM_GET_SUPPORTED_CPUID with the SMP topology of {@link CpuidTopology}, a COM1 8250 UART on IRQ 4 (an
 * irqfd), the power-off/reset ports, PCI bus 0 with its host bridge behind configuration mechanism #1
 * ({@link PciBus}), and the boot CPU set up as {@link LinuxLoader} left memory (long mode for the 64-bit
 * entry, protected mode for PVH).
 *
 * <h2>SMP</h2>
 * vCPU {@code i} has APIC id {@code i} (the MADT lists one LAPIC per vCPU). Only the BSP (vCPU 0) gets
 * registers; each AP is put in KVM_MP_STATE_UNINITIALIZED, so its KVM_RUN waits in the kernel until the
 * guest's INIT/SIPI through the in-kernel LAPIC starts it at the SIPI vector (api.rst KVM_SET_MP_STATE).
 * Every vCPU runs its own {@link VcpuRunner} on its own thread, sharing the port and MMIO buses; the
 * devices on them are safe to call from several vCPU threads. The first vCPU run to end — a power-off,
 * reset or debug exit from any vCPU, or a fault — stops all the others, and so does a timeout.
 */
public final class LinuxVm implements AutoCloseable {
    static final int KVM_CAP_TSC_DEADLINE_TIMER = 72;
    /** 8-bit APIC ids in the MADT (255 is the broadcast id, and the I/O APIC takes id {@code cpus}). */
    public static final int MAX_CPUS = 254;
    /** The kernel command line `ringway vm boot` starts from: console on COM1, power off on reboot and panic. */
    public static final String DEFAULT_CMDLINE = "console=ttyS0 reboot=k panic=-1";
    /**
     * What the command line needs when devices are on PCI: {@code pci=noearly} (PCI_PROBE_NOEARLY, so
     * arch/x86/pci/early.c early_pci_allowed() is false) stops Linux's config-space accesses from
     * setup_arch, before ACPI: on an AMD family 0Fh-15h CPU model (amd_gart_present(); the nested test's
     * TCG CPU) early_gart_iommu_check() and gart_iommu_hole_init() run search_agp_bridge(), which reads
     * function 0 of every slot of buses 0-255 through 0xCF8/0xCFC whatever the firmware says (~16,400
     * port exits; no ACPI table can bound it: the loop is fixed and runs before the DSDT is read), and
     * early_quirks() scans bus 0. None of it has anything to find here (no GART, no chipset quirks);
     * ACPI enumeration of PCI0's [bus 00] is unaffected. LinuxBootNestedTest's PVH guest: 641 exits to
     * power-off, 94 config cycles on bus 0 only, against 17,329 exits and 8,438 config cycles over 256
     * buses with iommu=noaperture (which {@code pci=noearly} makes redundant) and 33,862 with neither.
     */
    public static final String PCI_CMDLINE = "pci=noearly";
    /** How long a stopped vCPU thread may take to leave KVM_RUN before the VM gives up on it. */
    private static final long STOP_WAIT_SECONDS = 10;

    /**
     * How a boot ended.
     *
     * @param exit     what the guest asked for (NONE when it did not: a fault, a stop, a timeout)
     * @param status   the process exit status: the guest's (0 for power-off and reset, the debug-exit
     *                 value), 1 for a fault, 124 for a timeout
     * @param run      the vCPU run's own result (null on timeout)
     * @param report   one line, or the fault report with registers
     * @param bootTimerNanos from {@link #create} to the guest's first write to the {@link BootTimer} port, -1 without one
     */
    public record Result(GuestExit.Kind exit, int status, RunResult run, String report, long bootTimerNanos) {
    }

    /**
     * What backs guest RAM. KVM maps the guest with 2 MiB pages only where the host memory behind a 2 MiB
     * guest range is one huge page; with 4 KiB pages every guest TLB miss walks two levels of 4 KiB tables
     * (costly under nested paging, and the nested TCG test's first-touch faults cost seconds).
     */
    public enum RamBacking {
        /**
         * Private anonymous memory at a 2 MiB boundary advised MADV_HUGEPAGE ({@link AnonymousRegion}): transparent
         * huge pages where THP is "always" or "madvise", as QEMU's RAM gets. It has no fd, so only in-process devices
         * can serve this VM: a vhost-user device is refused by name ({@link #addVirtioPci}).
         */
        ANONYMOUS,
        /**
         * A memfd ({@link SharedRegion}) whose fd vhost-user back-ends map, advised MADV_HUGEPAGE: huge pages only where
         * transparent_hugepage/shmem_enabled allows them ("advise", "always"; it is often "never").
         */
        MEMFD,
        /**
         * A hugetlb memfd of reserved 2 MiB pages, shareable and huge; with too few free it falls back to
         * {@link #MEMFD} (an fd for the vhost-user back-ends) and says so.
         */
        HUGETLB,
        /**
         * A hugetlb memfd as {@link #HUGETLB}, for a VM whose devices are all in-process: with too few free huge pages
         * it falls back to {@link #ANONYMOUS} (transparent huge pages), not to 4 KiB memfd pages. Pick {@link #HUGETLB}
         * when a vhost-user back-end will serve a device: this fall-back has no fd.
         */
        HUGETLB_IN_PROCESS;

        /**
         * What {@code vm boot} uses: HUGETLB (HUGETLB_IN_PROCESS without vhost-user devices) when asked for, MEMFD when
         * a vhost-user back-end must map guest RAM, else ANONYMOUS.
         */
        public static RamBacking choose(boolean hugepages, boolean vhostUserDevices) {
            if (hugepages) {
                return vhostUserDevices ? HUGETLB : HUGETLB_IN_PROCESS;
            }
            return vhostUserDevices ? MEMFD : ANONYMOUS;
        }

        /** The backing used when the huge pages this one asks for cannot be had; null for those that ask for none. */
        public RamBacking fallback() {
            return switch (this) {
                case HUGETLB -> MEMFD;
                case HUGETLB_IN_PROCESS -> ANONYMOUS;
                case ANONYMOUS, MEMFD -> null;
            };
        }
    }

    /**
     * One part of guest RAM as made (below the MMIO hole, or from 4 GiB) and the line that says what backs it.
     *
     * @param line e.g. "low 512 MiB at 0x0: anonymous memory at a 2 MiB boundary, MADV_HUGEPAGE (transparent_hugepage/enabled: madvise)"
     */
    record RamPart(MappedRegion region, String line) {
    }

    private final Vm vm;
    private final List<MappedRegion> regions = new ArrayList<>();
    /** What backs each part of guest RAM, as made (low, then high), one line each. */
    private final List<String> ramBacking = new ArrayList<>();
    private final EventFd serialIrq;
    private final Serial8250 serial;
    private final List<VcpuRunner> runners = new ArrayList<>();
    private final GuestExit exit;
    private final PciBus pci;
    private final BootEntry entry;
    private final BootTimer bootTimer = new BootTimer(System.nanoTime());
    private final List<VirtioPciFunction> functions = new ArrayList<>();
    /** What {@link #addBlk} opened for the VM, closed after the functions, last opened first. */
    private final List<AutoCloseable> owned = new ArrayList<>();
    private int blkCount;

    private LinuxVm(Kvm kvm, int cpus, long memory, RamBacking backing, MemorySegment kernel, String kernelName,
                    MemorySegment initrd, String initrdName, String cmdline, OutputStream console) {
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw new IllegalArgumentException("--cpus " + cpus + ": must be 1.." + MAX_CPUS + " (8-bit APIC ids in the MADT)");
        }
        int kvmMax = maxVcpus(kvm);
        if (cpus > kvmMax) {
            throw new KvmUnavailableException("--cpus " + cpus + ": this KVM allows at most " + kvmMax + " vCPUs per VM (KVM_CAP_MAX_VCPUS)");
        }
        if (cpus > 1) {
            kvm.requireExtension(KvmApi.KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE");
        }
        kvm.requireExtension(KvmApi.KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
        kvm.requireExtension(KvmApi.KVM_CAP_IRQFD, "KVM_CAP_IRQFD");
        kvm.requireExtension(KvmApi.KVM_CAP_PIT2, "KVM_CAP_PIT2");
        kvm.requireExtension(KvmApi.KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID");
        BootLayout.e820(memory); // rejects a bad size before anything is allocated
        vm = kvm.createVm();
        try {
            vm.setTssAddress(Vm.DEFAULT_TSS_ADDRESS);
            vm.createIrqchip();
            vm.createPit2();
            MappedRegion low = add(ram("low", 0, BootLayout.lowRam(memory), memory, backing));
            vm.addMemory(0, low);
            if (BootLayout.highRam(memory) > 0) {
                vm.addMemory(BootLayout.HIGH_RAM_START, add(ram("high", BootLayout.HIGH_RAM_START, BootLayout.highRam(memory), memory, backing)));
            }
            entry = LinuxLoader.load(low.segment(), memory, cpus, kernel, kernelName, initrd, initrdName, cmdline);

            List<Vcpu> vcpus = new ArrayList<>();
            List<CpuidEntry> supported = kvm.supportedCpuid();
            boolean tscDeadline = kvm.checkExtension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
            for (int id = 0; id < cpus; id++) {
                Vcpu vcpu = vm.createVcpu(id);
                vcpu.setCpuid(CpuidTopology.forVcpu(supported, cpus, id, tscDeadline));
                if (id == 0) {
                    setBootCpu(vcpu, entry);
                } else {
                    vcpu.setMpState(KvmApi.KVM_MP_STATE_UNINITIALIZED); // waits for the BSP's INIT/SIPI
                }
                vcpus.add(vcpu);
            }

            IoBus io = new IoBus();
            MmioBus mmio = new MmioBus();
            serialIrq = EventFd.create(true);
            vm.addIrqfd(serialIrq, Serial8250.COM1_IRQ);
            serial = new Serial8250(console, serialIrq::signal);
            io.register("com1", Serial8250.COM1, Serial8250.REGISTERS, serial);
            for (Vcpu vcpu : vcpus) {
                runners.add(new VcpuRunner(vcpu, io, mmio, new ExitStats()));
            }
            exit = new GuestExit(this::stopAll); // from any vCPU: every run loop ends after this exit
            new PlatformPorts(exit).register(io);
            pci = new PciBus(io, mmio);
            pci.add(0, new PciHostBridge());
            pci.registerPorts();
            io.register("boot-timer", BootTimer.PORT, 1, bootTimer);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Registers {@code part} for closing and for {@link #ramBacking()}. */
    private MappedRegion add(RamPart part) {
        regions.add(part.region());
        ramBacking.add(part.line());
        return part.region();
    }

    /**
     * The {@code part} ("low" or "high") of guest RAM at {@code gpa}, {@code size} bytes of {@code memory} in all, backed as
     * {@code backing} says (or by its {@link RamBacking#fallback()} when the huge pages cannot be had).
     *
     * @throws IllegalArgumentException when the kernel refuses the memory (mmap ENOMEM for a --memory beyond what
     *         vm.overcommit_memory allows, or beyond the address space), naming the size and the error in one line
     */
    static RamPart ram(String part, long gpa, long size, long memory, RamBacking backing) {
        try {
            return backed(part, gpa, size, backing);
        } catch (LinuxException e) {
            throw new IllegalArgumentException("guest RAM of " + (memory >> 20) + " MiB: " + Errno.description(e.errno()) + " ("
                + e.call() + " for the " + part + " " + (size >> 20) + " MiB failed with " + e.errnoName()
                + (e.errno() == Errno.ENOMEM ? "; see vm.overcommit_memory" : "") + ")", e);
        }
    }

    private static RamPart backed(String part, long gpa, long size, RamBacking backing) {
        String name = "ringway-guest-" + part;
        String prefix = part + " " + (size >> 20) + " MiB at 0x" + Long.toHexString(gpa) + ": ";
        RamBacking fallback = backing.fallback();
        if (fallback != null) {
            String shortage = SharedRegion.hugePagesShortage(size);
            if (shortage == null) {
                SharedRegion huge = SharedRegion.create(name, size, SharedRegion.Options.DEFAULTS.hugepages(true));
                if (huge.hugepages()) {
                    return new RamPart(huge, prefix + describe(huge));
                }
                // MFD_HUGETLB refused after all (create() warned why) and create() fell back to a normal-page memfd
                shortage = "memfd MFD_HUGETLB refused";
                if (fallback == RamBacking.MEMFD) {
                    return new RamPart(huge, prefix + describe(huge) + "; not hugetlb: " + shortage);
                }
                huge.close(); // THP instead of 4 KiB memfd pages
            }
            MappedRegion region = create(name, size, fallback);
            return new RamPart(region, prefix + describe(region) + "; not hugetlb: " + shortage);
        }
        MappedRegion region = create(name, size, backing);
        return new RamPart(region, prefix + describe(region));
    }

    private static MappedRegion create(String name, long size, RamBacking backing) {
        return switch (backing) {
            case ANONYMOUS -> AnonymousRegion.create(name, size);
            case MEMFD -> SharedRegion.create(name, size);
            case HUGETLB, HUGETLB_IN_PROCESS -> SharedRegion.create(name, size, SharedRegion.Options.DEFAULTS.hugepages(true));
        };
    }

    /** The region's backing; a normal-page memfd advised MADV_HUGEPAGE here, and the line says whether the kernel took it. */
    private static String describe(MappedRegion region) {
        String line = region.backing();
        if (region instanceof SharedRegion shared && !shared.hugepages()) {
            String refused = TransparentHugePages.advise(shared.segment());
            line += refused == null ? ", MADV_HUGEPAGE (transparent_hugepage/shmem_enabled: " + TransparentHugePages.shmemEnabled() + ")"
                : " (MADV_HUGEPAGE refused: " + refused + ")";
        }
        return line;
    }

    /**
     * Creates the VM with guest RAM on anonymous memory with transparent huge pages ({@link RamBacking#ANONYMOUS}:
     * in-process devices only) and loads the guest; nothing runs yet. {@code initrd} may be null.
     * Bad input fails with a {@link BadKernelException} or {@link IllegalArgumentException}, a missing
     * KVM capability with a {@code KvmUnavailableException}, each with a one-line message.
     */
    public static LinuxVm create(Kvm kvm, int cpus, long memory, MemorySegment kernel, String kernelName,
                                 MemorySegment initrd, String initrdName, String cmdline, OutputStream console) {
        return create(kvm, cpus, memory, RamBacking.ANONYMOUS, kernel, kernelName, initrd, initrdName, cmdline, console);
    }

    /**
     * As {@link #create(Kvm, int, long, MemorySegment, String, MemorySegment, String, String, OutputStream)}, with guest RAM
     * backed as {@code backing} says: {@link RamBacking#MEMFD} or {@link RamBacking#HUGETLB} when a vhost-user back-end
     * ({@code vhost:} in {@link #addBlk}, a {@code VhostUserDevice}) will serve a device of this VM.
     */
    public static LinuxVm create(Kvm kvm, int cpus, long memory, RamBacking backing, MemorySegment kernel,
                                 String kernelName, MemorySegment initrd, String initrdName, String cmdline, OutputStream console) {
        return new LinuxVm(kvm, cpus, memory, backing, kernel, kernelName, initrd, initrdName, cmdline, console);
    }

    /**
     * What backs guest RAM, one line per part (below the MMIO hole; from 4 GiB when there is more), e.g.
     * "low 512 MiB at 0x0: anonymous memory at a 2 MiB boundary, MADV_HUGEPAGE (transparent_hugepage/enabled: madvise)";
     * a hugetlb fall-back says why after "; not hugetlb: ".
     */
    public List<String> ramBacking() {
        return List.copyOf(ramBacking);
    }

    /**
     * The bytes of guest RAM that huge pages back now (transparent or hugetlb; from /proc/self/smaps, so
     * for reports, not for hot paths), -1 when that cannot be read.
     */
    public long ramHugePageBytes() {
        long total = 0;
        for (MappedRegion r : regions) {
            long bytes = TransparentHugePages.mappedHugeBytes(r.segment());
            if (bytes < 0) {
                return -1;
            }
            total += bytes;
        }
        return total;
    }

    /** Where the loader put things. */
    public BootEntry entry() {
        return entry;
    }

    /** PCI bus 0 (configuration mechanism #1 at 0xCF8/0xCFC; the host bridge in slot 0): add functions before {@link #run}. */
    public PciBus pci() {
        return pci;
    }

    /**
     * Adds {@code device} to the guest as a modern virtio-pci function (virtio 1.2, 4.1) in the lowest
     * free slot of bus 0 and returns it: notifications reach the device through ioeventfds, its
     * interrupts the guest through irqfds routed per MSI-X vector ({@link VirtioPciFunction}).
     * An in-process device (Ringway's {@code VirtioBlkDevice}, {@code VirtioNetDevice}, ...) runs on
     * {@code lcore}, a started data-plane thread the caller owns and closes after this VM; a device
     * that implements {@code ExternalRings} ({@code VhostUserDevice}: any vhost-user back-end) takes
     * {@code lcore} null. The function is closed with the VM (the device stays the caller's).
     * Call before {@link #run}; the kernel command line must leave PCI on (no {@code pci=off}).
     *
     * @param name a short name for logs ("blk0", "net0")
     * @throws IllegalArgumentException when the device cannot be a virtio-pci function, or bus 0 is full, or
     *         a vhost-user back-end would serve it while guest RAM has no fd ({@link RamBacking#ANONYMOUS})
     */
    public synchronized VirtioPciFunction addVirtioPci(String name, VirtioDevice device, Lcore lcore) {
        VirtioPciFunction f = VirtioPciFunction.create(name, vm, device, lcore);
        try {
            pci.add(f.pciDevice());
        } catch (RuntimeException e) {
            f.close();
            throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
        }
        functions.add(f);
        return f;
    }

    /** The device type of virtio-blk (virtio 1.2, 5). */
    public static final int VIRTIO_BLK_ID = 2;
    /** The most request queues {@link #addBlk} gives an in-process disk. */
    static final int MAX_BLK_QUEUES = 8;
    /** The queue size offered by a vhost-user-blk back-end behind {@link #addBlk}. */
    private static final int VHOST_QUEUE_SIZE = 256;

    /**
     * Adds a virtio-blk disk as a virtio-pci function: {@code vhost:SOCK} connects to a vhost-user-blk
     * back-end listening on SOCK ({@code ringway blk}, qemu-storage-daemon; it gets the rings and both
     * eventfds and serves them without this process), anything else is a bdev spec
     * ({@link BlockDeviceSpec}: {@code malloc:SIZE}, {@code null:SIZE}, {@code file:PATH[,direct]})
     * served by Ringway's {@link VirtioBlkDevice} on a data-plane lcore of its own (adaptive idle), with
     * one request queue per vCPU (at most {@value #MAX_BLK_QUEUES}), all served by that lcore.
     * The VM owns and closes what this opens. The disks are named blk0, blk1, ... in order.
     *
     * @throws IllegalArgumentException for a bad spec (the message names it), or when the back-end cannot be reached
     */
    public synchronized VirtioPciFunction addBlk(String spec) {
        String name = "blk" + blkCount;
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            VirtioPciFunction f;
            if (spec.startsWith("vhost:")) {
                String socket = spec.substring("vhost:".length());
                if (socket.isEmpty()) {
                    throw new IllegalArgumentException("--blk " + spec + ": expected vhost:SOCKET");
                }
                for (MappedRegion r : regions) { // refused before connecting: the back-end never sees a half set-up
                    if (!(r instanceof SharedRegion)) { // every part: a HUGETLB_IN_PROCESS fall-back may leave one anonymous
                        throw new IllegalArgumentException("--blk " + spec + ": a vhost-user back-end maps guest RAM from its fd, but this VM's RAM is "
                            + r.backing() + " (no fd): create the VM with RamBacking.MEMFD or HUGETLB");
                    }
                }
                VhostUserDevice device;
                try {
                    device = VhostUserDevice.connect(java.nio.file.Path.of(socket), VIRTIO_BLK_ID, VHOST_QUEUE_SIZE);
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException("--blk " + spec + ": no vhost-user back-end: " + e.getMessage(), e);
                }
                opened.add(device);
                f = addVirtioPci(name, device, null);
            } else {
                BlockDevice bdev = BlockDeviceSpec.open(spec, 512, false, null);
                opened.add(bdev);
                // one request queue per vCPU, up to 8 (VIRTIO_BLK_F_MQ), as QEMU's num-queues default: each its own MSI-X vector
                VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).name("vm-" + name).queues(Math.min(cpus(), MAX_BLK_QUEUES)).build();
                opened.add(device);
                Lcore lcore = Lcore.builder("vm-" + name).idlePolicy(IdlePolicy.adaptive()).start();
                opened.add(lcore);
                f = addVirtioPci(name, device, lcore);
            }
            owned.addAll(opened);
            blkCount++;
            return f;
        } catch (RuntimeException e) {
            closeAll(opened);
            throw e;
        }
    }

    private static void closeAll(List<AutoCloseable> list) {
        for (int i = list.size() - 1; i >= 0; i--) {
            try {
                list.get(i).close();
            } catch (Exception e) {
                System.getLogger(LinuxVm.class.getName()).log(System.Logger.Level.WARNING, "close " + list.get(i) + ": " + e.getMessage());
            }
        }
    }

    /** The virtio-pci functions added so far. */
    public synchronized List<VirtioPciFunction> virtioFunctions() {
        return List.copyOf(functions);
    }

    /** The {@link System#nanoTime()} of the guest's first boot-timer write, -1 before it. */
    public long bootTimerWriteNanos() {
        return bootTimer.firstWriteNanos();
    }

    /** The number of vCPUs. */
    public int cpus() {
        return runners.size();
    }

    /** KVM_GET_MP_STATE of vCPU {@code cpu}, before or after {@link #run} (not during). */
    int mpState(int cpu) {
        return runners.get(cpu).vcpu().getMpState();
    }

    /**
     * Runs the guest until it powers off, resets, exits through the debug port, a vCPU faults, or
     * {@code timeout} passes; every vCPU thread has ended when this returns.
     */
    public Result run(Duration timeout) {
        List<CompletableFuture<RunResult>> done = new ArrayList<>();
        try {
            for (int i = 0; i < runners.size(); i++) {
                done.add(runners.get(i).start("ringway-vcpu-" + i));
            }
            return awaitEnd(done, timeout);
        } finally {
            stopAll(); // whatever went wrong above (a thread that did not start, an unexpected exception), no vCPU keeps running
        }
    }

    private Result awaitEnd(List<CompletableFuture<RunResult>> done, Duration timeout) {
        Throwable failure = null;
        boolean timedOut = false;
        boolean interrupted = false;
        try {
            // saturating: a timeout beyond Long.MAX_VALUE ns (292 years) waits that long instead of overflowing Duration.toNanos()
            CompletableFuture.anyOf(done.toArray(CompletableFuture[]::new)).get(TimeUnit.NANOSECONDS.convert(timeout), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            timedOut = true;
        } catch (InterruptedException e) {
            interrupted = true;
        } catch (ExecutionException e) {
            failure = e.getCause();
        }
        stopAll();
        RunResult[] results = new RunResult[done.size()];
        long exits = 0;
        List<Integer> stuck = new ArrayList<>();
        for (int i = 0; i < done.size(); i++) {
            try {
                results[i] = done.get(i).get(STOP_WAIT_SECONDS, TimeUnit.SECONDS);
                exits += results[i].exits();
            } catch (TimeoutException e) {
                stuck.add(i);
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (ExecutionException e) {
                failure = failure == null ? e.getCause() : failure;
            }
        }
        serial.flush();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (!stuck.isEmpty()) {
            throw new IllegalStateException("vCPU thread(s) " + stuck + " did not leave KVM_RUN within " + STOP_WAIT_SECONDS + " s of a stop");
        }
        if (failure != null) {
            throw new IllegalStateException("vCPU thread failed: " + failure, failure);
        }
        GuestExit.Kind kind = exit.kind();
        RunResult first = firstEnded(results);
        if (kind != GuestExit.Kind.NONE) {
            return new Result(kind, exit.status(), first, "guest " + switch (kind) {
                case POWER_OFF -> "powered off";
                case RESET -> "reset";
                case DEBUG_EXIT -> "exited through the debug port with status " + exit.status();
                case NONE -> throw new AssertionError();
            } + " after " + exits + " exits" + (results.length > 1 ? " on " + results.length + " vCPUs" : "") + bootTimerText(),
                bootTimer.elapsedNanos());
        }
        if (interrupted) {
            return new Result(GuestExit.Kind.NONE, 130, null, "interrupted", bootTimer.elapsedNanos());
        }
        if (timedOut) {
            return new Result(GuestExit.Kind.NONE, 124, null, "the guest did not end within " + timeout.toSeconds() + " s",
                bootTimer.elapsedNanos());
        }
        return new Result(kind, 1, first, first.report(), bootTimer.elapsedNanos());
    }

    /** The run that ended the VM: the first that was not stopped by another (a fault, a halt), else vCPU 0's. */
    private static RunResult firstEnded(RunResult[] results) {
        for (RunResult r : results) {
            if (r != null && r.outcome() != RunResult.Outcome.STOPPED) {
                return r;
            }
        }
        return results[0];
    }

    /** From any thread, any number of times: every vCPU leaves KVM_RUN and its run loop ends. */
    private void stopAll() {
        for (VcpuRunner r : runners) {
            r.stop();
        }
    }

    /** KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS, else 4 (api.rst KVM_CREATE_VCPU). */
    static int maxVcpus(Kvm kvm) {
        int max = kvm.checkExtension(KvmApi.KVM_CAP_MAX_VCPUS);
        if (max <= 0) {
            max = kvm.checkExtension(KvmApi.KVM_CAP_NR_VCPUS);
        }
        return max <= 0 ? 4 : max;
    }

    private String bootTimerText() {
        long n = bootTimer.elapsedNanos();
        return n < 0 ? "" : String.format("; boot timer written %.1f ms after the VM was created", n / 1e6);
    }

    /** Registers and segments at the entry point (boot.rst "64-bit boot protocol"; Xen PVH for 32-bit). */
    static void setBootCpu(Vcpu vcpu, BootEntry entry) {
        KvmSregs sregs = vcpu.getSregs();
        boolean pvh = entry.mode() == BootEntry.Mode.PVH_32;
        Segment code = pvh
            ? new Segment(0, 0xffffffff, LinuxLoader.BOOT_CS32, 0xb, true, 0, true, true, false, true, false, false)
            : new Segment(0, 0xffffffff, LinuxLoader.BOOT_CS, 0xb, true, 0, false, true, true, true, false, false);
        Segment data = new Segment(0, 0xffffffff, LinuxLoader.BOOT_DS, 0x3, true, 0, true, true, false, true, false, false);
        Segment tss = new Segment(0, 0x67, LinuxLoader.BOOT_TSS, 0xb, true, 0, false, false, false, false, false, false);
        Segment ldt = new Segment(0, 0, 0, 0x2, false, 0, false, false, false, false, false, true);
        sregs.segment(Seg.CS, code);
        for (Seg s : new Seg[] {Seg.DS, Seg.ES, Seg.FS, Seg.GS, Seg.SS}) {
            sregs.segment(s, data);
        }
        sregs.segment(Seg.TR, tss).segment(Seg.LDT, ldt);
        sregs.gdt(new DescriptorTable(BootLayout.GDT, LinuxLoader.GDT_SIZE - 1)).idt(new DescriptorTable(0, 0));
        if (pvh) {
            sregs.cr0(0x11).cr4(0).efer(0).cr3(0); // PE | ET, paging off (PVH: "CR0: PE set, PG clear; CR4 clear")
        } else {
            sregs.cr0(LongMode.CR0).cr4(LongMode.CR4).efer(LongMode.EFER).cr3(entry.cr3());
        }
        vcpu.setSregs(sregs);
        KvmRegs regs = new KvmRegs().rip(entry.rip()).rsp(BootLayout.STACK_TOP).rflags(KvmRegs.RFLAGS_RESERVED);
        regs.gpr(pvh ? 3 : 6, entry.bootInfo()); // EBX = hvm_start_info / RSI = boot_params
        regs.gpr(5, BootLayout.STACK_TOP); // rbp
        vcpu.setRegs(regs);
    }

    @Override
    public synchronized void close() {
        for (VirtioPciFunction f : functions) {
            f.close();
        }
        functions.clear();
        closeAll(owned);
        owned.clear();
        if (vm != null) {
            vm.close();
        }
        if (serialIrq != null) {
            serialIrq.close();
        }
        for (MappedRegion r : regions) {
            r.close();
        }
    }
}

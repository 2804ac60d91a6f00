package io.ringway.vcpu.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import io.ringway.runtime.mem.MappedRegion;
import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.sys.EventFd;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A KVM virtual machine: guest memory slots, the in-kernel irqchip and PIT, ioeventfds, irqfds,
 * and the factory of {@link Vcpu}s.
 *
 * <p>Memory slots come from {@link MappedRegion}s: a {@link SharedRegion} (memfd-backed), so the pages
 * KVM maps for the guest (through EPT/NPT, or PVM's shadow tables) are the very pages a vhost-user
 * backend maps from the region's fd, or an anonymous region (no fd: in-process devices only).
 */
public final class Vm implements AutoCloseable {
    /** Where the VMX TSS pages go (three pages below 4 GiB, the address Firecracker and QEMU use). */
    public static final long DEFAULT_TSS_ADDRESS = 0xfffb_d000L;
    /** The first GSI {@link #allocateGsi()} hands out: 0-23 are the in-kernel PIC/IOAPIC lines. */
    public static final int FIRST_DYNAMIC_GSI = 24;

    /**
     * A memory slot as registered.
     *
     * @param slot   the slot number
     * @param gpa    guest-physical start
     * @param region the host memory behind it
     */
    public record MemorySlot(int slot, long gpa, MappedRegion region) {
        /** Guest-physical end (exclusive). */
        public long end() {
            return gpa + region.size();
        }

        /**
         * The slot's memory as a {@link SharedRegion}, whose fd another process (a vhost-user back-end) can map.
         *
         * @throws IllegalStateException naming the slot and its backing when the memory has no fd (anonymous)
         */
        public SharedRegion sharedRegion() {
            if (region instanceof SharedRegion shared) {
                return shared;
            }
            throw new IllegalStateException("memory slot " + slot + " [0x" + Long.toHexString(gpa) + ", 0x" + Long.toHexString(end())
                + ") is " + region.backing() + ", which has no fd for a vhost-user back-end to map: back guest RAM with a memfd");
        }
    }

    private final Kvm kvm;
    private final int fd;
    private final List<MemorySlot> slots = new ArrayList<>();
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final Set<Integer> dirtyLogged = new HashSet<>();
    private List<GsiRoute> routes;
    /** The next GSI {@link #allocateGsi()} hands out: above the irqchip's 24 lines. */
    private int nextGsi = FIRST_DYNAMIC_GSI;
    private volatile boolean closed;

    Vm(Kvm kvm, int fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    /** The KVM handle this VM came from. */
    public Kvm kvm() {
        return kvm;
    }

    /**
     * KVM_SET_USER_MEMORY_REGION: maps {@code region} at guest-physical {@code gpa} in the next free
     * slot. Both must be 4 KiB aligned and the slot must not overlap another.
     */
    public synchronized MemorySlot addMemory(long gpa, MappedRegion region) {
        return addMemory(gpa, region, false);
    }

    /**
     * {@link #addMemory(long, MappedRegion)}, with dirty page logging on the slot when
     * {@code logDirtyPages} (KVM_MEM_LOG_DIRTY_PAGES: read the bitmap with {@link #dirtyLog}).
     */
    public synchronized MemorySlot addMemory(long gpa, MappedRegion region, boolean logDirtyPages) {
        if ((gpa & 0xfff) != 0 || (region.size() & 0xfff) != 0) {
            throw new IllegalArgumentException("memory slot gpa and size must be 4 KiB aligned, got gpa=0x"
                + Long.toHexString(gpa) + " size=0x" + Long.toHexString(region.size()));
        }
        for (MemorySlot s : slots) {
            if (gpa < s.end() && s.gpa() < gpa + region.size()) {
                throw new IllegalArgumentException("memory slot [0x" + Long.toHexString(gpa) + ", 0x"
                    + Long.toHexString(gpa + region.size()) + ") overlaps slot " + s.slot() + " [0x"
                    + Long.toHexString(s.gpa()) + ", 0x" + Long.toHexString(s.end()) + ")");
            }
        }
        int slot = slots.size();
        setUserMemoryRegion(slot, gpa, region, logDirtyPages ? KvmApi.KVM_MEM_LOG_DIRTY_PAGES : 0);
        MemorySlot added = new MemorySlot(slot, gpa, region);
        slots.add(added);
        if (logDirtyPages) {
            dirtyLogged.add(slot);
        }
        return added;
    }

    private void setUserMemoryRegion(int slot, long gpa, MappedRegion region, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            // struct kvm_userspace_memory_region: u32 slot, u32 flags, u64 guest_phys_addr,
            // u64 memory_size, u64 userspace_addr (32 bytes, checked with gcc)
            MemorySegment s = arena.allocate(32, 8);
            s.set(JAVA_INT, 0, slot);
            s.set(JAVA_INT, 4, flags);
            s.set(JAVA_LONG, 8, gpa);
            s.set(JAVA_LONG, 16, region.size());
            s.set(JAVA_LONG, 24, region.segment().address());
            ioctl(KvmApi.KVM_SET_USER_MEMORY_REGION, s, "KVM_SET_USER_MEMORY_REGION slot=" + slot + " gpa=0x"
                + Long.toHexString(gpa) + " flags=0x" + Integer.toHexString(flags));
        }
    }

    /**
     * Turns dirty page logging of a registered slot on or off (KVM_SET_USER_MEMORY_REGION again with
     * KVM_MEM_LOG_DIRTY_PAGES changed; api.rst 4.35 allows changing the flags of a live slot).
     */
    public synchronized void setDirtyLogging(int slot, boolean on) {
        MemorySlot s = slot(slot);
        setUserMemoryRegion(slot, s.gpa(), s.region(), on ? KvmApi.KVM_MEM_LOG_DIRTY_PAGES : 0);
        if (on) {
            dirtyLogged.add(slot);
        } else {
            dirtyLogged.remove(slot);
        }
    }

    /**
     * KVM_GET_DIRTY_LOG: the pages of {@code slot} written since logging was turned on or since the
     * previous call (the call re-arms the log: each page shows up once per write-and-read cycle).
     */
    public synchronized DirtyBitmap dirtyLog(int slot) {
        MemorySlot s = slot(slot);
        if (!dirtyLogged.contains(slot)) {
            throw new IllegalStateException("memory slot " + slot + " does not log dirty pages (add it with logDirtyPages, or setDirtyLogging)");
        }
        long pages = s.region().size() / DirtyBitmap.PAGE_SIZE;
        int words = DirtyBitmap.wordsFor(pages);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bitmap = arena.allocate(8L * words, 8);
            // struct kvm_dirty_log: u32 slot, u32 padding, union { void *dirty_bitmap; u64 } (16 bytes)
            MemorySegment log = arena.allocate(16, 8);
            log.set(JAVA_INT, 0, slot);
            log.set(JAVA_LONG, 8, bitmap.address());
            ioctl(KvmApi.KVM_GET_DIRTY_LOG, log, "KVM_GET_DIRTY_LOG slot=" + slot);
            return new DirtyBitmap(slot, s.gpa(), pages, bitmap.toArray(JAVA_LONG));
        }
    }

    private MemorySlot slot(int slot) {
        if (slot < 0 || slot >= slots.size()) {
            throw new IllegalArgumentException("no memory slot " + slot + " (this VM has " + slots.size() + ")");
        }
        return slots.get(slot);
    }

    /** The registered memory slots. */
    public synchronized List<MemorySlot> memorySlots() {
        return Collections.unmodifiableList(new ArrayList<>(slots));
    }

    /**
     * KVM_SET_TSS_ADDR where the kernel offers it (Intel VMX needs three pages for real-mode
     * emulation; others accept and ignore). Returns whether it was set.
     */
    public boolean setTssAddress(long address) {
        if (kvm.checkExtension(KvmApi.KVM_CAP_SET_TSS_ADDR) <= 0) {
            return false;
        }
        return LibC.tryIoctl(fd, KvmApi.KVM_SET_TSS_ADDR, address) == 0;
    }

    /** KVM_CREATE_IRQCHIP (PIC, IOAPIC and per-vCPU local APICs in the kernel); call before creating vCPUs. */
    public void createIrqchip() {
        kvm.requireExtension(KvmApi.KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
        int result = LibC.tryIoctl(fd, KvmApi.KVM_CREATE_IRQCHIP, 0L);
        if (result < 0) {
            throw new LinuxException("ioctl", "KVM_CREATE_IRQCHIP", -result);
        }
        synchronized (this) {
            routes = GsiRoute.defaultIrqchipRoutes();
        }
    }

    /**
     * KVM_SET_GSI_ROUTING: replaces the whole routing table with {@code table} (start from
     * {@link GsiRoute#defaultIrqchipRoutes()} to keep the legacy GSIs). Needs KVM_CAP_IRQ_ROUTING;
     * every GSI must be below the table size KVM reports for it.
     */
    public synchronized void setGsiRouting(List<GsiRoute> table) {
        int max = kvm.checkExtension(KvmApi.KVM_CAP_IRQ_ROUTING);
        if (max <= 0) {
            throw new KvmUnavailableException("KVM capability KVM_CAP_IRQ_ROUTING missing on this machine");
        }
        if (table.size() > max) {
            throw new IllegalArgumentException("GSI routing table of " + table.size() + " entries exceeds KVM's " + max);
        }
        for (GsiRoute r : table) {
            if (r.gsi() >= max) {
                throw new IllegalArgumentException("GSI " + r.gsi() + " out of range: KVM routes GSIs 0.." + (max - 1));
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            // struct kvm_irq_routing: u32 nr, u32 flags, then nr x struct kvm_irq_routing_entry (48 bytes:
            // u32 gsi, u32 type, u32 flags, u32 pad, union u[32]) — sizes and offsets checked with gcc
            MemorySegment s = arena.allocate(8 + 48L * table.size(), 8);
            s.set(JAVA_INT, 0, table.size());
            for (int i = 0; i < table.size(); i++) {
                long at = 8 + 48L * i;
                GsiRoute r = table.get(i);
                s.set(JAVA_INT, at, r.gsi());
                switch (r) {
                    case GsiRoute.Irqchip c -> {
                        s.set(JAVA_INT, at + 4, KvmApi.KVM_IRQ_ROUTING_IRQCHIP);
                        s.set(JAVA_INT, at + 16, c.irqchip());   // kvm_irq_routing_irqchip: u32 irqchip, u32 pin
                        s.set(JAVA_INT, at + 20, c.pin());
                    }
                    case GsiRoute.Msi m -> {
                        s.set(JAVA_INT, at + 4, KvmApi.KVM_IRQ_ROUTING_MSI);
                        s.set(JAVA_INT, at + 16, (int) m.address());          // kvm_irq_routing_msi: address_lo,
                        s.set(JAVA_INT, at + 20, (int) (m.address() >>> 32)); // address_hi, data
                        s.set(JAVA_INT, at + 24, m.data());
                    }
                }
            }
            ioctl(KvmApi.KVM_SET_GSI_ROUTING, s, "KVM_SET_GSI_ROUTING nr=" + table.size());
        }
        routes = new ArrayList<>(table);
    }

    /**
     * Routes {@code gsi} to a fixed, edge-triggered MSI with {@code vector} to the local APIC
     * {@code apicId}, keeping the rest of the table (the defaults of {@link #createIrqchip()}, and
     * earlier routes); an irqfd bound to {@code gsi} ({@link #addIrqfd}) then injects that vector.
     */
    public synchronized void routeMsi(int gsi, int apicId, int vector) {
        GsiRoute.Msi m = GsiRoute.msiToApic(gsi, apicId, vector);
        setMsiRoute(gsi, m.address(), m.data());
    }

    /**
     * A GSI no one else in this process uses for this VM (24 upwards), for a device's MSI routes.
     * GSIs are never given back: a VM has at most KVM_CAP_IRQ_ROUTING of them (4096 on Linux).
     */
    public synchronized int allocateGsi() {
        return nextGsi++;
    }

    /**
     * Routes {@code gsi} to the MSI message a device's MSI-X table entry holds ({@code address},
     * {@code data}), replacing what {@code gsi} had and keeping the rest of the table. The message is
     * checked as {@link GsiRoute.Msi} checks it (an {@link IllegalArgumentException} names the problem).
     */
    public synchronized void setMsiRoute(int gsi, long address, int data) {
        GsiRoute.Msi route = new GsiRoute.Msi(gsi, address, data);
        List<GsiRoute> table = new ArrayList<>(routes == null ? List.of() : routes);
        table.removeIf(r -> r.gsi() == gsi);
        table.add(route);
        setGsiRouting(table);
    }

    /** Removes every route of {@code gsi} (does nothing when it has none). */
    public synchronized void removeGsiRoute(int gsi) {
        if (routes == null || routes.stream().noneMatch(r -> r.gsi() == gsi)) {
            return;
        }
        List<GsiRoute> table = new ArrayList<>(routes);
        table.removeIf(r -> r.gsi() == gsi);
        setGsiRouting(table);
    }

    /** The routing table last set ({@link #createIrqchip()} defaults, or {@link #setGsiRouting}); empty before either. */
    public synchronized List<GsiRoute> gsiRoutes() {
        return routes == null ? List.of() : List.copyOf(routes);
    }

    /**
     * KVM_SIGNAL_MSI, prepared once: the returned {@link MsiSignal} injects the message each time it is
     * signalled, without allocating (for a data-plane thread; one per thread).
     */
    public MsiSignal msiSignal(long address, int data) {
        kvm.requireExtension(KvmApi.KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI");
        new GsiRoute.Msi(0, address, data); // the same checks as a routed MSI
        return new MsiSignal(fd, address, data);
    }

    /**
     * The exits KVM_CAP_X86_DISABLE_EXITS can turn off here ({@link KvmApi}{@code .KVM_X86_DISABLE_EXITS_*}
     * bits; 0 when the kernel lacks the capability).
     */
    public int disableExitsOffered() {
        return Math.max(0, kvm.checkExtension(KvmApi.KVM_CAP_X86_DISABLE_EXITS));
    }

    /**
     * KVM_ENABLE_CAP(KVM_CAP_X86_DISABLE_EXITS): the guest's HLT, PAUSE, MWAIT or C-state
     * instructions no longer exit (a VMCS/VMCB control; the vCPU then keeps its host CPU while it
     * halts). Must come before the first vCPU. Fails with a one-line {@link KvmUnavailableException}
     * naming what is missing when the kernel does not offer every requested bit.
     */
    public synchronized void disableExits(int bits) {
        int offered = disableExitsOffered();
        if (offered == 0) {
            throw new KvmUnavailableException("KVM capability KVM_CAP_X86_DISABLE_EXITS missing on this machine");
        }
        if ((bits & ~offered) != 0) {
            throw new KvmUnavailableException("KVM_CAP_X86_DISABLE_EXITS does not offer " + disableExitsNames(bits & ~offered)
                + " here (offered: " + disableExitsNames(offered) + ")");
        }
        if (!vcpus.isEmpty()) {
            throw new IllegalStateException("KVM_CAP_X86_DISABLE_EXITS must be enabled before the first vCPU is created");
        }
        try (Arena arena = Arena.ofConfined()) {
            // struct kvm_enable_cap: u32 cap, u32 flags, u64 args[4], u8 pad[64] (104 bytes)
            MemorySegment s = arena.allocate(104, 8);
            s.set(JAVA_INT, 0, KvmApi.KVM_CAP_X86_DISABLE_EXITS);
            s.set(JAVA_LONG, 8, bits);
            ioctl(KvmApi.KVM_ENABLE_CAP, s, "KVM_ENABLE_CAP KVM_CAP_X86_DISABLE_EXITS " + disableExitsNames(bits));
        }
    }

    /** "HLT|PAUSE" for KVM_X86_DISABLE_EXITS_* bits. */
    public static String disableExitsNames(int bits) {
        StringBuilder sb = new StringBuilder();
        String[] names = {"MWAIT", "HLT", "PAUSE", "CSTATE"};
        for (int i = 0; i < names.length; i++) {
            if ((bits & 1 << i) != 0) {
                sb.append(sb.isEmpty() ? "" : "|").append(names[i]);
            }
        }
        return sb.isEmpty() ? "none" : sb.toString();
    }

    /** Whether the kernel has binary statistics (KVM_CAP_BINARY_STATS_FD). */
    public boolean hasStats() {
        return kvm.checkExtension(KvmApi.KVM_CAP_BINARY_STATS_FD) > 0;
    }

    /** KVM's statistics of this VM (KVM_GET_STATS_FD); a one-line {@link KvmUnavailableException} where the kernel lacks them. */
    public KvmStats openStats() {
        return KvmStats.open(kvm, fd, "vm");
    }

    /** KVM_CREATE_PIT2 with a dummy speaker port, where the kernel has it; returns whether it was created. */
    public boolean createPit2() {
        if (kvm.checkExtension(KvmApi.KVM_CAP_PIT2) <= 0) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment config = arena.allocate(64, 8); // struct kvm_pit_config: u32 flags, u32 pad[15]
            config.set(JAVA_INT, 0, KvmApi.KVM_PIT_SPEAKER_DUMMY);
            ioctl(KvmApi.KVM_CREATE_PIT2, config, "KVM_CREATE_PIT2");
        }
        return true;
    }

    /**
     * KVM_IOEVENTFD: a guest write to {@code address} signals {@code eventFd} inside KVM instead of
     * exiting to userspace. {@code length} 0 matches a write of any size (KVM_CAP_IOEVENTFD_NO_LENGTH;
     * MMIO only on most kernels), else 1, 2, 4 or 8 bytes; {@code dataMatch} non-null matches only that value.
     */
    public void addIoeventfd(EventFd eventFd, long address, int length, boolean pio, Long dataMatch) {
        kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD");
        if (length == 0) {
            kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD_NO_LENGTH, "KVM_CAP_IOEVENTFD_NO_LENGTH");
        } else if (length != 1 && length != 2 && length != 4 && length != 8) {
            throw new IllegalArgumentException("ioeventfd length must be 0, 1, 2, 4 or 8, got " + length);
        }
        ioeventfd(eventFd, address, length, pio, dataMatch, 0);
    }

    /** KVM_IOEVENTFD with KVM_IOEVENTFD_FLAG_DEASSIGN: the same arguments as the {@link #addIoeventfd} call. */
    public void removeIoeventfd(EventFd eventFd, long address, int length, boolean pio, Long dataMatch) {
        ioeventfd(eventFd, address, length, pio, dataMatch, KvmApi.KVM_IOEVENTFD_FLAG_DEASSIGN);
    }

    private void ioeventfd(EventFd eventFd, long address, int length, boolean pio, Long dataMatch, int extraFlags) {
        int flags = extraFlags | (pio ? KvmApi.KVM_IOEVENTFD_FLAG_PIO : 0) | (dataMatch != null ? KvmApi.KVM_IOEVENTFD_FLAG_DATAMATCH : 0);
        try (Arena arena = Arena.ofConfined()) {
            // struct kvm_ioeventfd: u64 datamatch, u64 addr, u32 len, s32 fd, u32 flags, u8 pad[36] (64 bytes)
            MemorySegment s = arena.allocate(64, 8);
            s.set(JAVA_LONG, 0, dataMatch == null ? 0 : dataMatch);
            s.set(JAVA_LONG, 8, address);
            s.set(JAVA_INT, 16, length);
            s.set(JAVA_INT, 20, eventFd.fd());
            s.set(JAVA_INT, 24, flags);
            ioctl(KvmApi.KVM_IOEVENTFD, s, "KVM_IOEVENTFD " + (pio ? "pio" : "mmio") + " addr=0x"
                + Long.toHexString(address) + " len=" + length + " flags=0x" + Integer.toHexString(flags));
        }
    }

    /** KVM_IRQFD: a write to {@code eventFd} raises interrupt line {@code gsi} of the in-kernel irqchip. */
    public void addIrqfd(EventFd eventFd, int gsi) {
        kvm.requireExtension(KvmApi.KVM_CAP_IRQFD, "KVM_CAP_IRQFD");
        irqfd(eventFd, gsi, 0);
    }

    /** KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN. */
    public void removeIrqfd(EventFd eventFd, int gsi) {
        irqfd(eventFd, gsi, KvmApi.KVM_IRQFD_FLAG_DEASSIGN);
    }

    private void irqfd(EventFd eventFd, int gsi, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            // struct kvm_irqfd: u32 fd, u32 gsi, u32 flags, u32 resamplefd, u8 pad[16] (32 bytes)
            MemorySegment s = arena.allocate(32, 8);
            s.set(JAVA_INT, 0, eventFd.fd());
            s.set(JAVA_INT, 4, gsi);
            s.set(JAVA_INT, 8, flags);
            ioctl(KvmApi.KVM_IRQFD, s, "KVM_IRQFD gsi=" + gsi + " flags=0x" + Integer.toHexString(flags));
        }
    }

    /** KVM_CREATE_VCPU with the given id, its kvm_run mapped. */
    public synchronized Vcpu createVcpu(int id) {
        int result = LibC.tryIoctl(fd, KvmApi.KVM_CREATE_VCPU, id);
        if (result < 0) {
            throw new LinuxException("ioctl", "KVM_CREATE_VCPU id=" + id, -result);
        }
        Vcpu vcpu;
        try {
            vcpu = new Vcpu(this, id, result);
        } catch (RuntimeException e) {
            LibC.closeQuietly(result);
            throw e;
        }
        vcpus.add(vcpu);
        return vcpu;
    }

    private void ioctl(long request, MemorySegment arg, String what) {
        int result = LibC.tryIoctl(fd, request, arg);
        if (result < 0) {
            throw new LinuxException("ioctl", what, -result);
        }
    }

    /** Closes the vCPUs and the VM fd. The memory regions stay with their owner. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Vcpu v : vcpus) {
            v.close();
        }
        LibC.closeQuietly(fd);
    }
}

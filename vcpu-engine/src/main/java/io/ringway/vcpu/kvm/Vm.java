package io.ringway.vcpu.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

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
 * <p>Memory slots come from {@link SharedRegion}s (memfd-backed), so the pages KVM maps for the
 * guest (through EPT/NPT, or PVM's shadow tables) are the very pages a vhost-user backend maps
 * from the region's fd.
 */
public final class Vm implements AutoCloseable {
    /** Where the VMX TSS pages go (three pages below 4 GiB, the address Firecracker and QEMU use). */
    public static final long DEFAULT_TSS_ADDRESS = 0xfffb_d000L;

    /**
     * A memory slot as registered.
     *
     * @param slot   the slot number
     * @param gpa    guest-physical start
     * @param region the host memory behind it
     */
    public record MemorySlot(int slot, long gpa, SharedRegion region) {
        /** Guest-physical end (exclusive). */
        public long end() {
            return gpa + region.size();
        }
    }

    private final Kvm kvm;
    private final int fd;
    private final List<MemorySlot> slots = new ArrayList<>();
    private final List<Vcpu> vcpus = new ArrayList<>();
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
    public synchronized MemorySlot addMemory(long gpa, SharedRegion region) {
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
        try (Arena arena = Arena.ofConfined()) {
            // struct kvm_userspace_memory_region: u32 slot, u32 flags, u64 guest_phys_addr,
            // u64 memory_size, u64 userspace_addr (32 bytes, checked with gcc)
            MemorySegment s = arena.allocate(32, 8);
            s.set(JAVA_INT, 0, slot);
            s.set(JAVA_INT, 4, 0);
            s.set(JAVA_LONG, 8, gpa);
            s.set(JAVA_LONG, 16, region.size());
            s.set(JAVA_LONG, 24, region.segment().address());
            ioctl(KvmApi.KVM_SET_USER_MEMORY_REGION, s, "KVM_SET_USER_MEMORY_REGION slot=" + slot + " gpa=0x" + Long.toHexString(gpa));
        }
        MemorySlot added = new MemorySlot(slot, gpa, region);
        slots.add(added);
        return added;
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

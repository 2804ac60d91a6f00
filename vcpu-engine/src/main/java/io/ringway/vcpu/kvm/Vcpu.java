package io.ringway.vcpu.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;

import static io.ringway.vcpu.kvm.KvmRunDescriptor.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * One virtual CPU: its fd, its mapped {@code kvm_run} page (read through {@link KvmRunDescriptor}),
 * registers, CPUID, and a clean stop from another thread.
 *
 * <h2>Threads and stopping</h2>
 * One thread runs the vCPU. It calls {@link #bindToCurrentThread()} once: that blocks
 * {@link #KICK_SIGNAL} in the thread and tells KVM (KVM_SET_SIGNAL_MASK) to unblock it only inside
 * KVM_RUN. {@link #kick()}, from any thread, sets {@code kvm_run.immediate_exit} and sends the
 * signal with tgkill: a vCPU inside KVM_RUN returns with EINTR at once; one about to enter returns
 * at once because of immediate_exit (api.rst 5: "immediate_exit ... KVM_RUN returns immediately
 * with -EINTR"). Because the signal is blocked outside KVM_RUN it is never delivered to a handler
 * (none is installed, and the JVM's are untouched): it stays pending until {@link #clearKick()}
 * takes it with sigtimedwait.
 */
public final class Vcpu implements AutoCloseable {
    /** The real-time signal used to kick a vCPU thread out of KVM_RUN (SIGRTMIN + 6; the JVM does not use it). */
    public static final int KICK_SIGNAL = LibC.SIGRTMIN + 6;
    private static final long KICK_BIT = 1L << (KICK_SIGNAL - 1);
    /** The kernel's sigset_t is 64 bits on x86-64 (struct kvm_signal_mask.len). */
    private static final int KERNEL_SIGSET_SIZE = 8;
    /** KVM_MAX_MSR_ENTRIES in arch/x86/kvm/x86.c: KVM refuses (E2BIG) more per call. */
    public static final int MAX_MSRS = 255;

    private final Vm vm;
    private final int id;
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment run;
    private final int runSize;
    private final MemorySegment kickSet;
    private final MemorySegment zeroTimeout;
    private final Object kickLock = new Object();
    private final int pid = (int) ProcessHandle.current().pid(); // not getpid(2): no downcall handle to make on the VM-creation path
    private int boundTid;
    private final AtomicBoolean closed = new AtomicBoolean();

    Vcpu(Vm vm, int id, int fd) {
        this.vm = vm;
        this.id = id;
        this.fd = fd;
        this.runSize = vm.kvm().vcpuMmapSize();
        this.run = LibC.mmap(0, runSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0, arena);
        this.kickSet = arena.allocate(LibC.SIGSET_SIZE, 8);
        kickSet.set(JAVA_LONG, 0, KICK_BIT);
        this.zeroTimeout = arena.allocate(16, 8);
    }

    /** The vCPU id given at creation (the APIC id). */
    public int id() {
        return id;
    }

    /** The VM this vCPU belongs to. */
    public Vm vm() {
        return vm;
    }

    /** The mapped {@code struct kvm_run} (plus the PIO data page); layout in {@link KvmRunDescriptor}. */
    public MemorySegment kvmRun() {
        return run;
    }

    // ---------------------------------------------------------------- registers

    /** KVM_GET_REGS. Not while another thread is inside KVM_RUN on this vCPU (it would wait for the exit). */
    public KvmRegs getRegs() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmRegs.SIZE, 8);
            ioctl(KvmApi.KVM_GET_REGS, s, "KVM_GET_REGS");
            return KvmRegs.read(s);
        }
    }

    /** KVM_SET_REGS. */
    public void setRegs(KvmRegs regs) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmRegs.SIZE, 8);
            regs.write(s);
            ioctl(KvmApi.KVM_SET_REGS, s, "KVM_SET_REGS");
        }
    }

    /** KVM_GET_SREGS. */
    public KvmSregs getSregs() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmSregs.SIZE, 8);
            ioctl(KvmApi.KVM_GET_SREGS, s, "KVM_GET_SREGS");
            return KvmSregs.read(s);
        }
    }

    /** KVM_SET_SREGS. */
    public void setSregs(KvmSregs sregs) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmSregs.SIZE, 8);
            sregs.write(s);
            ioctl(KvmApi.KVM_SET_SREGS, s, "KVM_SET_SREGS");
        }
    }

    /** KVM_SET_CPUID2, typically with {@link Kvm#supportedCpuid()}. */
    public void setCpuid(List<CpuidEntry> entries) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(CpuidEntry.HEADER_SIZE + entries.size() * CpuidEntry.SIZE, 8);
            s.set(JAVA_INT, 0, entries.size());
            for (int i = 0; i < entries.size(); i++) {
                CpuidEntry e = entries.get(i);
                long at = CpuidEntry.HEADER_SIZE + i * CpuidEntry.SIZE;
                s.set(JAVA_INT, at, e.function());
                s.set(JAVA_INT, at + 4, e.index());
                s.set(JAVA_INT, at + 8, e.flags());
                s.set(JAVA_INT, at + 12, e.eax());
                s.set(JAVA_INT, at + 16, e.ebx());
                s.set(JAVA_INT, at + 20, e.ecx());
                s.set(JAVA_INT, at + 24, e.edx());
            }
            ioctl(KvmApi.KVM_SET_CPUID2, s, "KVM_SET_CPUID2 nent=" + entries.size());
        }
    }

    /**
     * KVM_GET_MP_STATE: {@link KvmApi#KVM_MP_STATE_RUNNABLE}, {@link KvmApi#KVM_MP_STATE_UNINITIALIZED}
     * (an AP waiting for INIT/SIPI), {@link KvmApi#KVM_MP_STATE_HALTED} ...
     */
    public int getMpState() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4, 4);
            ioctl(KvmApi.KVM_GET_MP_STATE, s, "KVM_GET_MP_STATE");
            return s.get(JAVA_INT, 0);
        }
    }

    /**
     * KVM_SET_MP_STATE. With an in-kernel irqchip every vCPU but the first starts as an AP waiting
     * for INIT/SIPI (UNINITIALIZED): KVM_RUN then blocks without running a single instruction until
     * it is made RUNNABLE here (or sent INIT/SIPI by another vCPU).
     */
    public void setMpState(int state) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4, 4);
            s.set(JAVA_INT, 0, state);
            ioctl(KvmApi.KVM_SET_MP_STATE, s, "KVM_SET_MP_STATE " + state);
        }
    }

    /** KVM_GET_LAPIC: the in-kernel local APIC registers (needs {@link Vm#createIrqchip()}). */
    public KvmLapicState getLapic() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmLapicState.SIZE, 8);
            ioctl(KvmApi.KVM_GET_LAPIC, s, "KVM_GET_LAPIC");
            return KvmLapicState.read(s);
        }
    }

    /** KVM_SET_LAPIC. */
    public void setLapic(KvmLapicState state) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmLapicState.SIZE, 8);
            state.write(s);
            ioctl(KvmApi.KVM_SET_LAPIC, s, "KVM_SET_LAPIC");
        }
    }

    /**
     * KVM_GET_FPU: the x87/SSE state (XMM0..15, MXCSR, x87 registers and words); a one-line
     * {@link KvmUnavailableException} where KVM lacks it. KVM_GET_FPU leaves mxcsr 0, so it is
     * taken from KVM_GET_XSAVE where KVM has it.
     */
    public KvmFpu getFpu() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmFpu.SIZE, 8);
            optionalIoctl(KvmApi.KVM_GET_FPU, s, "KVM_GET_FPU");
            KvmFpu fpu = KvmFpu.read(s);
            MemorySegment xsave = getXsave(a);
            if (xsave != null) {
                fpu.mxcsr(xsave.get(JAVA_INT, KvmFpu.FX_MXCSR));
            }
            return fpu;
        }
    }

    /**
     * KVM_SET_FPU, then, where KVM has XSAVE, the same state through KVM_GET_XSAVE/KVM_SET_XSAVE with
     * x87 and SSE marked live: KVM_SET_FPU alone drops MXCSR and, on a vCPU still in the init state,
     * everything else too as far as the guest sees (see {@link KvmFpu}). KVM does not check MXCSR:
     * reserved bits (above MXCSR_MASK) make KVM_SET_XSAVE fail with EINVAL.
     */
    public void setFpu(KvmFpu fpu) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmFpu.SIZE, 8);
            fpu.write(s);
            optionalIoctl(KvmApi.KVM_SET_FPU, s, "KVM_SET_FPU");
            MemorySegment xsave = getXsave(a);
            if (xsave != null) {
                fpu.writeXsave(xsave);
                optionalIoctl(KvmApi.KVM_SET_XSAVE, xsave, "KVM_SET_XSAVE mxcsr=0x" + Integer.toHexString(fpu.mxcsr()));
            }
        }
    }

    /** The vCPU's XSAVE image (KVM_GET_XSAVE2 when KVM sizes it, else KVM_GET_XSAVE), or null without KVM_CAP_XSAVE. */
    private MemorySegment getXsave(Arena a) {
        if (vm.kvm().checkExtension(KvmApi.KVM_CAP_XSAVE) <= 0) {
            return null;
        }
        int size2 = vm.kvm().checkExtension(KvmApi.KVM_CAP_XSAVE2);
        MemorySegment xsave = a.allocate(Math.max(KvmFpu.XSAVE_SIZE, size2), 64);
        if (size2 > 0) {
            optionalIoctl(KvmApi.KVM_GET_XSAVE2, xsave, "KVM_GET_XSAVE2 size=" + size2);
        } else {
            optionalIoctl(KvmApi.KVM_GET_XSAVE, xsave, "KVM_GET_XSAVE");
        }
        return xsave;
    }

    /**
     * KVM_GET_MSRS: the values of the MSRs {@code indices}, in the same order. KVM reads them in
     * order and stops at the first it does not know; that MSR is named in the {@link LinuxException}
     * (errno EINVAL: an MSR not in {@link Kvm#msrIndexList()} or not allowed by the CPUID given).
     */
    public long[] getMsrs(int... indices) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = msrsStruct(a, indices.length);
            for (int i = 0; i < indices.length; i++) {
                s.set(JAVA_INT, KvmMsr.HEADER_SIZE + (long) i * KvmMsr.SIZE, indices[i]);
            }
            int done = optionalIoctl(KvmApi.KVM_GET_MSRS, s, "KVM_GET_MSRS nmsrs=" + indices.length);
            if (done != indices.length) {
                throw new LinuxException("ioctl", "KVM_GET_MSRS vcpu=" + id + ": MSR 0x" + Integer.toHexString(indices[done])
                    + " (entry " + done + " of " + indices.length + ") not readable", Errno.EINVAL);
            }
            long[] values = new long[indices.length];
            for (int i = 0; i < indices.length; i++) {
                values[i] = s.get(JAVA_LONG, KvmMsr.HEADER_SIZE + (long) i * KvmMsr.SIZE + 8);
            }
            return values;
        }
    }

    /** KVM_GET_MSRS of one MSR. */
    public long getMsr(int index) {
        return getMsrs(index)[0];
    }

    /**
     * KVM_SET_MSRS: writes the MSRs in order; KVM stops at the first it refuses (unknown MSR, or a
     * value the MSR does not accept, e.g. a non-canonical base), which the {@link LinuxException} names.
     */
    public void setMsrs(List<KvmMsr> msrs) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = msrsStruct(a, msrs.size());
            for (int i = 0; i < msrs.size(); i++) {
                long at = KvmMsr.HEADER_SIZE + (long) i * KvmMsr.SIZE;
                s.set(JAVA_INT, at, msrs.get(i).index());
                s.set(JAVA_LONG, at + 8, msrs.get(i).data());
            }
            int done = optionalIoctl(KvmApi.KVM_SET_MSRS, s, "KVM_SET_MSRS nmsrs=" + msrs.size());
            if (done != msrs.size()) {
                throw new LinuxException("ioctl", "KVM_SET_MSRS vcpu=" + id + ": " + msrs.get(done)
                    + " (entry " + done + " of " + msrs.size() + ") refused", Errno.EINVAL);
            }
        }
    }

    /** KVM_SET_MSRS of one MSR. */
    public void setMsr(int index, long data) {
        setMsrs(List.of(new KvmMsr(index, data)));
    }

    private static MemorySegment msrsStruct(Arena a, int count) {
        if (count <= 0 || count > MAX_MSRS) {
            throw new IllegalArgumentException("MSR count must be 1.." + MAX_MSRS + ", got " + count);
        }
        MemorySegment s = a.allocate(KvmMsr.HEADER_SIZE + (long) count * KvmMsr.SIZE, 8);
        s.set(JAVA_INT, 0, count);
        return s;
    }

    /** An ioctl KVM may lack: ENOTTY/ENOSYS become a one-line {@link KvmUnavailableException}; returns the result. */
    private int optionalIoctl(long request, MemorySegment arg, String what) {
        int result = LibC.tryIoctl(fd, request, arg);
        if (result == -Kvm.ENOTTY || result == -Kvm.ENOSYS) {
            throw Kvm.unsupported(what.split(" ")[0]);
        }
        if (result < 0) {
            throw new LinuxException("ioctl", what + " vcpu=" + id, -result);
        }
        return result;
    }

    /**
     * KVM's statistics of this vCPU (KVM_GET_STATS_FD: exits, halt_exits, irq_injections ...); a
     * one-line {@link KvmUnavailableException} where the kernel lacks them. Open it before the run:
     * like every vCPU ioctl it waits for the vCPU's mutex, which KVM_RUN holds, so a call while the
     * guest is halted waits until something wakes it (a halted guest waiting for an interrupt the
     * caller sends afterwards never wakes). Reading the returned fd does not take the mutex.
     */
    public KvmStats openStats() {
        return KvmStats.open(vm.kvm(), fd, "vcpu=" + id);
    }

    /** KVM_GET_TSC_KHZ: the guest TSC frequency in kHz, or -1 where the kernel does not say. */
    public long tscKhz() {
        int result = LibC.tryIoctl(fd, KvmApi.KVM_GET_TSC_KHZ, 0L);
        return result <= 0 ? -1 : result;
    }

    // ---------------------------------------------------------------- running

    /**
     * KVM_RUN once, for the run loop: 0 after an exit (read {@link #exitReason()}), or {@code -errno}
     * (-EINTR after a {@link #kick()} or another signal). Does not allocate.
     */
    public int run() {
        return LibC.tryIoctl(fd, KvmApi.KVM_RUN, 0L);
    }

    /** kvm_run.exit_reason of the last exit ({@link KvmApi}{@code .KVM_EXIT_*}). */
    public int exitReason() {
        return run.get(JAVA_INT, EXIT_REASON_OFFSET);
    }

    /** kvm_run.io.direction: {@link KvmApi#KVM_EXIT_IO_OUT} or {@link KvmApi#KVM_EXIT_IO_IN}. */
    public int ioDirection() {
        return run.get(JAVA_BYTE, IO_DIRECTION_OFFSET);
    }

    /** kvm_run.io.size: 1, 2 or 4 bytes per access. */
    public int ioSize() {
        return run.get(JAVA_BYTE, IO_SIZE_OFFSET);
    }

    /** kvm_run.io.port. */
    public int ioPort() {
        return Short.toUnsignedInt(run.get(JAVA_SHORT, IO_PORT_OFFSET));
    }

    /** kvm_run.io.count: accesses (more than 1 for rep ins/outs). */
    public int ioCount() {
        return run.get(JAVA_INT, IO_COUNT_OFFSET);
    }

    /** kvm_run.io.data_offset: where in the mapping the data of the accesses lies. */
    public long ioDataOffset() {
        return run.get(JAVA_LONG, IO_DATA_OFFSET_OFFSET);
    }

    /** kvm_run.mmio.phys_addr. */
    public long mmioAddress() {
        return run.get(JAVA_LONG, MMIO_PHYS_ADDR_OFFSET);
    }

    /** kvm_run.mmio.len: 1..8 bytes. */
    public int mmioLength() {
        return run.get(JAVA_INT, MMIO_LEN_OFFSET);
    }

    /** kvm_run.mmio.is_write. */
    public boolean mmioIsWrite() {
        return run.get(JAVA_BYTE, MMIO_IS_WRITE_OFFSET) != 0;
    }

    /** The size of the mapping (KVM_GET_VCPU_MMAP_SIZE); PIO data offsets are checked against it. */
    public int kvmRunSize() {
        return runSize;
    }

    // ---------------------------------------------------------------- stopping

    /**
     * Makes the calling thread the one that runs this vCPU: blocks {@link #KICK_SIGNAL} in it and sets
     * the KVM_RUN signal mask to the thread's previous mask (so the kick is unblocked only inside KVM_RUN).
     */
    public void bindToCurrentThread() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment old = a.allocate(LibC.SIGSET_SIZE, 8);
            LibC.pthreadSigmask(LibC.SIG_BLOCK, kickSet, old);
            // struct kvm_signal_mask: u32 len, u8 sigset[len] (api.rst 4.22 KVM_SET_SIGNAL_MASK)
            MemorySegment mask = a.allocate(4 + KERNEL_SIGSET_SIZE, 8);
            mask.set(JAVA_INT, 0, KERNEL_SIGSET_SIZE);
            mask.set(JAVA_LONG_UNALIGNED, 4, old.get(JAVA_LONG, 0) & ~KICK_BIT);
            ioctl(KvmApi.KVM_SET_SIGNAL_MASK, mask, "KVM_SET_SIGNAL_MASK");
        }
        synchronized (kickLock) {
            boundTid = LibC.gettid();
        }
    }

    /** Undoes {@link #bindToCurrentThread()} on the same thread: no more kicks, pending one taken, signal unblocked. */
    public void unbindFromCurrentThread() {
        synchronized (kickLock) {
            boundTid = 0;
        }
        clearKick();
        LibC.pthreadSigmask(LibC.SIG_UNBLOCK, kickSet, MemorySegment.NULL);
    }

    /**
     * From any thread: makes the bound thread's KVM_RUN return -EINTR now (if inside) or at its next
     * entry (immediate_exit). Returns whether a bound thread was signalled.
     */
    public boolean kick() {
        run.set(JAVA_BYTE, IMMEDIATE_EXIT_OFFSET, (byte) 1);
        VarHandle.fullFence(); // immediate_exit visible before the signal (the signal may find it just entering)
        synchronized (kickLock) {
            if (boundTid == 0) {
                return false;
            }
            int result = LibC.tryTgkill(pid, boundTid, KICK_SIGNAL);
            return result == 0;
        }
    }

    /** On the bound thread, after a kick was handled: clears immediate_exit and takes the pending kick signal. */
    public void clearKick() {
        run.set(JAVA_BYTE, IMMEDIATE_EXIT_OFFSET, (byte) 0);
        while (LibC.trySigtimedwait(kickSet, MemorySegment.NULL, zeroTimeout) == KICK_SIGNAL) {
            // drained one; a second may have been sent by a second kick()
        }
    }

    /** Whether immediate_exit is set (a kick is pending). */
    public boolean kickPending() {
        return run.get(JAVA_BYTE, IMMEDIATE_EXIT_OFFSET) != 0;
    }

    private void ioctl(long request, MemorySegment arg, String what) {
        int result = LibC.tryIoctl(fd, request, arg);
        if (result < 0) {
            throw new LinuxException("ioctl", what + " vcpu=" + id, -result);
        }
    }

    /** Unmaps kvm_run and closes the fd. The run loop must have ended. */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        arena.close();
        LibC.closeQuietly(fd);
    }

    @Override
    public String toString() {
        return "Vcpu[id=" + id + ", fd=" + fd + "]";
    }

    static boolean interrupted(int result) {
        return result == -Errno.EINTR || result == -Errno.EAGAIN;
    }
}

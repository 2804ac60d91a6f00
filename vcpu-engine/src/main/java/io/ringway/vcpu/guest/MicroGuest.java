package io.ringway.vcpu.guest;

import java.lang.foreign.MemorySegment;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmRegs;
import io.ringway.vcpu.kvm.KvmSregs;
import io.ringway.vcpu.kvm.Vcpu;
import io.ringway.vcpu.kvm.Vm;

/**
 * A VM laid out for micro-guests: one memory slot at guest-physical 0, the first 4 GiB
 * identity-mapped with 2 MiB user pages, a flat GDT with DPL-3 segments and a TSS, and vCPUs that
 * start in 64-bit mode at CPL 3 with IOPL 3 (so {@code in}/{@code out} work from user mode). No
 * firmware, no boot code: the entry state is set with KVM_SET_SREGS.
 *
 * <pre>
 * guest-physical
 *   0x0000_1000  GDT                      0x0000_2000  IDT (empty: limit 0 unless a caller fills it)
 *   0x0000_3000  TSS                      0x0000_8000  page tables (8 pages)
 *   0x0001_0000  code (CODE)              0x0010_0000  data (DATA)
 *   stacks: top of the first 2 MiB, 64 KiB per vCPU, downwards
 *   0xd000_0000  MMIO window (no memory: accesses exit or hit an ioeventfd)
 * </pre>
 * The MMIO window is identity-mapped like the rest, so a guest address there is the guest-physical
 * address. Keep MMIO addresses in a register: a 32-bit absolute displacement is sign-extended and
 * 0xd000_0000 would become 0xffff_ffff_d000_0000.
 */
public final class MicroGuest implements AutoCloseable {
    public static final long GDT = 0x1000;
    public static final long IDT = 0x2000;
    public static final long TSS = 0x3000;
    public static final long PAGE_TABLES = 0x8000;
    public static final long PAGE_TABLES_SIZE = 0x8000;
    /** Where guest code is usually loaded. */
    public static final long CODE = 0x1_0000;
    /** Where guest data usually goes. */
    public static final long DATA = 0x10_0000;
    /** The guest-physical MMIO window, outside memory. */
    public static final long MMIO_BASE = 0xd000_0000L;
    /** Bytes identity-mapped from 0. */
    public static final long MAPPED = 4L << 30;
    private static final long STACK_SIZE = 0x1_0000;

    private final Vm vm;
    private final SharedRegion memory;
    private final PageTables tables;
    private int idtLimit;

    private MicroGuest(Vm vm, SharedRegion memory, PageTables tables) {
        this.vm = vm;
        this.memory = memory;
        this.tables = tables;
    }

    /** Creates the VM with {@code memorySize} bytes (rounded up to 2 MiB, at least 2 MiB) of guest memory. */
    public static MicroGuest create(Kvm kvm, long memorySize) {
        return create(kvm, memorySize, SharedRegion.Options.DEFAULTS);
    }

    /**
     * Creates the VM with {@code memorySize} bytes (rounded up to 2 MiB, at least 2 MiB) of guest
     * memory backed as {@code backing} says (huge pages, pre-faulted).
     */
    public static MicroGuest create(Kvm kvm, long memorySize, SharedRegion.Options backing) {
        long size = Math.max(PageTables.PAGE_2M, (memorySize + PageTables.PAGE_2M - 1) & -PageTables.PAGE_2M);
        if (size > MMIO_BASE) {
            throw new IllegalArgumentException("micro-guest memory must end below the MMIO window 0x" + Long.toHexString(MMIO_BASE) + ", got " + size);
        }
        SharedRegion region = SharedRegion.create("ringway-microguest", size, backing);
        Vm vm = null;
        try {
            vm = kvm.createVm();
            vm.setTssAddress(Vm.DEFAULT_TSS_ADDRESS);
            vm.addMemory(0, region);
            MemorySegment m = region.segment();
            Gdt.writeFlat64(m, GDT, TSS, TSS, stackTop(0));
            PageTables tables = new PageTables(m, 0, PAGE_TABLES, PAGE_TABLES_SIZE);
            tables.identity(0, MAPPED, PageTables.PAGE_2M, PageTables.WRITABLE | PageTables.USER);
            return new MicroGuest(vm, region, tables);
        } catch (RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            region.close();
            throw e;
        }
    }

    public Vm vm() {
        return vm;
    }

    /** Guest memory; byte 0 is guest-physical 0. */
    public MemorySegment memory() {
        return memory.segment();
    }

    /** The region behind guest memory (its fd can be handed to a vhost-user backend). */
    public SharedRegion region() {
        return memory;
    }

    /** CR3 of the identity map. */
    public long cr3() {
        return tables.root();
    }

    /** The page tables, to add mappings (e.g. a high alias). */
    public PageTables pageTables() {
        return tables;
    }

    /** A GVA→GPA walker over this guest's memory. */
    public PageWalker walker() {
        return new PageWalker(memory.segment(), 0);
    }

    /** Copies {@code code} to guest-physical {@code gpa}. */
    public void load(long gpa, byte[] code) {
        MemorySegment.copy(MemorySegment.ofArray(code), 0, memory.segment(), gpa, code.length);
    }

    /** Sets the IDT limit vCPUs created afterwards get (0: no IDT, any exception triple-faults). */
    public void idtLimit(int limit) {
        this.idtLimit = limit;
    }

    /** The top of vCPU {@code id}'s 64 KiB stack. */
    public static long stackTop(int id) {
        return PageTables.PAGE_2M - id * STACK_SIZE;
    }

    /**
     * Creates vCPU {@code id} with the CPUID KVM supports, in long mode at CPL 3 with IOPL 3 and
     * interrupts off, about to execute {@code rip} with the stack at {@link #stackTop(int)}.
     */
    public Vcpu createVcpu(int id, long rip) {
        Vcpu vcpu = vm.createVcpu(id);
        vcpu.setCpuid(vm.kvm().supportedCpuid());
        KvmSregs sregs = vcpu.getSregs();
        LongMode.enter(sregs, 3, cr3(), GDT, IDT, idtLimit, TSS);
        vcpu.setSregs(sregs);
        vcpu.setRegs(new KvmRegs().rip(rip).rsp(stackTop(id)).rflags(KvmRegs.RFLAGS_RESERVED | KvmRegs.RFLAGS_IOPL3));
        return vcpu;
    }

    /** Closes the VM and frees guest memory. */
    @Override
    public void close() {
        vm.close();
        memory.close();
    }
}

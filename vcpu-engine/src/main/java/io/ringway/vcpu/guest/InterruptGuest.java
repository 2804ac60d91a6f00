package io.ringway.vcpu.guest;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import io.ringway.runtime.sys.EventFd;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmLapicState;
import io.ringway.vcpu.kvm.KvmRegs;
import io.ringway.vcpu.kvm.KvmSregs;
import io.ringway.vcpu.kvm.Vcpu;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The minimal guest kernel a {@link MicroGuest} needs to take interrupts: the in-kernel irqchip, an
 * IDT with a CPL-0 handler for one device vector, an interrupt stack, an enabled local APIC, and a
 * GSI routed as an MSI to that vector with an irqfd bound to it. The guest's main code stays at
 * CPL 3 (native speed on PVM); only the handler runs at CPL 0 (emulated on PVM, so it is short).
 *
 * <pre>
 * vector 0x40 (interrupt gate, DPL 0): ACK += 1; EOI (write 0 to the APIC's 0xfee000b0); iretq
 * vector 0x81 (interrupt gate, DPL 3): sti; hlt; iretq  — "int 0x81" is how CPL-3 code halts until
 *                                       the next interrupt on hardware KVM (hlt is #GP at CPL 3; on
 *                                       PVM the int itself fails: halt at CPL 0 there)
 * every other vector: no gate, so an exception the guest does not expect ends in a triple fault
 *
 *   0x0000_2000  IDT (256 gates)         0x000b_0000  top of the CPL-0 interrupt stack (TSS.RSP0)
 *   0x000c_0000  handlers                0x000f_f000  ACK: u64 the handler increments (host-visible)
 * </pre>
 *
 * Usage: {@link #install} after {@link MicroGuest#create} and before any vCPU; then
 * {@link #createVcpu} (or {@link #prepareVcpu} on each vCPU: all of them, since it also makes APs
 * runnable). vCPU {@code id} is APIC id {@code id}. The vCPUs share one TSS and so one interrupt
 * stack: route interrupts to one vCPU only.
 */
public final class InterruptGuest {
    /** The vector the device interrupt arrives on. */
    public static final int VECTOR = 0x40;
    /** The software interrupt CPL-3 code raises to halt until the next interrupt. */
    public static final int HALT_VECTOR = 0x81;
    /** The spurious vector the APIC is enabled with. */
    public static final int SPURIOUS_VECTOR = 0xff;
    /** The GSI the irqfd is bound to (above the 24 legacy ones). */
    public static final int GSI = 24;
    /** Guest-physical address of the u64 the handler increments once per interrupt. */
    public static final long ACK = 0xf_f000L;
    /** Guest-physical address of the handlers. */
    public static final long HANDLERS = 0xc_0000L;
    /** Top of the CPL-0 stack interrupts from CPL 3 switch to. */
    public static final long IRQ_STACK_TOP = 0xb_0000L;
    /** IDT limit for 256 gates. */
    public static final int IDT_LIMIT = 256 * Idt.GATE_SIZE - 1;

    private static final VarHandle ACK_WORD = JAVA_LONG.varHandle();

    private final MicroGuest guest;
    private final long haltHandler;

    private InterruptGuest(MicroGuest guest, long haltHandler) {
        this.guest = guest;
        this.haltHandler = haltHandler;
    }

    /**
     * Creates the in-kernel irqchip, routes {@link #GSI} as an MSI to {@link #VECTOR} on APIC
     * {@code apicId}, binds {@code irqfd} to it, and writes the IDT, handlers and interrupt stack.
     * Call before creating vCPUs (the irqchip must exist first).
     */
    public static InterruptGuest install(MicroGuest guest, EventFd irqfd, int apicId) {
        guest.vm().createIrqchip();
        guest.vm().routeMsi(GSI, apicId, VECTOR);
        guest.vm().addIrqfd(irqfd, GSI);
        MemorySegment m = guest.memory();
        // TSS.RSP0 (bytes 4..11): interrupts from CPL 3 switch to this stack, not the vCPU's user stack
        m.set(JAVA_LONG.withByteAlignment(4), MicroGuest.TSS + 4, IRQ_STACK_TOP);
        m.set(JAVA_LONG, ACK, 0L);

        X86Assembler irq = new X86Assembler();
        irq.push(Reg.RAX).push(Reg.RBX);
        irq.mov(Reg.RBX, ACK).load(Reg.RAX, Mem.at(Reg.RBX)).add(Reg.RAX, 1).store(Mem.at(Reg.RBX), Reg.RAX);
        // EOI: the APIC address is above 2 GiB, so it goes through a register (a disp32 would be sign-extended)
        irq.mov(Reg.RBX, KvmLapicState.DEFAULT_BASE + KvmLapicState.EOI).store32(Mem.at(Reg.RBX), 0);
        irq.pop(Reg.RBX).pop(Reg.RAX).iretq();
        byte[] irqCode = irq.assemble();
        long irqHandler = HANDLERS;
        long haltHandler = (HANDLERS + irqCode.length + 15) & ~15L;
        X86Assembler halt = new X86Assembler();
        halt.sti().hlt().iretq(); // sti's one-instruction shadow: an interrupt pending here wakes the hlt, it is not lost
        guest.load(irqHandler, irqCode);
        guest.load(haltHandler, halt.assemble());

        m.asSlice(MicroGuest.IDT, IDT_LIMIT + 1).fill((byte) 0);
        Idt.setGate(m, MicroGuest.IDT, VECTOR, irqHandler, Gdt.KERNEL_CODE, 0, 0, Idt.INTERRUPT_GATE);
        Idt.setGate(m, MicroGuest.IDT, HALT_VECTOR, haltHandler, Gdt.KERNEL_CODE, 3, 0, Idt.INTERRUPT_GATE);
        guest.idtLimit(IDT_LIMIT);
        return new InterruptGuest(guest, haltHandler);
    }

    /**
     * Enables {@code vcpu}'s local APIC (software enable, spurious vector 0xff), sets RFLAGS.IF so it
     * takes interrupts, and makes it runnable: with the in-kernel irqchip every vCPU but the first
     * starts as an AP waiting for INIT/SIPI and would never run.
     */
    public void prepareVcpu(Vcpu vcpu) {
        if (vcpu.getMpState() != KvmApi.KVM_MP_STATE_RUNNABLE) {
            vcpu.setMpState(KvmApi.KVM_MP_STATE_RUNNABLE);
        }
        vcpu.setLapic(vcpu.getLapic().softwareEnable(SPURIOUS_VECTOR));
        KvmRegs regs = vcpu.getRegs();
        vcpu.setRegs(regs.rflags(regs.rflags() | KvmRegs.RFLAGS_IF));
    }

    /**
     * Creates vCPU {@code id} about to run {@code rip} ({@link MicroGuest#createVcpu}), ready for
     * interrupts ({@link #prepareVcpu}), at CPL {@code cpl}: 3 for native speed on PVM, 0 for code
     * that halts ({@link #enterKernelMode}).
     */
    public Vcpu createVcpu(int id, long rip, int cpl) {
        if (cpl != 0 && cpl != 3) {
            throw new IllegalArgumentException("cpl must be 0 or 3, got " + cpl);
        }
        Vcpu vcpu = guest.createVcpu(id, rip);
        prepareVcpu(vcpu);
        if (cpl == 0) {
            enterKernelMode(vcpu);
        }
        return vcpu;
    }

    /** Interrupts the handler has taken so far (the ACK word; the host may poll it while the guest runs). */
    public long acks() {
        return (long) ACK_WORD.getAcquire(guest.memory(), ACK);
    }

    /**
     * Emits {@code int 0x81}: CPL-3 code halts at CPL 0 until the next interrupt, which is handled
     * before it returns. Not on PVM: there {@code int 0x81} from CPL 3 through this DPL-3 gate
     * triple-faults the guest (seen on these machines; why is not known yet), so halting guests run their loop at CPL 0 ({@link #enterKernelMode}) and use
     * {@link #haltUntilInterrupt}.
     */
    public static X86Assembler haltForInterrupt(X86Assembler a) {
        return a.bytes((byte) 0xCD, (byte) HALT_VECTOR);
    }

    /**
     * Emits, for CPL-0 code that ran {@code cli} before it asked for the interrupt: {@code sti; hlt}.
     * The interrupt cannot be lost between the request and the halt: it stays pending while IF is 0,
     * and sti's one-instruction shadow lets hlt start before it is delivered, so it wakes the hlt.
     */
    public static X86Assembler haltUntilInterrupt(X86Assembler a) {
        return a.sti().hlt();
    }

    /** Moves {@code vcpu} (created by {@link MicroGuest#createVcpu}, not yet run) to CPL 0 with kernel segments, keeping the IDT. */
    public void enterKernelMode(Vcpu vcpu) {
        KvmSregs sregs = vcpu.getSregs();
        LongMode.enter(sregs, 0, guest.cr3(), MicroGuest.GDT, MicroGuest.IDT, IDT_LIMIT, MicroGuest.TSS);
        vcpu.setSregs(sregs);
    }

    /** Where the halt handler lies (for reports). */
    public long haltHandler() {
        return haltHandler;
    }
}

package io.ringway.vcpu.guest;

import io.ringway.vcpu.kvm.KvmSregs;
import io.ringway.vcpu.kvm.KvmSregs.DescriptorTable;
import io.ringway.vcpu.kvm.KvmSregs.Seg;
import io.ringway.vcpu.kvm.KvmSregs.Segment;

/**
 * The special-register state of a vCPU already in 64-bit long mode with paging, set through
 * KVM_SET_SREGS: no real-mode boot code runs. At CPL 3 (user segments of {@link Gdt}) the guest
 * runs natively even on PVM, where CPL 0 code is emulated instruction by instruction.
 */
public final class LongMode {
    /** CR0: PE | MP | ET | NE | WP | PG. */
    public static final long CR0 = 0x8005_0033L;
    /** CR4: PAE | OSFXSR | OSXMMEXCPT. */
    public static final long CR4 = 0x620L;
    /** EFER: LME | LMA. */
    public static final long EFER = 0x500L;

    private LongMode() {
    }

    /**
     * Sets {@code sregs} for long mode with the tables of a {@link Gdt#writeFlat64} GDT at
     * {@code gdtBase}, the IDT at {@code idtBase} ({@code idtLimit} = bytes - 1; 0 for none, so any
     * exception triple-faults) and page tables at {@code cr3}; code and stack segments of
     * privilege level {@code cpl} (0 or 3).
     */
    public static KvmSregs enter(KvmSregs sregs, int cpl, long cr3, long gdtBase, long idtBase, int idtLimit, long tssBase) {
        if (cpl != 0 && cpl != 3) {
            throw new IllegalArgumentException("cpl must be 0 or 3, got " + cpl);
        }
        boolean user = cpl == 3;
        Segment code = new Segment(0, 0xffffffff, user ? Gdt.USER_CODE : Gdt.KERNEL_CODE, 0xb, true, cpl,
            false, true, true, true, false, false);
        Segment data = new Segment(0, 0xffffffff, user ? Gdt.USER_DATA : Gdt.KERNEL_DATA, 0x3, true, cpl,
            true, true, false, true, false, false);
        Segment tss = new Segment(tssBase, Gdt.TSS_SIZE - 1, Gdt.TSS, 0xb, true, 0,
            false, false, false, false, false, false);
        Segment ldt = new Segment(0, 0, 0, 0x2, false, 0, false, false, false, false, false, true);
        sregs.segment(Seg.CS, code);
        for (Seg s : new Seg[] {Seg.DS, Seg.ES, Seg.FS, Seg.GS, Seg.SS}) {
            sregs.segment(s, data);
        }
        sregs.segment(Seg.TR, tss).segment(Seg.LDT, ldt);
        sregs.gdt(new DescriptorTable(gdtBase, Gdt.SIZE - 1)).idt(new DescriptorTable(idtBase, idtLimit));
        return sregs.cr0(CR0).cr4(CR4).efer(EFER).cr3(cr3);
    }
}

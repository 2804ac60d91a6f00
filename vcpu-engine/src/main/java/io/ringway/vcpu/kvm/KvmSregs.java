package io.ringway.vcpu.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The special registers of a vCPU, {@code struct kvm_sregs} (312 bytes; offsets checked with gcc):
 *
 * <pre>
 *   0 cs   24 ds   48 es   72 fs   96 gs  120 ss  144 tr  168 ldt   (struct kvm_segment, 24 bytes each)
 * 192 gdt 208 idt                                                     (struct kvm_dtable, 16 bytes each)
 * 224 cr0 232 cr2 240 cr3 248 cr4 256 cr8 264 efer 272 apic_base      (u64)
 * 280 interrupt_bitmap[4]                                             (u64)
 *
 * struct kvm_segment: 0 u64 base, 8 u32 limit, 12 u16 selector, 14 u8 type, 15 present, 16 dpl,
 *                     17 db, 18 s, 19 l, 20 g, 21 avl, 22 unusable, 23 padding
 * struct kvm_dtable:  0 u64 base, 8 u16 limit, 10 padding[3]
 * </pre>
 *
 * A control-plane value object: {@link Vcpu#getSregs()} then change fields then {@link Vcpu#setSregs}
 * (read-modify-write keeps apic_base and the interrupt bitmap as KVM set them).
 */
public final class KvmSregs {
    /** {@code sizeof(struct kvm_sregs)}. */
    public static final long SIZE = 312;
    private static final long SEGMENT_SIZE = 24;
    private static final long GDT_OFFSET = 192;
    private static final long IDT_OFFSET = 208;
    private static final long CR0_OFFSET = 224;
    private static final long INTERRUPT_BITMAP_OFFSET = 280;

    /**
     * One segment register as KVM sees it (the hidden part included).
     *
     * @param type     the 4-bit descriptor type (e.g. 0xb execute/read accessed code, 0x3 read/write
     *                 accessed data, 0xb busy 64-bit TSS when {@code s} is 0)
     * @param s        1 for code/data, 0 for system segments (TSS, LDT)
     * @param l        64-bit code segment
     * @param db       default operation size 32 (must be 0 when {@code l} is 1)
     * @param unusable the register holds no usable segment
     */
    public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                          boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {
        static Segment read(MemorySegment m, long at) {
            return new Segment(m.get(JAVA_LONG, at), m.get(JAVA_INT, at + 8), Short.toUnsignedInt(m.get(JAVA_SHORT, at + 12)),
                m.get(JAVA_BYTE, at + 14), m.get(JAVA_BYTE, at + 15) != 0, m.get(JAVA_BYTE, at + 16),
                m.get(JAVA_BYTE, at + 17) != 0, m.get(JAVA_BYTE, at + 18) != 0, m.get(JAVA_BYTE, at + 19) != 0,
                m.get(JAVA_BYTE, at + 20) != 0, m.get(JAVA_BYTE, at + 21) != 0, m.get(JAVA_BYTE, at + 22) != 0);
        }

        void write(MemorySegment m, long at) {
            m.set(JAVA_LONG, at, base);
            m.set(JAVA_INT, at + 8, limit);
            m.set(JAVA_SHORT, at + 12, (short) selector);
            m.set(JAVA_BYTE, at + 14, (byte) type);
            m.set(JAVA_BYTE, at + 15, bit(present));
            m.set(JAVA_BYTE, at + 16, (byte) dpl);
            m.set(JAVA_BYTE, at + 17, bit(db));
            m.set(JAVA_BYTE, at + 18, bit(s));
            m.set(JAVA_BYTE, at + 19, bit(l));
            m.set(JAVA_BYTE, at + 20, bit(g));
            m.set(JAVA_BYTE, at + 21, bit(avl));
            m.set(JAVA_BYTE, at + 22, bit(unusable));
            m.set(JAVA_BYTE, at + 23, (byte) 0);
        }

        private static byte bit(boolean b) {
            return (byte) (b ? 1 : 0);
        }

        @Override
        public String toString() {
            return String.format("sel=0x%x base=0x%x limit=0x%x type=0x%x p=%d dpl=%d db=%d s=%d l=%d g=%d%s",
                selector, base, limit, type, present ? 1 : 0, dpl, db ? 1 : 0, s ? 1 : 0, l ? 1 : 0, g ? 1 : 0,
                unusable ? " unusable" : "");
        }
    }

    /** A descriptor-table register (GDTR or IDTR): base and limit (size - 1). */
    public record DescriptorTable(long base, int limit) {
        @Override
        public String toString() {
            return String.format("base=0x%x limit=0x%x", base, limit);
        }
    }

    /** The segment registers in struct order. */
    public enum Seg { CS, DS, ES, FS, GS, SS, TR, LDT }

    private final Segment[] segments = new Segment[Seg.values().length];
    private DescriptorTable gdt;
    private DescriptorTable idt;
    private long cr0;
    private long cr2;
    private long cr3;
    private long cr4;
    private long cr8;
    private long efer;
    private long apicBase;
    private final long[] interruptBitmap = new long[4];

    public Segment segment(Seg which) {
        return segments[which.ordinal()];
    }

    public KvmSregs segment(Seg which, Segment value) {
        segments[which.ordinal()] = value;
        return this;
    }

    public DescriptorTable gdt() {
        return gdt;
    }

    public KvmSregs gdt(DescriptorTable value) {
        gdt = value;
        return this;
    }

    public DescriptorTable idt() {
        return idt;
    }

    public KvmSregs idt(DescriptorTable value) {
        idt = value;
        return this;
    }

    public long cr0() {
        return cr0;
    }

    public KvmSregs cr0(long value) {
        cr0 = value;
        return this;
    }

    /** CR2: the linear address of the last page fault. */
    public long cr2() {
        return cr2;
    }

    public long cr3() {
        return cr3;
    }

    public KvmSregs cr3(long value) {
        cr3 = value;
        return this;
    }

    public long cr4() {
        return cr4;
    }

    public KvmSregs cr4(long value) {
        cr4 = value;
        return this;
    }

    public long efer() {
        return efer;
    }

    public KvmSregs efer(long value) {
        efer = value;
        return this;
    }

    public long apicBase() {
        return apicBase;
    }

    /** Reads a {@code struct kvm_sregs}. */
    public static KvmSregs read(MemorySegment struct) {
        KvmSregs r = new KvmSregs();
        for (Seg seg : Seg.values()) {
            r.segments[seg.ordinal()] = Segment.read(struct, seg.ordinal() * SEGMENT_SIZE);
        }
        r.gdt = new DescriptorTable(struct.get(JAVA_LONG, GDT_OFFSET), Short.toUnsignedInt(struct.get(JAVA_SHORT, GDT_OFFSET + 8)));
        r.idt = new DescriptorTable(struct.get(JAVA_LONG, IDT_OFFSET), Short.toUnsignedInt(struct.get(JAVA_SHORT, IDT_OFFSET + 8)));
        r.cr0 = struct.get(JAVA_LONG, CR0_OFFSET);
        r.cr2 = struct.get(JAVA_LONG, CR0_OFFSET + 8);
        r.cr3 = struct.get(JAVA_LONG, CR0_OFFSET + 16);
        r.cr4 = struct.get(JAVA_LONG, CR0_OFFSET + 24);
        r.cr8 = struct.get(JAVA_LONG, CR0_OFFSET + 32);
        r.efer = struct.get(JAVA_LONG, CR0_OFFSET + 40);
        r.apicBase = struct.get(JAVA_LONG, CR0_OFFSET + 48);
        for (int i = 0; i < 4; i++) {
            r.interruptBitmap[i] = struct.get(JAVA_LONG, INTERRUPT_BITMAP_OFFSET + i * 8L);
        }
        return r;
    }

    /** Writes this as a {@code struct kvm_sregs}. */
    public void write(MemorySegment struct) {
        struct.asSlice(0, SIZE).fill((byte) 0);
        for (Seg seg : Seg.values()) {
            segments[seg.ordinal()].write(struct, seg.ordinal() * SEGMENT_SIZE);
        }
        struct.set(JAVA_LONG, GDT_OFFSET, gdt.base());
        struct.set(JAVA_SHORT, GDT_OFFSET + 8, (short) gdt.limit());
        struct.set(JAVA_LONG, IDT_OFFSET, idt.base());
        struct.set(JAVA_SHORT, IDT_OFFSET + 8, (short) idt.limit());
        struct.set(JAVA_LONG, CR0_OFFSET, cr0);
        struct.set(JAVA_LONG, CR0_OFFSET + 8, cr2);
        struct.set(JAVA_LONG, CR0_OFFSET + 16, cr3);
        struct.set(JAVA_LONG, CR0_OFFSET + 24, cr4);
        struct.set(JAVA_LONG, CR0_OFFSET + 32, cr8);
        struct.set(JAVA_LONG, CR0_OFFSET + 40, efer);
        struct.set(JAVA_LONG, CR0_OFFSET + 48, apicBase);
        for (int i = 0; i < 4; i++) {
            struct.set(JAVA_LONG, INTERRUPT_BITMAP_OFFSET + i * 8L, interruptBitmap[i]);
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Seg seg : Seg.values()) {
            sb.append(String.format("%-3s %s%n", seg.name().toLowerCase(), segments[seg.ordinal()]));
        }
        sb.append("gdt ").append(gdt).append("  idt ").append(idt).append('\n');
        sb.append(String.format("cr0=0x%x cr2=0x%x cr3=0x%x cr4=0x%x cr8=0x%x efer=0x%x apic_base=0x%x",
            cr0, cr2, cr3, cr4, cr8, efer, apicBase));
        return sb.toString();
    }
}

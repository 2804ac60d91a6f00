package io.ringway.vcpu.asm;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A small x86-64 code emitter: the instructions micro-guests need, encoded as the Intel SDM vol. 2
 * gives them (encodings checked against GNU as in the tests). Guest programs are built in Java
 * with it, not shipped as binaries.
 *
 * <p>Jumps and calls always use a 32-bit displacement (no relaxation): the code size does not depend
 * on where labels end up. Labels may be used before they are bound; {@link #assemble()} resolves them.
 *
 * <pre>{@code
 * X86Assembler a = new X86Assembler();
 * Label loop = a.newLabel("loop");
 * a.mov(Reg.RCX, 1000);
 * a.bind(loop);
 * a.outImm(0x80, 1);
 * a.dec(Reg.RCX);
 * a.jcc(Cond.NZ, loop);
 * byte[] code = a.assemble();
 * }</pre>
 */
public final class X86Assembler {
    private static final int REX = 0x40;
    private static final int REX_W = 0x08;
    private static final int REX_R = 0x04;
    private static final int REX_B = 0x01;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final List<Fixup> fixups = new ArrayList<>();

    /** A rel32 to patch: at {@code at}, relative to the end of the instruction at {@code end}. */
    private record Fixup(int at, int end, Label label) {
    }

    /** A new, unbound label. */
    public Label newLabel(String name) {
        return new Label(name);
    }

    /** Binds {@code label} to the current position. */
    public X86Assembler bind(Label label) {
        if (label.bound()) {
            throw new IllegalStateException("label " + label + " is already bound");
        }
        label.position = out.size();
        return this;
    }

    /** The current offset from the start of the code. */
    public int position() {
        return out.size();
    }

    /** The code, labels resolved. Fails when a used label was never bound. */
    public byte[] assemble() {
        byte[] code = out.toByteArray();
        for (Fixup f : fixups) {
            int rel = f.label().position() - f.end();
            code[f.at()] = (byte) rel;
            code[f.at() + 1] = (byte) (rel >> 8);
            code[f.at() + 2] = (byte) (rel >> 16);
            code[f.at() + 3] = (byte) (rel >> 24);
        }
        return code;
    }

    // ---------------------------------------------------------------- data moves

    /** {@code mov dst, src} (64-bit). */
    public X86Assembler mov(Reg dst, Reg src) {
        return regReg(true, 0x89, src, dst);
    }

    /**
     * {@code mov dst, imm}, in the shortest form: {@code mov r32, imm32} (zero-extends) for values in
     * [0, 2^32), {@code mov r64, simm32} for other 32-bit signed values, else {@code movabs r64, imm64}.
     */
    public X86Assembler mov(Reg dst, long imm) {
        if (imm >= 0 && imm <= 0xffff_ffffL) {
            if (dst.ext() != 0) {
                emit(REX | REX_B);
            }
            emit(0xB8 + dst.low3());
            imm32((int) imm);
        } else if (imm == (int) imm) {
            rex(true, 0, dst.ext());
            emit(0xC7);
            emit(0xC0 | dst.low3());
            imm32((int) imm);
        } else {
            rex(true, 0, dst.ext());
            emit(0xB8 + dst.low3());
            imm64(imm);
        }
        return this;
    }

    /** {@code mov dst, qword [m]}. */
    public X86Assembler load(Reg dst, Mem m) {
        return regMem(true, 0x8B, dst.code(), m);
    }

    /** {@code mov dst32, dword [m]} (zero-extends). */
    public X86Assembler load32(Reg dst, Mem m) {
        return regMem(false, 0x8B, dst.code(), m);
    }

    /** {@code mov qword [m], src}. */
    public X86Assembler store(Mem m, Reg src) {
        return regMem(true, 0x89, src.code(), m);
    }

    /** {@code mov dword [m], src32}. */
    public X86Assembler store32(Mem m, Reg src) {
        return regMem(false, 0x89, src.code(), m);
    }

    /** {@code movzx dst32, word [m]} (zero-extends to 64 bits). */
    public X86Assembler load16(Reg dst, Mem m) {
        return regMem(false, 0x0FB7, dst.code(), m);
    }

    /** {@code movzx dst32, byte [m]} (zero-extends to 64 bits). */
    public X86Assembler load8(Reg dst, Mem m) {
        return regMem(false, 0x0FB6, dst.code(), m);
    }

    /** {@code mov word [m], src16}. */
    public X86Assembler store16(Mem m, Reg src) {
        emit(0x66); // operand-size prefix, before any REX
        return regMem(false, 0x89, src.code(), m);
    }

    /** {@code mov byte [m], src8}; only AL, CL, DL and BL (no REX byte registers). */
    public X86Assembler store8(Mem m, Reg src) {
        if (src.code() > 3) {
            throw new IllegalArgumentException("store8 takes al, cl, dl or bl, got " + src);
        }
        return regMem(false, 0x88, src.code(), m);
    }

    /** {@code mov dword [m], imm32}. */
    public X86Assembler store32(Mem m, int imm) {
        regMem(false, 0xC7, 0, m, 4);
        imm32(imm);
        return this;
    }

    /** {@code lea dst, [m]}. */
    public X86Assembler lea(Reg dst, Mem m) {
        return regMem(true, 0x8D, dst.code(), m);
    }

    /** {@code push src}. */
    public X86Assembler push(Reg src) {
        if (src.ext() != 0) {
            emit(REX | REX_B);
        }
        return emit(0x50 + src.low3());
    }

    /** {@code pop dst}. */
    public X86Assembler pop(Reg dst) {
        if (dst.ext() != 0) {
            emit(REX | REX_B);
        }
        return emit(0x58 + dst.low3());
    }

    // ---------------------------------------------------------------- arithmetic

    /** {@code add dst, src}. */
    public X86Assembler add(Reg dst, Reg src) {
        return regReg(true, 0x01, src, dst);
    }

    /** {@code add dst, imm32}. */
    public X86Assembler add(Reg dst, int imm) {
        return aluImm(0, dst, imm);
    }

    /** {@code sub dst, src}. */
    public X86Assembler sub(Reg dst, Reg src) {
        return regReg(true, 0x29, src, dst);
    }

    /** {@code sub dst, imm32}. */
    public X86Assembler sub(Reg dst, int imm) {
        return aluImm(5, dst, imm);
    }

    /** {@code and dst, src}. */
    public X86Assembler and(Reg dst, Reg src) {
        return regReg(true, 0x21, src, dst);
    }

    /** {@code and dst, imm32} (sign-extended). */
    public X86Assembler and(Reg dst, int imm) {
        return aluImm(4, dst, imm);
    }

    /** {@code or dst, src}. */
    public X86Assembler or(Reg dst, Reg src) {
        return regReg(true, 0x09, src, dst);
    }

    /** {@code or dst, imm32}. */
    public X86Assembler or(Reg dst, int imm) {
        return aluImm(1, dst, imm);
    }

    /** {@code xor dst, src}. */
    public X86Assembler xor(Reg dst, Reg src) {
        return regReg(true, 0x31, src, dst);
    }

    /** {@code xor dst32, src32}: the short way to zero a register. */
    public X86Assembler xor32(Reg dst, Reg src) {
        return regReg(false, 0x31, src, dst);
    }

    /** {@code cmp a, b}. */
    public X86Assembler cmp(Reg a, Reg b) {
        return regReg(true, 0x39, b, a);
    }

    /** {@code cmp a, imm32}. */
    public X86Assembler cmp(Reg a, int imm) {
        return aluImm(7, a, imm);
    }

    /** {@code test a, b}. */
    public X86Assembler test(Reg a, Reg b) {
        return regReg(true, 0x85, b, a);
    }

    /** {@code test a, imm32}. */
    public X86Assembler test(Reg a, int imm) {
        if (a == Reg.RAX) {
            rex(true, 0, 0);
            emit(0xA9);
        } else {
            rex(true, 0, a.ext());
            emit(0xF7);
            emit(0xC0 | a.low3());
        }
        imm32(imm);
        return this;
    }

    /** {@code inc r}. */
    public X86Assembler inc(Reg r) {
        return unary(0xFF, 0, r);
    }

    /** {@code dec r}. */
    public X86Assembler dec(Reg r) {
        return unary(0xFF, 1, r);
    }

    /** {@code shl r, count}. */
    public X86Assembler shl(Reg r, int count) {
        return shift(4, r, count);
    }

    /** {@code shr r, count}. */
    public X86Assembler shr(Reg r, int count) {
        return shift(5, r, count);
    }

    // ---------------------------------------------------------------- control flow

    /** {@code jmp label} (rel32). */
    public X86Assembler jmp(Label target) {
        emit(0xE9);
        return rel32(target);
    }

    /** {@code jcc label} (rel32). */
    public X86Assembler jcc(Cond cond, Label target) {
        emit(0x0F);
        emit(0x80 | cond.code);
        return rel32(target);
    }

    /** {@code call label} (rel32). */
    public X86Assembler call(Label target) {
        emit(0xE8);
        return rel32(target);
    }

    /** {@code call r}. */
    public X86Assembler call(Reg target) {
        return unary32(0xFF, 2, target);
    }

    /** {@code jmp r}. */
    public X86Assembler jmp(Reg target) {
        return unary32(0xFF, 4, target);
    }

    /** {@code ret}. */
    public X86Assembler ret() {
        return emit(0xC3);
    }

    /** {@code iretq}. */
    public X86Assembler iretq() {
        return emit(0x48, 0xCF);
    }

    // ---------------------------------------------------------------- port I/O

    /** {@code out imm8, al|ax|eax} for {@code size} 1, 2 or 4. */
    public X86Assembler outImm(int port, int size) {
        checkPort8(port);
        sizePrefix(size);
        emit(size == 1 ? 0xE6 : 0xE7);
        return emit(port);
    }

    /** {@code out dx, al|ax|eax}. */
    public X86Assembler outDx(int size) {
        sizePrefix(size);
        return emit(size == 1 ? 0xEE : 0xEF);
    }

    /** {@code in al|ax|eax, imm8}. */
    public X86Assembler inImm(int port, int size) {
        checkPort8(port);
        sizePrefix(size);
        emit(size == 1 ? 0xE4 : 0xE5);
        return emit(port);
    }

    /** {@code in al|ax|eax, dx}. */
    public X86Assembler inDx(int size) {
        sizePrefix(size);
        return emit(size == 1 ? 0xEC : 0xED);
    }

    // ---------------------------------------------------------------- system and string

    /** {@code rdtsc}: EDX:EAX = time-stamp counter. */
    public X86Assembler rdtsc() {
        return emit(0x0F, 0x31);
    }

    /** {@code cpuid}. */
    public X86Assembler cpuid() {
        return emit(0x0F, 0xA2);
    }

    /** {@code hlt} (privileged: at CPL 3 it raises #GP). */
    public X86Assembler hlt() {
        return emit(0xF4);
    }

    /** {@code cli}. */
    public X86Assembler cli() {
        return emit(0xFA);
    }

    /** {@code sti}. */
    public X86Assembler sti() {
        return emit(0xFB);
    }

    /** {@code pause}. */
    public X86Assembler pause() {
        return emit(0xF3, 0x90);
    }

    /** {@code nop}. */
    public X86Assembler nop() {
        return emit(0x90);
    }

    /** {@code ud2}: raises #UD. */
    public X86Assembler ud2() {
        return emit(0x0F, 0x0B);
    }

    /** {@code rep movsb}. */
    public X86Assembler repMovsb() {
        return emit(0xF3, 0xA4);
    }

    /** {@code rep movsq}. */
    public X86Assembler repMovsq() {
        return emit(0xF3, 0x48, 0xA5);
    }

    /** {@code rep stosb}. */
    public X86Assembler repStosb() {
        return emit(0xF3, 0xAA);
    }

    /** {@code rep stosq}. */
    public X86Assembler repStosq() {
        return emit(0xF3, 0x48, 0xAB);
    }

    /** Raw bytes (data, or an instruction this class lacks). */
    public X86Assembler bytes(byte... data) {
        out.write(data, 0, data.length);
        return this;
    }

    /** Pads with {@code nop}s to a multiple of {@code alignment}. */
    public X86Assembler align(int alignment) {
        while (out.size() % alignment != 0) {
            nop();
        }
        return this;
    }

    // ---------------------------------------------------------------- encoding

    private X86Assembler emit(int... bytes) {
        for (int b : bytes) {
            out.write(b);
        }
        return this;
    }

    private void imm32(int v) {
        emit(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    }

    private void imm64(long v) {
        imm32((int) v);
        imm32((int) (v >>> 32));
    }

    private X86Assembler rel32(Label target) {
        int at = out.size();
        imm32(0);
        fixups.add(new Fixup(at, out.size(), target));
        return this;
    }

    private void rex(boolean w, int r, int b) {
        int rex = REX | (w ? REX_W : 0) | (r != 0 ? REX_R : 0) | (b != 0 ? REX_B : 0);
        if (rex != REX) {
            emit(rex);
        }
    }

    /** op r/m, reg with ModRM mod=11: {@code reg} in the reg field, {@code rm} in r/m. */
    private X86Assembler regReg(boolean w, int opcode, Reg reg, Reg rm) {
        rex(w, reg.ext(), rm.ext());
        emit(opcode);
        return emit(0xC0 | reg.low3() << 3 | rm.low3());
    }

    private X86Assembler regMem(boolean w, int opcode, int reg, Mem m) {
        return regMem(w, opcode, reg, m, 0);
    }

    /** op with a memory operand; {@code immAfter} bytes of immediate follow (for RIP-relative). */
    private X86Assembler regMem(boolean w, int opcode, int reg, Mem m, int immAfter) {
        int base = m.base == null ? 0 : m.base.ext();
        rex(w, reg >> 3, base);
        if (opcode > 0xff) {
            emit(opcode >>> 8); // a two-byte opcode (0F xx)
        }
        emit(opcode & 0xff);
        int r = (reg & 7) << 3;
        if (m.label != null) {
            emit(0x05 | r); // mod=00 rm=101: [rip + disp32]
            int at = out.size();
            imm32(0);
            fixups.add(new Fixup(at, out.size() + immAfter, m.label));
            return this;
        }
        int low = m.base.low3();
        int mod;
        if (m.disp == 0 && low != 5) { // rm=101 with mod=00 means RIP-relative: rbp/r13 need a disp8 of 0
            mod = 0x00;
        } else if (m.disp == (byte) m.disp) {
            mod = 0x40;
        } else {
            mod = 0x80;
        }
        emit(mod | r | low);
        if (low == 4) { // rm=100 means a SIB byte follows: rsp/r12 as base, no index
            emit(0x24);
        }
        if (mod == 0x40) {
            emit(m.disp & 0xff);
        } else if (mod == 0x80) {
            imm32(m.disp);
        }
        return this;
    }

    private X86Assembler aluImm(int ext, Reg dst, int imm) {
        if (imm == (byte) imm) {
            rex(true, 0, dst.ext());
            emit(0x83, 0xC0 | ext << 3 | dst.low3(), imm & 0xff);
        } else if (dst == Reg.RAX) {
            rex(true, 0, 0);
            emit(0x05 | ext << 3);
            imm32(imm);
        } else {
            rex(true, 0, dst.ext());
            emit(0x81, 0xC0 | ext << 3 | dst.low3());
            imm32(imm);
        }
        return this;
    }

    private X86Assembler unary(int opcode, int ext, Reg r) {
        rex(true, 0, r.ext());
        return emit(opcode, 0xC0 | ext << 3 | r.low3());
    }

    /** A unary op whose default operand size is 64 bits (call/jmp r): no REX.W. */
    private X86Assembler unary32(int opcode, int ext, Reg r) {
        rex(false, 0, r.ext());
        return emit(opcode, 0xC0 | ext << 3 | r.low3());
    }

    private X86Assembler shift(int ext, Reg r, int count) {
        if (count < 0 || count > 63) {
            throw new IllegalArgumentException("shift count must be 0..63, got " + count);
        }
        rex(true, 0, r.ext());
        if (count == 1) {
            return emit(0xD1, 0xC0 | ext << 3 | r.low3());
        }
        return emit(0xC1, 0xC0 | ext << 3 | r.low3(), count);
    }

    private void sizePrefix(int size) {
        switch (size) {
            case 1, 4 -> { }
            case 2 -> emit(0x66);
            default -> throw new IllegalArgumentException("port access size must be 1, 2 or 4, got " + size);
        }
    }

    private static void checkPort8(int port) {
        if (port < 0 || port > 0xff) {
            throw new IllegalArgumentException("an immediate port must be 0..255 (use outDx/inDx above), got " + port);
        }
    }

    @Override
    public String toString() {
        return "X86Assembler[" + out.size() + " bytes, " + fixups.size() + " fixups] " + Arrays.toString(out.toByteArray());
    }
}

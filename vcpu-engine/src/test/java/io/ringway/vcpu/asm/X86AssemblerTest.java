package io.ringway.vcpu.asm;

import java.util.HexFormat;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;

import static io.ringway.vcpu.asm.Reg.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Encodings checked against GNU as 2.40 ({@code as} + {@code objdump -d -M intel}): each expected
 * string is what objdump printed for the Intel-syntax line in the comment.
 */
class X86AssemblerTest {
    private static void encodes(String expectedHex, Consumer<X86Assembler> emit) {
        X86Assembler a = new X86Assembler();
        emit.accept(a);
        assertEquals(expectedHex.replace(" ", ""), HexFormat.of().formatHex(a.assemble()));
    }

    @Test
    void movRegisterToRegister() {
        encodes("48 89 d8", a -> a.mov(RAX, RBX));          // mov rax, rbx
        encodes("49 89 e1", a -> a.mov(R9, RSP));           // mov r9, rsp
    }

    @Test
    void movImmediateUsesTheShortestForm() {
        encodes("b8 34 12 00 00", a -> a.mov(RAX, 0x1234));              // mov eax, 0x1234
        encodes("41 ba 00 00 00 d0", a -> a.mov(R10, 0xd000_0000L));     // mov r10d, 0xd0000000
        encodes("48 c7 c0 ff ff ff ff", a -> a.mov(RAX, -1));            // mov rax, -1
        encodes("48 ba bc 9a 78 56 34 12 00 00", a -> a.mov(RDX, 0x123456789abcL)); // movabs rdx, 0x123456789abc
    }

    @Test
    void loadsAndStoresEncodeBaseRegistersThatNeedSibOrDisp8() {
        encodes("48 8b 03", a -> a.load(RAX, Mem.at(RBX)));               // mov rax, [rbx]
        encodes("4c 8b 44 24 08", a -> a.load(R8, Mem.at(RSP, 8)));       // mov r8, [rsp+8]
        encodes("8b 45 00", a -> a.load32(RAX, Mem.at(RBP)));             // mov eax, dword [rbp]
        encodes("49 89 8d 00 01 00 00", a -> a.store(Mem.at(R13, 0x100), RCX)); // mov [r13+0x100], rcx
        encodes("45 89 1c 24", a -> a.store32(Mem.at(R12), R11));         // mov dword [r12], r11d
        encodes("c7 00 44 33 22 11", a -> a.store32(Mem.at(RAX), 0x11223344)); // mov dword [rax], 0x11223344
        encodes("48 8d 77 10", a -> a.lea(RSI, Mem.at(RDI, 16)));         // lea rsi, [rdi+16]
    }

    @Test
    void narrowLoadsZeroExtendAndNarrowStoresTakeTheirPrefix() {
        encodes("0f b7 03", a -> a.load16(RAX, Mem.at(RBX)));                  // movzx eax, word [rbx]
        encodes("45 0f b7 46 02", a -> a.load16(R8, Mem.at(R14, 2)));           // movzx r8d, word [r14+2]
        encodes("0f b6 8f 00 01 00 00", a -> a.load8(RCX, Mem.at(RDI, 0x100))); // movzx ecx, byte [rdi+0x100]
        encodes("66 89 03", a -> a.store16(Mem.at(RBX), RAX));                  // mov word [rbx], ax
        encodes("66 45 89 4d 04", a -> a.store16(Mem.at(R13, 4), R9));         // mov word [r13+4], r9w
        encodes("88 03", a -> a.store8(Mem.at(RBX), RAX));                      // mov byte [rbx], al
        encodes("41 88 4c 24 01", a -> a.store8(Mem.at(R12, 1), RCX));          // mov byte [r12+1], cl
        assertThrows(IllegalArgumentException.class, () -> new X86Assembler().store8(Mem.at(RBX), RSI));
    }

    @Test
    void pushAndPop() {
        encodes("53", a -> a.push(RBX));
        encodes("41 54", a -> a.push(R12));
        encodes("41 5f", a -> a.pop(R15));
    }

    @Test
    void arithmetic() {
        encodes("48 01 d8", a -> a.add(RAX, RBX));                 // add rax, rbx
        encodes("49 83 c1 04", a -> a.add(R9, 4));                 // add r9, 4
        encodes("48 05 00 10 00 00", a -> a.add(RAX, 0x1000));     // add rax, 0x1000 (short RAX form)
        encodes("48 81 c1 00 10 00 00", a -> a.add(RCX, 0x1000));  // add rcx, 0x1000
        encodes("48 83 ec 08", a -> a.sub(RSP, 8));                // sub rsp, 8
        encodes("48 81 e2 ff 00 00 00", a -> a.and(RDX, 0xff));    // and rdx, 0xff
        encodes("48 09 d0", a -> a.or(RAX, RDX));                  // or rax, rdx
        encodes("31 c0", a -> a.xor32(RAX, RAX));                  // xor eax, eax
        encodes("4d 31 c8", a -> a.xor(R8, R9));                   // xor r8, r9
        encodes("48 83 f9 64", a -> a.cmp(RCX, 100));              // cmp rcx, 100
        encodes("4d 39 c8", a -> a.cmp(R8, R9));                   // cmp r8, r9
        encodes("48 85 c0", a -> a.test(RAX, RAX));                // test rax, rax
        encodes("48 f7 c3 00 01 00 00", a -> a.test(RBX, 0x100));  // test rbx, 0x100
        encodes("49 ff c0", a -> a.inc(R8));                       // inc r8
        encodes("48 ff c9", a -> a.dec(RCX));                      // dec rcx
        encodes("48 c1 e2 20", a -> a.shl(RDX, 32));               // shl rdx, 32
        encodes("48 d1 e8", a -> a.shr(RAX, 1));                   // shr rax, 1
    }

    @Test
    void portIo() {
        encodes("e6 80", a -> a.outImm(0x80, 1));     // out 0x80, al
        encodes("66 e7 80", a -> a.outImm(0x80, 2));  // out 0x80, ax
        encodes("e7 80", a -> a.outImm(0x80, 4));     // out 0x80, eax
        encodes("ee", a -> a.outDx(1));               // out dx, al
        encodes("ef", a -> a.outDx(4));               // out dx, eax
        encodes("e4 60", a -> a.inImm(0x60, 1));      // in al, 0x60
        encodes("ed", a -> a.inDx(4));                // in eax, dx
        encodes("66 ed", a -> a.inDx(2));             // in ax, dx
        assertThrows(IllegalArgumentException.class, () -> new X86Assembler().outImm(0x3f8, 1));
    }

    @Test
    void systemAndStringInstructions() {
        encodes("0f 31", X86Assembler::rdtsc);
        encodes("0f a2", X86Assembler::cpuid);
        encodes("f4", X86Assembler::hlt);
        encodes("fa", X86Assembler::cli);
        encodes("fb", X86Assembler::sti);
        encodes("f3 90", X86Assembler::pause);
        encodes("0f 0b", X86Assembler::ud2);
        encodes("c3", X86Assembler::ret);
        encodes("48 cf", X86Assembler::iretq);
        encodes("f3 a4", X86Assembler::repMovsb);
        encodes("f3 48 a5", X86Assembler::repMovsq);
        encodes("f3 aa", X86Assembler::repStosb);
        encodes("f3 48 ab", X86Assembler::repStosq);
        encodes("ff d0", a -> a.call(RAX));    // call rax
        encodes("41 ff e3", a -> a.jmp(R11));  // jmp r11
    }

    /**
     * <pre>
     *    0: e9 1f 00 00 00         {disp32} jmp fwd
     *    5: 48 ff c9         loop: dec rcx
     *    8: 0f 85 f7 ff ff ff      {disp32} jnz loop
     *    e: e8 11 00 00 00         {disp32} call fwd
     *   13: 48 8d 05 0a 00 00 00   lea rax, [rip+fwd]
     *   1a: c7 05 00 00 00 00 07 00 00 00   mov dword [rip+fwd], 7
     *   24: c3               fwd:  ret
     * </pre>
     */
    @Test
    void labelsResolveForwardAndBackwardRelativeToTheInstructionEnd() {
        encodes("e91f000000 48ffc9 0f85f7ffffff e811000000 488d050a000000 c7050000000007000000 c3", a -> {
            Label fwd = a.newLabel("fwd");
            Label loop = a.newLabel("loop");
            a.jmp(fwd);
            a.bind(loop).dec(RCX).jcc(Cond.NZ, loop);
            a.call(fwd);
            a.lea(RAX, Mem.rip(fwd));
            a.store32(Mem.rip(fwd), 7);
            a.bind(fwd).ret();
        });
    }

    @Test
    void anUnboundLabelIsReportedAtAssembly() {
        X86Assembler a = new X86Assembler();
        a.jmp(a.newLabel("nowhere"));
        IllegalStateException e = assertThrows(IllegalStateException.class, a::assemble);
        assertEquals("label nowhere is not bound", e.getMessage());
    }
}

package io.ringway.vcpu.boot;

import java.lang.foreign.MemorySegment;

import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** boot.rst "The real-mode kernel header": fields at their offsets, and the checks a loader makes. */
class SetupHeaderTest {
    @Test
    void fieldsAreReadFromTheirBootRstOffsets() {
        SetupHeader h = SetupHeader.parse(TestImages.bzImage(), "bz");
        assertEquals(3, h.setupSects());
        assertEquals(0x020f, h.version());
        assertEquals(SetupHeader.LOADED_HIGH, h.loadflags());
        assertTrue(h.relocatable());
        assertEquals(0x200000, h.kernelAlignment());
        assertEquals(0x7fffffffL, h.initrdAddrMax());
        assertEquals(2047, h.cmdlineSize());
        assertEquals(0x7f, h.xloadflags());
        assertTrue(h.has64BitEntry());
        assertEquals(0x1000000L, h.prefAddress());
        assertEquals(0x400000L, h.initSize());
        assertEquals(0x26c, h.headerEnd());
        assertEquals(4 * 512, h.protectedModeOffset(), "boot sector + 3 setup sectors");
    }

    @Test
    void setupSectsZeroMeansFour() {
        MemorySegment m = TestImages.bzImage();
        m.set(JAVA_BYTE, 0x1f1, (byte) 0);
        assertEquals(5 * 512, SetupHeader.parse(m, "bz").protectedModeOffset());
    }

    @Test
    void withoutHdrSMagicTheFileIsRejectedNamingTheOffset() {
        MemorySegment m = TestImages.bzImage();
        m.set(JAVA_INT_UNALIGNED, 0x202, 0x12345678);
        BadKernelException e = assertThrows(BadKernelException.class, () -> SetupHeader.parse(m, "k.img"));
        assertTrue(e.getMessage().startsWith("k.img: not a bzImage: no \"HdrS\" magic at offset 0x202"), e.getMessage());
    }

    @Test
    void anElfFileIsToldToBootAsVmlinux() {
        BadKernelException e = assertThrows(BadKernelException.class, () -> SetupHeader.parse(TestImages.elf(0x200000, -1), "vmlinux"));
        assertTrue(e.getMessage().contains("ELF file"), e.getMessage());
    }

    @Test
    void aProtocolOlderThan206IsRejected() {
        MemorySegment m = TestImages.bzImage();
        m.set(JAVA_SHORT_UNALIGNED, 0x206, (short) 0x0205);
        BadKernelException e = assertThrows(BadKernelException.class, () -> SetupHeader.parse(m, "old"));
        assertEquals("old: boot protocol 2.05 is too old, at least 2.06 is needed", e.getMessage());
    }

    @Test
    void aBadBootFlagIsRejected() {
        MemorySegment m = TestImages.bzImage();
        m.set(JAVA_SHORT_UNALIGNED, 0x1fe, (short) 0);
        assertTrue(assertThrows(BadKernelException.class, () -> SetupHeader.parse(m, "k")).getMessage().contains("0xaa55"));
    }

    @Test
    void aZImageIsRejected() {
        MemorySegment m = TestImages.bzImage();
        m.set(JAVA_BYTE, 0x211, (byte) 0);
        assertTrue(assertThrows(BadKernelException.class, () -> SetupHeader.parse(m, "k")).getMessage().contains("LOADED_HIGH"));
    }

    @Test
    void aFileShorterThanTheHeaderIsRejected() {
        BadKernelException e = assertThrows(BadKernelException.class, () -> SetupHeader.parse(MemorySegment.ofArray(new byte[100]), "tiny"));
        assertTrue(e.getMessage().startsWith("tiny: not a bzImage: 100 bytes"), e.getMessage());
    }

    @Test
    void setupSectorsPastTheEndOfTheFileAreATruncatedKernel() {
        MemorySegment m = TestImages.bzImage();
        m.set(JAVA_BYTE, 0x1f1, (byte) 100);
        assertTrue(assertThrows(BadKernelException.class, () -> SetupHeader.parse(m, "k")).getMessage().contains("truncated"));
    }

    @Test
    void beforeProtocol212ThereAreNoXloadflagsAndSoNo64BitEntry() {
        MemorySegment m = TestImages.bzImage();
        m.set(JAVA_SHORT_UNALIGNED, 0x206, (short) 0x020b);
        assertFalse(SetupHeader.parse(m, "k").has64BitEntry());
    }
}

package io.ringway.vcpu.pci;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The type-0 configuration header, BAR sizing and the capability list, byte-exact against PCI Local Bus 3.0 chapter 6. */
class PciConfigSpaceTest {
    private static byte[] dump(PciConfigSpace c, int from, int to) {
        byte[] out = new byte[to - from];
        for (int i = from; i < to; i++) {
            out[i - from] = (byte) c.read(i, 1);
        }
        return out;
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    private static PciConfigSpace device() {
        return new PciConfigSpace(0x1af4, 0x1042, 0x01_00_00, 0x01, 0x1af4, 0x0002);
    }

    @Test
    void theHostBridgeHeaderIsByteExact() {
        byte[] expected = new byte[0x40];
        System.arraycopy(bytes(0x36, 0x1b, 0x08, 0x00), 0, expected, 0x00, 4); // vendor 1b36, device 0008
        expected[0x0b] = 0x06; // class 06/00/00: bridge, host bridge
        assertArrayEquals(expected, dump(new PciHostBridge().config(), 0, 0x40));
    }

    @Test
    void identityFieldsReadAsLittleEndianWordsAndDwords() {
        PciConfigSpace c = device().interruptPin(1);
        assertEquals(0x1042_1af4L, c.read(PciConfigSpace.VENDOR_ID, 4));
        assertEquals(0x1042, c.read(PciConfigSpace.DEVICE_ID, 2));
        assertEquals(0x0100_0001L, c.read(PciConfigSpace.REVISION_ID, 4), "revision 01, prog-if 00, sub-class 00, base class 01");
        assertEquals(0x0002_1af4L, c.read(PciConfigSpace.SUBSYSTEM_VENDOR_ID, 4));
        assertEquals(0x0000_0100L, c.read(PciConfigSpace.INTERRUPT_LINE, 4), "interrupt pin INTA# at 0x3d");
        assertEquals(0, c.read(PciConfigSpace.HEADER_TYPE, 1), "header type 0, single function");
    }

    @Test
    void readOnlyRegistersIgnoreWrites() {
        PciConfigSpace c = device().interruptPin(1);
        byte[] before = dump(c, 0, 0x40);
        for (int offset : new int[] {0x00, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x28, 0x2c, 0x30, 0x34, 0x38}) {
            c.write(offset, 4, 0xffff_ffffL);
        }
        c.write(PciConfigSpace.INTERRUPT_PIN, 1, 0xff);
        byte[] after = dump(c, 0, 0x40);
        // only the cache line size (0x0c) moved; 0x0d latency timer, 0x0e header type, 0x0f BIST stay 0
        before[0x0c] = (byte) 0xff;
        assertArrayEquals(before, after);
    }

    @Test
    void theCommandRegisterKeepsOnlyItsWritableBits() {
        PciConfigSpace c = device();
        c.write(PciConfigSpace.COMMAND, 2, 0xffff);
        assertEquals(0x0547, c.read(PciConfigSpace.COMMAND, 2), "I/O, memory, bus master, parity, SERR#, INTx disable");
        c.write(PciConfigSpace.COMMAND, 1, 0x02);
        assertEquals(0x0502, c.read(PciConfigSpace.COMMAND, 2), "a byte write changes only the low byte");
    }

    @Test
    void statusErrorBitsAreWriteOneToClearAndTheRestReadOnly() {
        PciConfigSpace c = device();
        c.addCapability(0x09, new byte[2], null);
        c.put(PciConfigSpace.STATUS, 2, 0xf900 | PciConfigSpace.STATUS_CAPABILITIES_LIST);
        c.write(PciConfigSpace.STATUS, 2, 0x0100 | 0x0010); // clear master data parity error; try to clear the cap-list bit
        assertEquals(0xf810, c.read(PciConfigSpace.STATUS, 2));
        c.write(PciConfigSpace.STATUS, 2, 0);
        assertEquals(0xf810, c.read(PciConfigSpace.STATUS, 2), "writing 0 clears nothing");
        c.write(PciConfigSpace.COMMAND, 4, 0xffff_0000L);
        assertEquals(0x0010, c.read(PciConfigSpace.STATUS, 2), "a dword write through the command register clears every error bit");
    }

    @Test
    void a32BitMemoryBarReportsItsSizeToAllOnesAndKeepsItsAddress() {
        PciConfigSpace c = device();
        c.addBar(new PciBar(0, PciBar.Kind.MEMORY32, 0x1000, false));
        assertEquals(0, c.read(0x10, 4), "type bits 00: 32-bit, anywhere, not prefetchable");
        c.write(0x10, 4, 0xffff_ffffL);
        assertEquals(0xffff_f000L, c.read(0x10, 4), "~(4 KiB - 1), low 4 bits read-only");
        c.write(0x10, 4, 0xfebf_1234L);
        assertEquals(0xfebf_1000L, c.read(0x10, 4));
        assertEquals(0xfebf_1000L, c.barAddress(0));
    }

    @Test
    void a64BitPrefetchableBarTakesTwoRegistersAndSizesAcrossBoth() {
        PciConfigSpace c = device();
        c.addBar(new PciBar(2, PciBar.Kind.MEMORY64, 0x4000, true));
        assertEquals(0x0c, c.read(0x18, 4), "bits 2:1 = 10 (64-bit), bit 3 prefetchable");
        c.write(0x18, 4, 0xffff_ffffL);
        c.write(0x1c, 4, 0xffff_ffffL);
        assertEquals(0xffff_c00cL, c.read(0x18, 4));
        assertEquals(0xffff_ffffL, c.read(0x1c, 4));
        c.write(0x18, 4, 0x8000_0000L);
        c.write(0x1c, 4, 0x0000_0001L);
        assertEquals(0x1_8000_0000L, c.barAddress(2));
        assertNull(c.bar(3), "the upper half is not a BAR of its own");
    }

    @Test
    void aBarLargerThan4GiBHasReadOnlyZerosInItsWholeLowRegister() {
        PciConfigSpace c = device();
        c.addBar(new PciBar(0, PciBar.Kind.MEMORY64, 8L << 30, false));
        c.write(0x10, 4, 0xffff_ffffL);
        c.write(0x14, 4, 0xffff_ffffL);
        assertEquals(0x0000_0004L, c.read(0x10, 4));
        assertEquals(0xffff_fffeL, c.read(0x14, 4), "8 GiB: bit 33 is the lowest address bit");
    }

    @Test
    void anIoBarHasBit0SetAndSizesIn4ByteSteps() {
        PciConfigSpace c = device();
        c.addBar(new PciBar(5, PciBar.Kind.IO, 32, false));
        assertEquals(1, c.read(0x24, 4));
        c.write(0x24, 4, 0xffff_ffffL);
        assertEquals(0xffff_ffe1L, c.read(0x24, 4));
        c.write(0x24, 4, 0xc040);
        assertEquals(0xc040, c.barAddress(5));
    }

    @Test
    void capabilitiesChainFrom0x34InTheOrderTheyWereAddedAndSetTheStatusBit() {
        PciConfigSpace c = device();
        assertEquals(0, c.read(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAPABILITIES_LIST);
        int first = c.addCapability(0x09, bytes(14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), null); // 16 bytes
        int second = c.addCapability(0x11, bytes(0x03, 0x00, 0x01, 0, 0, 0, 0x01, 0x08, 0, 0),
            bytes(0x00, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0)); // MSI-X: only message control bits 15:14 writable
        int third = c.addCapability(0x05, new byte[1], null); // 3 bytes: the next one would start dword aligned
        assertEquals(0x40, first);
        assertEquals(0x50, second);
        assertEquals(0x5c, third);
        assertEquals(0x10, c.read(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAPABILITIES_LIST);
        assertEquals(0x40, c.read(PciConfigSpace.CAPABILITIES_POINTER, 1));
        assertArrayEquals(bytes(0x09, 0x50, 14, 1), dump(c, 0x40, 0x44));
        assertArrayEquals(bytes(0x11, 0x5c, 0x03, 0x00, 0x01, 0, 0, 0, 0x01, 0x08, 0, 0), dump(c, 0x50, 0x5c));
        assertArrayEquals(bytes(0x05, 0x00, 0x00), dump(c, 0x5c, 0x5f));
        c.write(0x52, 2, 0xffff);
        assertEquals(0xc003, c.read(0x52, 2), "MSI-X enable and function mask land, the table size does not");
        c.write(0x40, 4, 0);
        assertArrayEquals(bytes(0x09, 0x50, 14, 1), dump(c, 0x40, 0x44), "id, next and a read-only body ignore writes");
        assertEquals(0x60, c.addCapability(0x10, new byte[2], null), "the next capability starts at the next dword");
    }

    @Test
    void badSetUpAndOutOfRangeAccessesAreRefusedByName() {
        PciConfigSpace c = device();
        c.addBar(new PciBar(0, PciBar.Kind.MEMORY64, 0x1000, false));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> c.addBar(new PciBar(1, PciBar.Kind.IO, 4, false)))
            .getMessage().contains("slot 1 is already taken"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new PciBar(0, PciBar.Kind.MEMORY32, 0x1800, false))
            .getMessage().contains("power of 2"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new PciBar(0, PciBar.Kind.IO, 512, false))
            .getMessage().contains("4..256"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new PciBar(5, PciBar.Kind.MEMORY64, 0x1000, false))
            .getMessage().contains("0..4"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> c.read(0xff, 2)).getMessage().contains("outside"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> c.write(0x10, 3, 0)).getMessage().contains("1, 2 or 4"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> c.addCapability(0x09, new byte[0xc0], null))
            .getMessage().contains("does not fit"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new PciConfigSpace(0xffff, 0, 0, 0, 0, 0))
            .getMessage().contains("no function"));
    }
}

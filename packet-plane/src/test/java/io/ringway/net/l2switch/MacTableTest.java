package io.ringway.net.l2switch;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The MAC table on its own: keys, probing, ageing, moves, the full-table policy. */
class MacTableTest {
    static final long AGE = 1_000;

    @Test
    void addressKeyIsTheSixBytesInNetworkOrderAndTheGroupBitIsBitZeroOfTheFirstByte() {
        assertEquals(0x02000000000aL, MacTable.mac(new byte[] {0x02, 0, 0, 0, 0, 0x0a}));
        assertEquals(0xffffffffffffL, MacTable.mac(new byte[] {-1, -1, -1, -1, -1, -1}));
        assertTrue(MacTable.isGroup(0xffffffffffffL));
        assertTrue(MacTable.isGroup(0x01005e000001L));
        assertFalse(MacTable.isGroup(0x02000000000aL));
    }

    @Test
    void learnReportsNewRefreshedAndMoved() {
        MacTable t = new MacTable(64, AGE);
        assertEquals(MacTable.LEARNED, t.learn(5, 1, 0));
        assertEquals(MacTable.REFRESHED, t.learn(5, 1, 10));
        assertEquals(MacTable.MOVED, t.learn(5, 2, 20));
        assertEquals(2, t.lookup(5, 20));
        assertEquals(1, t.size(20));
    }

    @Test
    void addressZeroIsAnOrdinaryKey() {
        MacTable t = new MacTable(16, AGE);
        assertEquals(MacTable.NO_PORT, t.lookup(0, 0));
        t.learn(0, 3, 0);
        assertEquals(3, t.lookup(0, 0));
    }

    @Test
    void everyAddressIsFoundUpToHalfFullWithCollidingProbeChains() {
        MacTable t = new MacTable(1024, AGE);
        for (long m = 0; m < 512; m++) {
            assertEquals(MacTable.LEARNED, t.learn(0x020000000000L + m * 4096, (int) (m % 7), 0), "mac " + m);
        }
        for (long m = 0; m < 512; m++) {
            assertEquals((int) (m % 7), t.lookup(0x020000000000L + m * 4096, 0));
        }
        assertEquals(512, t.size(0));
    }

    @Test
    void agedSlotIsReusedWithoutBreakingTheChainBehindIt() {
        MacTable t = new MacTable(4, AGE); // 4 slots, all probed: every address shares one chain
        t.learn(1, 1, 0);
        t.learn(2, 2, 0);
        t.learn(3, 3, 500);
        // 1 and 2 age; a new address takes an aged slot, 3 is still found, and nothing is duplicated.
        assertEquals(MacTable.LEARNED, t.learn(4, 4, 1_200));
        assertEquals(3, t.lookup(3, 1_200));
        assertEquals(MacTable.REFRESHED, t.learn(3, 3, 1_200));
        assertEquals(MacTable.LEARNED, t.learn(2, 5, 1_200)); // aged entry of 2 revived, not a second entry
        assertEquals(3, t.size(1_200));
        assertEquals(MacTable.LEARNED, t.learn(9, 6, 1_200));
        assertEquals(4, t.size(1_200));
        assertEquals(MacTable.FULL, t.learn(10, 7, 1_200));
    }
}

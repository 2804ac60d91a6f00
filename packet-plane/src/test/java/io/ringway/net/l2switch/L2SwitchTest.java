package io.ringway.net.l2switch;

import io.ringway.runtime.mem.Mempool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.ringway.net.l2switch.SwitchBed.BROADCAST;
import static io.ringway.net.l2switch.SwitchBed.frame;
import static io.ringway.net.l2switch.SwitchBed.mac;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The learning switch's rules, one test each, over ring ports driven on the test thread. */
class L2SwitchTest {
    @TempDir
    Path dir;

    @Test
    void learnedDestinationIsForwardedOnlyToItsPort() {
        try (SwitchBed bed = new SwitchBed(dir, 3)) {
            bed.sendAndSwitch(1, frame(BROADCAST, mac(1), 0)); // host 1 announces itself
            bed.drainAll();
            byte[] f = frame(mac(1), mac(0), 7);
            bed.sendAndSwitch(0, f);
            List<byte[]> at1 = bed.received(1);
            assertEquals(1, at1.size());
            assertArrayEquals(f, at1.get(0));
            assertEquals(0, bed.received(0).size());
            assertEquals(0, bed.received(2).size());
            assertEquals(1, bed.sw.counters(1).learned.get());
            assertEquals(1, bed.sw.counters(0).learned.get());
            assertEquals(1, bed.sw.counters(1).tx.get()); // the unicast only
            assertEquals(2, bed.sw.counters(2).tx.get() + bed.sw.counters(0).tx.get()); // the broadcast, once each
        }
    }

    @Test
    void unknownUnicastIsFloodedToEveryPortButTheIngress() {
        try (SwitchBed bed = new SwitchBed(dir, 4)) {
            byte[] f = frame(mac(9), mac(2), 3);
            bed.sendAndSwitch(2, f);
            for (int p : new int[] {0, 1, 3}) {
                List<byte[]> got = bed.received(p);
                assertEquals(1, got.size(), "port " + p);
                assertArrayEquals(f, got.get(0));
            }
            assertEquals(0, bed.received(2).size());
            assertEquals(1, bed.sw.counters(2).flooded.get());
            assertEquals(1, bed.sw.counters(2).rx.get());
        }
    }

    @Test
    void broadcastAndMulticastAreFloodedEvenWhenTheAddressWasSeenAsASource() {
        try (SwitchBed bed = new SwitchBed(dir, 3)) {
            byte[] multicast = {0x01, 0x00, 0x5e, 0, 0, 1};
            bed.sendAndSwitch(0, frame(BROADCAST, mac(0), 0));
            bed.sendAndSwitch(1, frame(multicast, mac(1), 1));
            assertEquals(1, bed.received(0).size()); // the multicast from 1
            assertEquals(1, bed.received(1).size()); // the broadcast from 0
            assertEquals(2, bed.received(2).size()); // both
            // A group address as a source is not learned, and a group destination is never looked up.
            bed.sendAndSwitch(1, frame(mac(0), multicast, 2));
            assertEquals(MacTable.NO_PORT, bed.sw.macTable().lookup(MacTable.mac(multicast), bed.now));
            bed.drainAll();
            bed.sendAndSwitch(0, frame(multicast, mac(0), 3));
            assertEquals(1, bed.received(1).size());
            assertEquals(1, bed.received(2).size());
        }
    }

    @Test
    void entryOlderThanTheAgeIsIgnoredAndReplaced() {
        try (SwitchBed bed = new SwitchBed(dir, 3, 1024, 256, 64, Duration.ofSeconds(10))) {
            bed.sendAndSwitch(1, frame(BROADCAST, mac(1), 0));
            bed.drainAll();
            bed.now += Duration.ofSeconds(10).toNanos(); // exactly the age: still live
            bed.sendAndSwitch(0, frame(mac(1), mac(0), 1));
            assertEquals(0, bed.received(2).size());
            assertEquals(1, bed.received(1).size());
            bed.now += Duration.ofSeconds(10).toNanos() + 1; // host 1 silent for longer than the age
            bed.sendAndSwitch(0, frame(mac(1), mac(0), 2));
            assertEquals(1, bed.received(1).size());
            assertEquals(1, bed.received(2).size(), "aged destination is unknown again: flooded");
            assertEquals(1, bed.sw.macTable().size(bed.now)); // only host 0, just refreshed
            // Host 1 speaks from port 2 now: the aged entry is replaced, counted as learned not moved.
            bed.sendAndSwitch(2, frame(mac(0), mac(1), 3));
            assertEquals(2, bed.sw.macTable().lookup(MacTable.mac(mac(1)), bed.now));
            assertEquals(0, bed.sw.macMoves());
            assertEquals(1, bed.sw.counters(2).learned.get());
        }
    }

    @Test
    void addressSeenOnAnotherPortIsRelearnedThere() {
        try (SwitchBed bed = new SwitchBed(dir, 3)) {
            bed.sendAndSwitch(1, frame(BROADCAST, mac(5), 0));
            bed.sendAndSwitch(2, frame(BROADCAST, mac(5), 1)); // host 5 moved to port 2
            bed.drainAll();
            bed.sendAndSwitch(0, frame(mac(5), mac(0), 2));
            assertEquals(0, bed.received(1).size());
            assertEquals(1, bed.received(2).size());
            assertEquals(1, bed.sw.macMoves());
            assertEquals(1, bed.sw.counters(2).learned.get());
        }
    }

    @Test
    void frameWhoseDestinationIsOnTheIngressPortIsDropped() {
        try (SwitchBed bed = new SwitchBed(dir, 3)) {
            bed.sendAndSwitch(0, frame(BROADCAST, mac(1), 0));
            bed.sendAndSwitch(0, frame(BROADCAST, mac(2), 1)); // hosts 1 and 2 behind port 0
            bed.drainAll();
            int before = bed.pool.available();
            bed.sendAndSwitch(0, frame(mac(2), mac(1), 2));
            for (int p = 0; p < 3; p++) {
                assertEquals(0, bed.received(p).size(), "port " + p);
            }
            assertEquals(1, bed.sw.counters(0).dropped.get());
            assertEquals(before, bed.pool.available());
        }
    }

    @Test
    void runtShorterThanAnEthernetHeaderIsDropped() {
        try (SwitchBed bed = new SwitchBed(dir, 2)) {
            bed.sendAndSwitch(0, new byte[13]);
            assertEquals(0, bed.received(1).size());
            assertEquals(1, bed.sw.counters(0).dropped.get());
        }
    }

    @Test
    void fullTableLearnsNothingNewKeepsLiveEntriesAndFloods() {
        // Capacity 8 is under the probe limit: the table is full when all 8 entries are live.
        try (SwitchBed bed = new SwitchBed(dir, 2, 1024, 256, 8, Duration.ofSeconds(10))) {
            for (int h = 1; h <= 8; h++) {
                bed.sendAndSwitch(1, frame(BROADCAST, mac(h), h));
            }
            assertEquals(8, bed.sw.macTable().size(bed.now));
            bed.sendAndSwitch(0, frame(BROADCAST, mac(100), 0));
            assertEquals(1, bed.sw.macTableFull());
            assertEquals(0, bed.sw.counters(0).learned.get());
            for (int h = 1; h <= 8; h++) {
                assertEquals(1, bed.sw.macTable().lookup(MacTable.mac(mac(h)), bed.now), "host " + h + " kept");
            }
            bed.drainAll();
            bed.sendAndSwitch(1, frame(mac(100), mac(1), 9));
            assertEquals(1, bed.received(0).size(), "unlearned destination flooded");
            // Once the others age out there is room again.
            bed.now += Duration.ofSeconds(11).toNanos();
            bed.sendAndSwitch(0, frame(BROADCAST, mac(100), 10));
            assertEquals(0, bed.sw.macTable().lookup(MacTable.mac(mac(100)), bed.now));
            assertEquals(1, bed.sw.counters(0).learned.get());
        }
    }

    @Test
    void floodCopyWithNoFreeBufferIsCountedAsThatPortsTxDrop() {
        try (SwitchBed bed = new SwitchBed(dir, 3, 64, 256, 64, Duration.ofSeconds(300))) {
            long[] hoard = new long[bed.pool.count()];
            bed.send(0, frame(BROADCAST, mac(0), 0));
            int held = 0;
            long h;
            while ((h = bed.pool.alloc(null)) != Mempool.NO_HANDLE) {
                hoard[held++] = h;
            }
            bed.sw.doWork();
            // The original goes to port 2 (the last other port); the copy for port 1 found no buffer.
            assertEquals(1, bed.received(2).size());
            assertEquals(0, bed.received(1).size());
            assertEquals(1, bed.sw.counters(1).txDropped.get());
            bed.pool.freeBulk(null, hoard, 0, held);
        }
    }

    @Test
    void framesAPortRefusesAreFreedAndCounted() {
        try (SwitchBed bed = new SwitchBed(dir, 2, 1024, 32, 64, Duration.ofSeconds(300))) {
            int total = bed.pool.available();
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 32; i++) {
                    bed.send(0, frame(mac(1), mac(0), i));
                }
                bed.sw.doWork();
            }
            // Host 1 never reads: its ring of 32 takes the first burst, the next two are refused.
            assertEquals(32, bed.sw.counters(1).tx.get());
            assertEquals(64, bed.sw.counters(1).txDropped.get());
            assertEquals(64, bed.switchSide[1].counters().txDrops.get());
            bed.drainAll();
            bed.sw.close();
            assertEquals(total, bed.pool.available());
        }
    }

    @Test
    void everyBufferReturnsToThePoolAfterMixedTraffic() {
        try (SwitchBed bed = new SwitchBed(dir, 4, 512, 64, 64, Duration.ofSeconds(300))) {
            int total = bed.pool.available();
            for (int round = 0; round < 200; round++) {
                for (int i = 0; i < 8; i++) {
                    int from = (round + i) % 4;
                    byte[] dst = switch (i % 3) {
                        case 0 -> BROADCAST;
                        case 1 -> mac((from + 1) % 4);
                        default -> mac(50 + round % 7); // unknown
                    };
                    bed.send(from, frame(dst, mac(from), round));
                }
                bed.sw.doWork();
                if (round % 3 == 0) {
                    bed.drainAll(); // in between, rings fill and the switch drops
                }
            }
            bed.drainAll();
            bed.sw.close();
            assertEquals(total, bed.pool.available());
        }
    }

    @Test
    void badSettingsAreRejectedWithTheRule() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new MacTable(1000, 1));
        assertTrue(e.getMessage().contains("power of 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new MacTable(16, 0));
    }
}

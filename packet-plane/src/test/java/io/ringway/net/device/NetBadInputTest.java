package io.ringway.net.device;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile or broken guests: every bad chain is dropped and counted, or answered, and the device
 * goes on; a front-end that disconnects under load leaves every packet buffer back in the pool.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class NetBadInputTest {
    static final long SPLIT_MRG = NetTestBed.ALL_NET;
    static final long SPLIT_NO_MRG = NetTestBed.ALL_NET & ~(1L << VirtioNetFeatures.MRG_RXBUF);
    static Lcore lcore;

    @TempDir
    Path dir;

    @BeforeAll
    static void startLcore() {
        lcore = Lcore.builder("bad-input-test").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void stopLcore() {
        lcore.close();
    }

    static NetTestBed open(Path dir, long features) {
        NetTestBed bed = new NetTestBed(dir, lcore, 1);
        bed.connect(features);
        bed.startQueues(1, 256, false);
        return bed;
    }

    /** Takes exactly one packet from the port and checks it. */
    static void expectOnePacket(NetTestBed bed, byte[] want) {
        long[] burst = new long[32];
        int[] n = new int[1];
        NetTestBed.waitFor("a packet at the port", () -> (n[0] = bed.port.rxBurst(0, burst, 0, 32)) > 0);
        assertEquals(1, n[0]);
        assertArrayEquals(want, bed.contents(burst[0]));
        bed.pool.free(bed.cache, burst[0]);
    }

    @Test
    void transmitChainsShorterThanTheHeaderOrEmptyAreDroppedAndCounted() {
        try (NetTestBed bed = open(dir, SPLIT_MRG)) {
            NetDriver tx = bed.tx.get(0);
            assertTrue(tx.post(new int[] {8}, new boolean[1], new byte[8]) >= 0);           // shorter than the header
            assertTrue(tx.post(new int[] {0}, new boolean[1], null) >= 0);                  // zero length
            assertTrue(tx.post(new int[] {4, 4}, new boolean[2], new byte[8]) >= 0);        // short, spanning two
            assertTrue(tx.post(new int[] {12}, new boolean[1], new byte[12]) >= 0);         // header only
            assertTrue(tx.post(new int[] {12, 0}, new boolean[2], new byte[12]) >= 0);      // header + empty piece
            assertTrue(tx.post(new int[] {16}, new boolean[] {true}, null) >= 0);           // writable only
            byte[] good = NetTestBed.frame(7, 60);
            assertTrue(tx.postPacket(good, true) >= 0);
            tx.publish();
            List<NetDriver.Used> used = tx.awaitUsed(7, 10_000);
            used.forEach(u -> assertEquals(0, u.len(), "transmit buffers come back with used length 0"));
            expectOnePacket(bed, good);
            VirtioNetMetrics m = bed.device.metrics();
            assertEquals(4, m.txDropShortHeader.get());
            assertEquals(2, m.txDropEmpty.get());
            assertEquals(1, m.txPackets.get());
        }
    }

    @Test
    void transmitPacketLargerThanABufferIsDroppedAndCounted() {
        try (NetTestBed bed = open(dir, SPLIT_MRG)) {
            NetDriver tx = bed.tx.get(0);
            assertTrue(tx.postPacket(new byte[3000], false) >= 0);
            byte[] good = NetTestBed.frame(3, 1514);
            assertTrue(tx.postPacket(good, false) >= 0);
            tx.publish();
            tx.awaitUsed(2, 10_000);
            expectOnePacket(bed, good);
            assertEquals(1, bed.device.metrics().txDropOversize.get());
        }
    }

    @Test
    void receiveBufferTooSmallWithoutMergeDropsThePacketAndReturnsTheBufferEmpty() {
        try (NetTestBed bed = open(dir, SPLIT_NO_MRG)) {
            NetDriver rx = bed.rx.get(0);
            assertTrue(rx.postReceive(40, 1) >= 0);
            rx.publish();
            long[] one = {bed.mbuf(NetTestBed.frame(1, 64))};
            assertEquals(1, bed.port.txBurst(0, one, 0, 1));
            NetDriver.Used u = rx.awaitUsed(1, 10_000).get(0);
            assertEquals(0, u.len());
            assertEquals(1, bed.device.metrics().rxDropBufferTooSmall.get());
            assertTrue(rx.postReceive(2048, 1) >= 0);
            rx.publish();
            byte[] good = NetTestBed.frame(2, 64);
            one[0] = bed.mbuf(good);
            assertEquals(1, bed.port.txBurst(0, one, 0, 1));
            NetDriver.Received r = rx.receive(10_000);
            assertArrayEquals(good, r.frame());
            assertEquals(1, r.numBuffers());
            NetTestBed.waitFor("buffers back", () -> bed.pool.available() == NetTestBed.POOL_SIZE);
        }
    }

    @Test
    void mergedPacketThatNeedsTooManyBuffersIsDroppedAndTheBuffersReturnedEmpty() {
        try (NetTestBed bed = open(dir, SPLIT_MRG)) {
            NetDriver rx = bed.rx.get(0);
            for (int i = 0; i < ReceiveQueueHandler.MAX_MERGE; i++) {
                assertTrue(rx.postReceive(16, 1) >= 0);
            }
            rx.publish();
            long[] one = {bed.mbuf(NetTestBed.frame(1, 1514))};
            assertEquals(1, bed.port.txBurst(0, one, 0, 1));
            rx.awaitUsed(ReceiveQueueHandler.MAX_MERGE, 10_000).forEach(u -> assertEquals(0, u.len()));
            assertEquals(1, bed.device.metrics().rxDropBufferTooSmall.get());
            assertTrue(rx.postReceive(16, 1) >= 0);
            rx.publish();
            byte[] small = NetTestBed.frame(2, 4);
            one[0] = bed.mbuf(small);
            assertEquals(1, bed.port.txBurst(0, one, 0, 1));
            assertArrayEquals(small, rx.receive(10_000).frame());
        }
    }

    @Test
    void mergedPacketWaitsForEnoughBuffersInsteadOfDropping() {
        try (NetTestBed bed = open(dir, SPLIT_MRG)) {
            NetDriver rx = bed.rx.get(0);
            assertTrue(rx.postReceive(512, 1) >= 0);
            rx.publish();
            byte[] big = NetTestBed.frame(9, 1514);
            long[] one = {bed.mbuf(big)};
            assertEquals(1, bed.port.txBurst(0, one, 0, 1));
            NetTestBed.waitFor("the device holds the packet", () -> bed.device.toGuest(0).size() == 0);
            assertEquals(0, bed.device.metrics().rxPackets.get());
            assertTrue(rx.postReceive(512, 1) >= 0);
            assertTrue(rx.postReceive(512, 1) >= 0);
            rx.publish();
            NetDriver.Received r = rx.receive(10_000);
            assertEquals(3, r.numBuffers());
            assertArrayEquals(big, r.frame());
            assertEquals(0, bed.device.metrics().rxDropBufferTooSmall.get());
        }
    }

    /**
     * A stream run inside the device (txonly's direct generator) meets a guest buffer too small for
     * its frame with MRG_RXBUF: that chain starts a merged packet, which the stream then sends as a
     * packet buffer; the guest gets the frame whole, nothing dropped.
     */
    @Test
    void localGeneratorFallsBackToAMergedPacketBuffer() throws Exception {
        try (NetTestBed bed = open(dir, SPLIT_MRG)) {
            NetDriver rx = bed.rx.get(0);
            byte[] big = NetTestBed.frame(11, 1514);
            java.lang.foreign.MemorySegment frame = java.lang.foreign.Arena.ofAuto().allocate(big.length);
            java.lang.foreign.MemorySegment.copy(big, 0, frame, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, big.length);
            int[] sent = {0};
            long[] one = new long[1];
            VirtioNetDevice.LocalStream generator = new VirtioNetDevice.LocalStream() {
                @Override
                public void fromGuest(int pair, long[] packets, int n) {
                    bed.device.pool().freeBulk(null, packets, 0, n);
                }

                @Override
                public int beforeReceive(int pair) {
                    if (sent[0] > 0) {
                        return 0;
                    }
                    int n = bed.device.generateLocal(pair, frame, big.length, 1);
                    if (n < 0 && bed.device.localQueued(pair) == 0) {
                        one[0] = bed.mbuf(big);
                        n = bed.device.deliverLocal(pair, one, 0, 1);
                    }
                    sent[0] += Math.max(n, 0);
                    return Math.max(n, 0);
                }
            };
            lcore.execute(() -> bed.device.attachLocal(0, generator)).get(10, TimeUnit.SECONDS);
            assertTrue(rx.postReceive(512, 1) >= 0);
            rx.publish();
            NetTestBed.waitFor("the device takes the small buffer", () -> bed.device.metrics().rxPackets.get() == 0
                    && sent[0] == 1);
            assertTrue(rx.postReceive(512, 1) >= 0);
            assertTrue(rx.postReceive(512, 1) >= 0);
            rx.publish();
            NetDriver.Received r = rx.receive(10_000);
            assertEquals(3, r.numBuffers());
            assertArrayEquals(big, r.frame());
            assertEquals(0, bed.device.metrics().rxDropBufferTooSmall.get());
            lcore.execute(() -> bed.device.attachLocal(0, null)).get(10, TimeUnit.SECONDS);
        }
    }

    /**
     * A memory table change while a merged packet waits for more buffers: the chains already taken
     * point into the old mappings, so they go back empty and the packet is dropped and counted;
     * the queue goes on with the new table.
     */
    @Test
    void memoryTableChangeDropsAHalfAssembledMergedPacket() {
        try (NetTestBed bed = open(dir, SPLIT_MRG);
             io.ringway.runtime.mem.SharedRegion extra = io.ringway.runtime.mem.SharedRegion.create("extra", 2 << 20)) {
            NetDriver rx = bed.rx.get(0);
            assertTrue(rx.postReceive(512, 1) >= 0);
            rx.publish();
            long[] one = {bed.mbuf(NetTestBed.frame(4, 1514))};
            assertEquals(1, bed.port.txBurst(0, one, 0, 1));
            NetTestBed.waitFor("the device holds the packet", () -> bed.device.toGuest(0).size() == 0);
            bed.frontend.addMemReg(new io.ringway.vhost.frontend.FrontendMemory.Region(extra, 1L << 30));
            NetDriver.Used u = rx.awaitUsed(1, 10_000).get(0);
            assertEquals(0, u.len(), "the buffer taken for the dropped packet comes back empty");
            assertEquals(1, bed.device.metrics().rxDropReset.get());
            assertTrue(rx.postReceive(2048, 1) >= 0);
            rx.publish();
            byte[] good = NetTestBed.frame(5, 300);
            one[0] = bed.mbuf(good);
            assertEquals(1, bed.port.txBurst(0, one, 0, 1));
            assertArrayEquals(good, rx.receive(10_000).frame());
        }
    }

    @Test
    void frontendDisconnectingUnderLoadReturnsEveryBufferAndANewFrontendConnects() throws Exception {
        try (NetTestBed bed = open(dir, SPLIT_MRG)) {
            NetDriver tx = bed.tx.get(0);
            NetDriver rx = bed.rx.get(0);
            long[] burst = new long[32];
            long end = System.currentTimeMillis() + 1000;
            int seed = 0;
            // Full load both ways, nobody harvesting on the guest side after a while.
            while (System.currentTimeMillis() < end) {
                while (tx.postPacket(NetTestBed.frame(seed, 64), false) >= 0) {
                    seed++;
                }
                tx.publish();
                while (tx.pollUsed() != null) {
                    // reuse
                }
                while (rx.postReceive(2048, 1) >= 0) {
                    // fill
                }
                rx.publish();
                while (rx.pollUsed() != null) {
                    // consume
                }
                for (int i = 0; i < 32; i++) {
                    burst[i] = bed.mbuf(NetTestBed.frame(i, 64));
                }
                int sent = bed.port.txBurst(0, burst, 0, 32);
                bed.pool.freeBulk(bed.cache, burst, sent, 32 - sent);
                int n = bed.port.rxBurst(0, burst, 0, 32);
                bed.pool.freeBulk(bed.cache, burst, 0, n);
            }
            assertTrue(bed.device.metrics().txPackets.get() > 0 && bed.device.metrics().rxPackets.get() > 0);
            bed.disconnect();
            NetTestBed.waitFor("the session to end", () -> bed.backend.endedSessions() == 1);
            int n;
            while ((n = bed.port.rxBurst(0, burst, 0, 32)) > 0) {
                bed.pool.freeBulk(bed.cache, burst, 0, n);
            }
            burst[0] = bed.mbuf(NetTestBed.frame(0, 64));
            assertEquals(0, bed.port.txBurst(0, burst, 0, 1), "no frontend: the port takes nothing");
            bed.pool.free(bed.cache, burst[0]);
            NetTestBed.waitFor("every buffer back in the pool", () -> bed.pool.available() == NetTestBed.POOL_SIZE);

            bed.connect(SPLIT_MRG);
            bed.startQueues(1, 256, false);
            byte[] good = NetTestBed.frame(5, 100);
            assertTrue(bed.tx.get(0).postPacket(good, false) >= 0);
            bed.tx.get(0).publish();
            expectOnePacket(bed, good);
            assertTrue(bed.rx.get(0).postReceive(2048, 1) >= 0);
            bed.rx.get(0).publish();
            burst[0] = bed.mbuf(good);
            NetTestBed.waitFor("the port to take a packet", () -> bed.port.txBurst(0, burst, 0, 1) == 1);
            assertArrayEquals(good, bed.rx.get(0).receive(10_000).frame());
            assertEquals(2, bed.backend.sessions());
        }
    }
}

package io.ringway.net.device;

import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.vhost.frontend.FrontendMemory;
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
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A {@link VirtioNetDevice} with two queue pairs whose vrings are spread over two lcores: each
 * pair's receiveq and transmitq share one lcore, pairs go round-robin, and a memory-table swap is
 * handled on each lcore for the pairs placed there.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NetQueuePairsOnLcoresTest {
    static List<Lcore> lcores;

    @TempDir
    Path dir;

    @BeforeAll
    static void startLcores() {
        lcores = List.of(Lcore.builder("pairs-0").idlePolicy(IdlePolicy.backoff()).start(),
                Lcore.builder("pairs-1").idlePolicy(IdlePolicy.backoff()).start());
    }

    @AfterAll
    static void stopLcores() {
        lcores.forEach(Lcore::close);
    }

    private NetTestBed open() {
        NetTestBed bed = new NetTestBed(dir, lcores, VirtioNetDevice.builder(Mbuf.createPool(NetTestBed.POOL_SIZE)).queuePairs(2));
        bed.connect(NetTestBed.ALL_NET);
        bed.startQueues(2, 256, true);
        return bed;
    }

    @Test
    void aQueuePairRunsOnOneLcoreAndPairsGoRoundRobin() {
        try (NetTestBed bed = open()) {
            for (int k = 0; k < 2; k++) {
                assertSame(lcores.get(k), bed.backend.lcoreOf(2 * k), "receiveq of pair " + k);
                assertSame(lcores.get(k), bed.backend.lcoreOf(2 * k + 1), "transmitq of pair " + k);
            }
            assertNotSame(bed.backend.lcoreOf(0), bed.backend.lcoreOf(2));
        }
    }

    @Test
    void bothPairsCarryPacketsBothWays() {
        try (NetTestBed bed = open()) {
            long[] one = new long[1];
            for (int k = 0; k < 2; k++) {
                byte[] out = NetTestBed.frame(20 + k, 200);
                assertTrue(bed.tx.get(k).postPacket(out, false) >= 0);
                bed.tx.get(k).publish();
                int pair = k;
                NetTestBed.waitFor("a packet on pair " + k, () -> bed.port.rxBurst(pair, one, 0, 1) == 1);
                assertArrayEquals(out, bed.contents(one[0]));
                bed.pool.free(bed.cache, one[0]);

                assertTrue(bed.rx.get(k).postReceive(2048, 1) >= 0);
                bed.rx.get(k).publish();
                byte[] in = NetTestBed.frame(30 + k, 300);
                one[0] = bed.mbuf(in);
                NetTestBed.waitFor("pair " + k + " to take a packet", () -> bed.port.txBurst(pair, one, 0, 1) == 1);
                assertArrayEquals(in, bed.rx.get(k).receive(10_000).frame());
            }
            assertEquals(2, bed.device.metrics().txPackets.get());
            assertEquals(2, bed.device.metrics().rxPackets.get());
        }
    }

    /**
     * A merged packet half assembled on each pair (one buffer of three taken) when a region is
     * added: each lcore returns its pair's chain empty and drops the packet, the lcore of pair 1
     * as well as the one of vring 0; both pairs go on with the new table.
     */
    @Test
    void memoryTableChangeDropsHalfAssembledPacketsOnEveryLcore() {
        try (NetTestBed bed = open(); SharedRegion extra = SharedRegion.create("extra", 2 << 20)) {
            long[] one = new long[1];
            for (int k = 0; k < 2; k++) {
                assertTrue(bed.rx.get(k).postReceive(512, 1) >= 0);
                bed.rx.get(k).publish();
                one[0] = bed.mbuf(NetTestBed.frame(40 + k, 1514));
                assertEquals(1, bed.port.txBurst(k, one, 0, 1));
                int pair = k;
                NetTestBed.waitFor("pair " + k + " holds the packet", () -> bed.device.toGuest(pair).size() == 0);
            }
            bed.frontend.addMemReg(new FrontendMemory.Region(extra, 1L << 30));
            for (int k = 0; k < 2; k++) {
                assertEquals(0, bed.rx.get(k).awaitUsed(1, 10_000).get(0).len(), "pair " + k + "'s buffer comes back empty");
            }
            assertEquals(2, bed.device.metrics().rxDropReset.get());
            for (int k = 0; k < 2; k++) {
                assertTrue(bed.rx.get(k).postReceive(2048, 1) >= 0);
                bed.rx.get(k).publish();
                byte[] good = NetTestBed.frame(50 + k, 300);
                one[0] = bed.mbuf(good);
                assertEquals(1, bed.port.txBurst(k, one, 0, 1));
                assertArrayEquals(good, bed.rx.get(k).receive(10_000).frame());
            }
        }
    }
}

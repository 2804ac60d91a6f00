package io.ringway.net.forward;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.RingPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.stats.StatsRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** testpmd's forwarding modes over in-process ring ports, driven on the test thread. */
class ForwardingStreamTest {
    static final int POOL = 1024;
    static final byte[] A = {0x02, 0, 0, 0, 0, 0x0a};
    static final byte[] B = {0x02, 0, 0, 0, 0, 0x0b};

    @TempDir
    Path dir;
    StatsRegistry stats;
    Mempool pool;
    Mempool.Cache cache;

    @BeforeEach
    void setUp() {
        stats = StatsRegistry.open(dir.resolve("fwd.stats"), 256);
        pool = Mbuf.createPool(POOL);
        cache = pool.createCache(64);
    }

    @AfterEach
    void tearDown() {
        cache.close();
        pool.close();
        stats.close();
    }

    long packet(byte[] frame) {
        long h = pool.alloc(cache);
        long off = pool.offset(h);
        MemorySegment.copy(frame, 0, pool.memory(), ValueLayout.JAVA_BYTE, Mbuf.data(off), frame.length);
        Mbuf.length(pool.memory(), off, frame.length);
        return h;
    }

    byte[] contents(long h) {
        long off = pool.offset(h);
        return pool.memory().asSlice(Mbuf.data(off), Mbuf.length(pool.memory(), off)).toArray(ValueLayout.JAVA_BYTE);
    }

    static byte[] frame(int seed) {
        byte[] f = new byte[60 + seed % 40];
        System.arraycopy(B, 0, f, 0, 6);
        System.arraycopy(A, 0, f, 6, 6);
        for (int i = 12; i < f.length; i++) {
            f[i] = (byte) (seed + i);
        }
        return f;
    }

    @Test
    void txonlySendsTemplateFramesAndRxonlyCountsAndFreesThem() {
        RingPort[] ports = RingPort.pair("a", "b", 1, 256, pool, stats);
        try (RingPort a = ports[0]; RingPort b = ports[1];
             ForwardingStream tx = new ForwardingStream(ForwardingMode.TXONLY, null, 0, a, 0, new UdpPacketTemplate(64, A, B));
             ForwardingStream rx = new ForwardingStream(ForwardingMode.RXONLY, b, 0, null, 0, null)) {
            for (int i = 0; i < 100; i++) {
                tx.doWork();
                rx.doWork();
            }
            assertEquals(3200, a.counters().txPackets.get());
            assertEquals(3200 * 64, a.counters().txBytes.get());
            assertEquals(3200, b.counters().rxPackets.get());
            assertEquals(0, a.counters().txDrops.get());
            // Nobody receiving: the ring fills, and txonly builds no packet it could not send.
            for (int i = 0; i < 20; i++) {
                tx.doWork();
            }
            assertEquals(256, a.counters().txPackets.get() - 3200);
            assertEquals(0, a.counters().txDrops.get());
            assertEquals(0, a.txRoom(0));
        }
        assertEquals(POOL, pool.available(), "closing the ports and streams returns every buffer");
    }

    @Test
    void ioForwardsUnchangedAndInOrder() {
        RingPort[] in = RingPort.pair("in-peer", "in", 1, 256, pool, stats);
        RingPort[] out = RingPort.pair("out", "out-peer", 1, 256, pool, stats);
        try (RingPort inPeer = in[0]; RingPort inPort = in[1]; RingPort outPort = out[0]; RingPort outPeer = out[1];
             ForwardingStream io = new ForwardingStream(ForwardingMode.IO, inPort, 0, outPort, 0, null)) {
            long[] burst = new long[32];
            for (int i = 0; i < 32; i++) {
                burst[i] = packet(frame(i));
            }
            assertEquals(32, inPeer.txBurst(0, burst, 0, 32));
            assertEquals(32, io.doWork());
            assertEquals(32, outPeer.rxBurst(0, burst, 0, 32));
            for (int i = 0; i < 32; i++) {
                assertArrayEquals(frame(i), contents(burst[i]));
            }
            pool.freeBulk(cache, burst, 0, 32);
            assertEquals(32, inPort.counters().rxPackets.get());
            assertEquals(32, outPort.counters().txPackets.get());
        }
    }

    @Test
    void macswapSwapsSourceAndDestinationAndSendsBackOutTheSamePort() {
        RingPort[] p = RingPort.pair("peer", "port", 1, 256, pool, stats);
        try (RingPort peer = p[0]; RingPort port = p[1];
             ForwardingStream swap = new ForwardingStream(ForwardingMode.MACSWAP, port, 0, null, 0, null)) {
            long[] burst = {packet(frame(1))};
            assertEquals(1, peer.txBurst(0, burst, 0, 1));
            assertEquals(1, swap.doWork());
            assertEquals(1, peer.rxBurst(0, burst, 0, 1));
            byte[] got = contents(burst[0]);
            byte[] want = frame(1);
            System.arraycopy(A, 0, want, 0, 6);
            System.arraycopy(B, 0, want, 6, 6);
            assertArrayEquals(want, got);
            pool.free(cache, burst[0]);
        }
    }

    @Test
    void udpTemplateHasValidIpv4HeaderAndLengths() {
        UdpPacketTemplate t = new UdpPacketTemplate(128, A, B);
        MemorySegment f = t.frame();
        ValueLayout.OfShort be = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
        assertEquals(0x0800, Short.toUnsignedInt(f.get(be, 12)));
        assertEquals(128 - 14, Short.toUnsignedInt(f.get(be, 16)), "IPv4 total length");
        assertEquals(128 - 34, Short.toUnsignedInt(f.get(be, 38)), "UDP length");
        int sum = 0;
        for (int i = 0; i < 20; i += 2) {
            sum += Short.toUnsignedInt(f.get(be, 14 + i));
        }
        sum = (sum & 0xffff) + (sum >>> 16);
        assertEquals(0xffff, sum, "the IPv4 header checksums to 0xffff");
        assertThrows(IllegalArgumentException.class, () -> new UdpPacketTemplate(41, A, B));
        assertEquals(ForwardingMode.MACSWAP, ForwardingMode.parse("macswap"));
        assertThrows(IllegalArgumentException.class, () -> ForwardingMode.parse("flowgen"));
    }
}

package io.ringway.net.device;

import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.runtime.sys.UnixSocket;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What {@code ringway net} runs, end to end with Ringway front-ends as guests. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ForwardingEngineTest {
    @TempDir
    Path dir;

    private static byte[] swapped(byte[] f) {
        byte[] s = f.clone();
        System.arraycopy(f, 0, s, 6, 6);
        System.arraycopy(f, 6, s, 0, 6);
        return s;
    }

    /** Client mode (the front-end listens, as QEMU with server=on), macswap, two lcores. */
    @Test
    void clientModeMacswapReturnsEveryPacketSwapped() throws Exception {
        macswapLoop(new int[] {-1, -1}, true, i -> NetTestBed.frame(i, 60 + i % 1000), i -> false, NetTestBed.ALL_NET);
    }

    /**
     * Macswap on one lcore over a split ring: frames in one buffer go straight from the transmit
     * buffer to a receive buffer (the burst path), every 5th has its header in a buffer of its own
     * (the packet-buffer path), every 13th is 10 bytes (too short to swap: it comes back as sent).
     * All come back in order, byte for byte, and every count agrees. Then the guest reconnects with
     * a packed ring (no burst path there), and then with a split ring again: each session is served.
     */
    @Test
    void macswapMixesBothPathsInOrderAcrossSplitAndPackedSessions() throws Exception {
        long packed = NetTestBed.ALL_NET | VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
        macswapLoop(new int[] {-1}, false,
                i -> i % 13 == 12 ? NetTestBed.frame(i, 10) : NetTestBed.frame(i, 60 + i % 1000), i -> i % 5 == 4,
                NetTestBed.ALL_NET, packed, NetTestBed.ALL_NET);
    }

    /** One engine, the front-end listening; one guest session after another, each negotiating {@code sessions[s]}. */
    private void macswapLoop(int[] lcores, boolean mergeable, java.util.function.IntFunction<byte[]> frame,
            java.util.function.IntPredicate splitHeader, long... sessions) throws Exception {
        Path socket = dir.resolve("client.sock");
        int count = 1000;
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("e.stats"), 512);
             UnixSocket listener = UnixSocket.listen(socket, 1);
             ForwardingEngine engine = ForwardingEngine.start(new ForwardingEngine.Config(List.of(socket), true, 1,
                     ForwardingMode.MACSWAP, lcores, IdlePolicy.backoff(), 64, 4096, mergeable, true, stats))) {
            for (int session = 0; session < sessions.length; session++) {
                try (FrontendMemory mem = FrontendMemory.create("guest-" + session, NetDriver.MEMORY_SIZE)) {
                    VhostUserFrontend f = VhostUserFrontend.over(listener.accept());
                    try {
                        f.negotiate(sessions[session], VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
                        f.setMemTable(mem);
                        NetDriver rx = new NetDriver(f, mem, 0, 256);
                        NetDriver tx = new NetDriver(f, mem, 1, 256);
                        int sent = 0;
                        int received = 0;
                        long deadline = System.currentTimeMillis() + 30_000;
                        while (received < count) {
                            while (rx.postReceive(2048, 1) >= 0) {
                                // fill
                            }
                            rx.publish();
                            while (sent < count && sent - received < 128
                                    && tx.postPacket(frame.apply(sent), splitHeader.test(sent)) >= 0) {
                                sent++;
                            }
                            tx.publish();
                            while (tx.pollUsed() != null) {
                                // transmit buffers back
                            }
                            if (sent > received) {
                                NetDriver.Received r = rx.receive(10_000);
                                byte[] expected = frame.apply(received);
                                assertArrayEquals(expected.length >= 12 ? swapped(expected) : expected, r.frame(),
                                        "session " + session + " packet " + received);
                                received++;
                            }
                            assertTrue(System.currentTimeMillis() < deadline, "session " + session + " timed out");
                        }
                        long total = (long) (session + 1) * count;
                        assertEquals(total, engine.ports().get(0).counters().rxPackets.get());
                        assertEquals(total, engine.ports().get(0).counters().txPackets.get());
                        VirtioNetMetrics m = engine.devices().get(0).metrics();
                        NetTestBed.waitFor("the device counters", () -> m.rxPackets.get() == total && m.txPackets.get() == total);
                    } finally {
                        f.close();
                    }
                }
                int ended = session + 1;
                NetTestBed.waitFor("session " + session + " to end", () -> engine.backends().get(0).endedSessions() >= ended);
            }
        }
    }

    /** io over two ports: what one guest sends, the other receives, unchanged. */
    @Test
    void ioForwardsBetweenTwoPorts() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("e.stats"), 512);
             ForwardingEngine engine = ForwardingEngine.start(new ForwardingEngine.Config(List.of(a, b), false, 1,
                     ForwardingMode.IO, new int[] {-1}, IdlePolicy.backoff(), 64, 4096, false, false, stats));
             FrontendMemory memA = FrontendMemory.create("guest-a", NetDriver.MEMORY_SIZE);
             FrontendMemory memB = FrontendMemory.create("guest-b", NetDriver.MEMORY_SIZE);
             VhostUserFrontend fa = VhostUserFrontend.connect(a, java.time.Duration.ofSeconds(5));
             VhostUserFrontend fb = VhostUserFrontend.connect(b, java.time.Duration.ofSeconds(5))) {
            fa.negotiate(NetTestBed.ALL_NET, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
            fa.setMemTable(memA);
            fb.negotiate(NetTestBed.ALL_NET, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
            fb.setMemTable(memB);
            new NetDriver(fa, memA, 0, 256);
            NetDriver txA = new NetDriver(fa, memA, 1, 256);
            NetDriver rxB = new NetDriver(fb, memB, 0, 256);
            new NetDriver(fb, memB, 1, 256);
            for (int i = 0; i < 100; i++) {
                assertTrue(rxB.postReceive(2048, 1) >= 0);
            }
            rxB.publish();
            for (int i = 0; i < 100; i++) {
                assertTrue(txA.postPacket(NetTestBed.frame(i, 1514), i % 2 == 0) >= 0);
            }
            txA.publish();
            for (int i = 0; i < 100; i++) {
                NetDriver.Received r = rxB.receive(10_000);
                assertEquals(1, r.numBuffers(), "MRG_RXBUF was not offered");
                assertArrayEquals(NetTestBed.frame(i, 1514), r.frame());
            }
            assertEquals(100, engine.ports().get(0).counters().rxPackets.get());
            assertEquals(100, engine.ports().get(1).counters().txPackets.get());
            assertEquals(100, engine.devices().get(1).metrics().rxPackets.get());
        }
    }

    static byte[] ethernet(byte[] dst, byte[] src, int seed) {
        byte[] f = NetTestBed.frame(seed, 128);
        System.arraycopy(dst, 0, f, 0, 6);
        System.arraycopy(src, 0, f, 6, 6);
        return f;
    }

    /**
     * Switch mode over two vhost-user ports: a frame to an unknown address is flooded to the other
     * guest, the reply to the learned address is forwarded, and the switch counters say so.
     */
    @Test
    void switchFloodsUnknownThenForwardsToLearnedAddress() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        byte[] macA = {0x02, 0, 0, 0, 0, 0x0a};
        byte[] macB = {0x02, 0, 0, 0, 0, 0x0b};
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("e.stats"), 512);
             ForwardingEngine engine = ForwardingEngine.start(new ForwardingEngine.Config(List.of(a, b), false, 1,
                     ForwardingMode.SWITCH, new int[] {-1}, IdlePolicy.backoff(), 64, 4096, false, false, stats));
             FrontendMemory memA = FrontendMemory.create("guest-a", NetDriver.MEMORY_SIZE);
             FrontendMemory memB = FrontendMemory.create("guest-b", NetDriver.MEMORY_SIZE);
             VhostUserFrontend fa = VhostUserFrontend.connect(a, java.time.Duration.ofSeconds(5));
             VhostUserFrontend fb = VhostUserFrontend.connect(b, java.time.Duration.ofSeconds(5))) {
            fa.negotiate(NetTestBed.ALL_NET, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
            fa.setMemTable(memA);
            fb.negotiate(NetTestBed.ALL_NET, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
            fb.setMemTable(memB);
            NetDriver rxA = new NetDriver(fa, memA, 0, 256);
            NetDriver txA = new NetDriver(fa, memA, 1, 256);
            NetDriver rxB = new NetDriver(fb, memB, 0, 256);
            NetDriver txB = new NetDriver(fb, memB, 1, 256);
            for (int i = 0; i < 20; i++) {
                assertTrue(rxA.postReceive(2048, 1) >= 0);
                assertTrue(rxB.postReceive(2048, 1) >= 0);
            }
            rxA.publish();
            rxB.publish();
            for (int i = 0; i < 10; i++) {
                assertTrue(txA.postPacket(ethernet(macB, macA, i), false) >= 0);
            }
            txA.publish();
            for (int i = 0; i < 10; i++) {
                assertArrayEquals(ethernet(macB, macA, i), rxB.receive(10_000).frame());
            }
            for (int i = 0; i < 10; i++) {
                assertTrue(txB.postPacket(ethernet(macA, macB, 100 + i), false) >= 0);
            }
            txB.publish();
            for (int i = 0; i < 10; i++) {
                assertArrayEquals(ethernet(macA, macB, 100 + i), rxA.receive(10_000).frame());
            }
            var sw = engine.l2switch();
            assertEquals(10, sw.counters(0).flooded.get(), "B was unknown");
            assertEquals(0, sw.counters(1).flooded.get(), "A was learned");
            assertEquals(1, sw.counters(0).learned.get());
            assertEquals(1, sw.counters(1).learned.get());
            assertEquals(10, sw.counters(0).tx.get());
            assertEquals(10, sw.counters(1).tx.get());
        }
    }
}

package io.ringway.net.device;

import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The switch's zero-copy path ({@link L2Switch#fuse}, what {@link ForwardingEngine} runs in switch
 * mode on one lcore): a frame to a learned address on another vhost-user port is copied from the
 * sender's transmit buffer straight into the receiver's buffer. Each test drives two or three
 * guests through Ringway's own front-end and checks the frames byte for byte, and the counters.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SwitchZeroCopyTest {
    private static final byte[] MAC_A = {0x02, 0, 0, 0, 0, 0x0a};
    private static final byte[] MAC_B = {0x02, 0, 0, 0, 0, 0x0b};
    private static final byte[] MAC_C = {0x02, 0, 0, 0, 0, 0x0c};
    private static final byte[] MAC_UNKNOWN = {0x02, 0, 0, 0, 0, 0x0d};
    private static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};
    private static final int HDR = VirtioNetHeaderDescriptor.LENGTH;

    @TempDir
    Path dir;

    /** One guest on a switch port: its memory, front-end, receiveq and transmitq. */
    private record Guest(FrontendMemory memory, VhostUserFrontend frontend, NetDriver rx, NetDriver tx)
            implements AutoCloseable {
        @Override
        public void close() {
            frontend.close();
            memory.close();
        }

        /** Sends {@code frames} and publishes them at once (one burst for the device). */
        void send(List<byte[]> frames, boolean splitHeader) {
            for (byte[] f : frames) {
                assertTrue(tx.postPacket(f, splitHeader) >= 0, "transmit ring full");
            }
            tx.publish();
        }

        void send(byte[] frame) {
            send(List.of(frame), false);
        }

        void postReceive(int buffers, int length) {
            for (int i = 0; i < buffers; i++) {
                assertTrue(rx.postReceive(length, 1) >= 0, "receive ring full");
            }
            rx.publish();
        }
    }

    /** A switch engine on one lcore over {@code n} sockets, and a guest on each. */
    private final class Bed implements AutoCloseable {
        final StatsRegistry stats;
        final ForwardingEngine engine;
        final List<Guest> guests = new ArrayList<>();

        Bed(int ports, boolean mergeable, boolean packed, boolean zeroCopy) throws Exception {
            stats = StatsRegistry.open(dir.resolve("switch.stats"), 512);
            List<Path> sockets = new ArrayList<>();
            for (int i = 0; i < ports; i++) {
                sockets.add(dir.resolve("s" + i + ".sock"));
            }
            String before = System.getProperty(ForwardingEngine.ZERO_COPY_PROPERTY);
            System.setProperty(ForwardingEngine.ZERO_COPY_PROPERTY, Boolean.toString(zeroCopy));
            try {
                engine = ForwardingEngine.start(new ForwardingEngine.Config(sockets, false, 1, ForwardingMode.SWITCH,
                        new int[] {-1}, IdlePolicy.backoff(), 64, 4096, mergeable, packed, stats));
            } finally {
                if (before == null) {
                    System.clearProperty(ForwardingEngine.ZERO_COPY_PROPERTY);
                } else {
                    System.setProperty(ForwardingEngine.ZERO_COPY_PROPERTY, before);
                }
            }
            for (int i = 0; i < ports; i++) {
                FrontendMemory mem = FrontendMemory.create("guest-" + i, NetDriver.MEMORY_SIZE);
                VhostUserFrontend f = VhostUserFrontend.connect(sockets.get(i), Duration.ofSeconds(5));
                // The guests take the packed ring when the switch offers it (the driver follows what was negotiated).
                f.negotiate(NetTestBed.ALL_NET | (packed ? VirtioFeatures.mask(VirtioFeatures.RING_PACKED) : 0),
                        VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
                f.setMemTable(mem);
                guests.add(new Guest(mem, f, new NetDriver(f, mem, 0, 256), new NetDriver(f, mem, 1, 256)));
            }
        }

        Guest guest(int i) {
            return guests.get(i);
        }

        L2Switch sw() {
            return engine.l2switch();
        }

        VirtioNetMetrics metrics(int i) {
            return engine.devices().get(i).metrics();
        }

        @Override
        public void close() {
            guests.stream().filter(java.util.Objects::nonNull).forEach(Guest::close);
            engine.close();
            stats.close();
        }
    }

    private static byte[] ethernet(byte[] dst, byte[] src, int seed, int length) {
        byte[] f = NetTestBed.frame(seed, length);
        System.arraycopy(dst, 0, f, 0, 6);
        System.arraycopy(src, 0, f, 6, 6);
        return f;
    }

    private static List<byte[]> frames(byte[] dst, byte[] src, int firstSeed, int count) {
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(ethernet(dst, src, firstSeed + i, 60 + (firstSeed + i) * 37 % 1400));
        }
        return out;
    }

    private static void assertReceives(Guest g, List<byte[]> expected, String what) {
        for (int i = 0; i < expected.size(); i++) {
            NetDriver.Received r = g.rx.receive(10_000);
            assertEquals(1, r.numBuffers(), what + " frame " + i + ": one buffer holds it");
            byte[] header = r.header().clone();
            header[10] = 0;
            assertArrayEquals(new byte[HDR], header, what + " frame " + i + ": header zero but num_buffers");
            assertArrayEquals(expected.get(i), r.frame(), what + " frame " + i);
        }
    }

    /** Sends one frame from port {@code from} so that the switch learns its address (flooded to the others). */
    private static void learn(Bed bed, int from, byte[] mac, int... others) {
        byte[] hello = ethernet(BROADCAST, mac, 999, 64);
        bed.guest(from).send(hello);
        for (int o : others) {
            assertReceives(bed.guest(o), List.of(hello), "broadcast from port " + from + " at port " + o);
        }
    }

    /** Posts receive buffers on A and B, then each sends a broadcast so the switch learns both addresses. */
    private static void learnBoth(Bed bed, int buffersA, int buffersB) {
        bed.guest(0).postReceive(buffersA, 2048);
        bed.guest(1).postReceive(buffersB, 2048);
        learn(bed, 0, MAC_A, 1);
        learn(bed, 1, MAC_B, 0);
    }

    /**
     * Learned unicast both ways, frames of 60..1459 bytes, split and packed rings, mergeable buffers
     * on and off, the net header in the frame's descriptor or in its own: every frame arrives byte
     * for byte and in order; with the zero-copy path on, every unicast frame took it (counted), and
     * with it off none did and the same frames arrive. Every count agrees: device tx = switch rx =
     * port rx, switch tx = device rx = port tx.
     */
    @ParameterizedTest(name = "packed={0} mergeable={1} splitHeader={2} zeroCopy={3}")
    @CsvSource({"false,false,false,true", "true,true,false,true", "false,true,true,true", "true,false,true,true",
            "false,false,false,false"})
    void learnedUnicastArrivesByteExactAndCountsAgree(boolean packed, boolean mergeable, boolean splitHeader,
            boolean zeroCopy) throws Exception {
        try (Bed bed = new Bed(2, mergeable, packed, zeroCopy)) {
            Guest a = bed.guest(0);
            Guest b = bed.guest(1);
            learnBoth(bed, 200, 200);
            int rounds = 5;
            int perRound = 30;
            for (int r = 0; r < rounds; r++) {
                List<byte[]> ab = frames(MAC_B, MAC_A, 1000 * r, perRound);
                List<byte[]> ba = frames(MAC_A, MAC_B, 1000 * r + 500, perRound);
                a.send(ab, splitHeader);
                b.send(ba, splitHeader);
                assertReceives(b, ab, "A to B round " + r);
                assertReceives(a, ba, "B to A round " + r);
                while (a.tx.pollUsed() != null || b.tx.pollUsed() != null) {
                    // transmit buffers back to the drivers
                }
            }
            long unicast = (long) rounds * perRound;
            L2Switch sw = bed.sw();
            NetTestBed.waitFor("the switch counters", () -> sw.counters(0).tx.get() == unicast + 1
                    && sw.counters(1).tx.get() == unicast + 1);
            for (int p = 0; p < 2; p++) {
                String at = "port " + p + ": " + sw.counters(p);
                assertEquals(zeroCopy ? unicast : 0, sw.counters(p).txZeroCopy.get(), at);
                assertEquals(1, sw.counters(p).flooded.get(), "only the broadcast was flooded, " + at);
                assertEquals(unicast + 1, sw.counters(p).rx.get(), at);
                assertEquals(unicast + 1, bed.metrics(p).txPackets.get(), "device tx = switch rx, " + at);
                assertEquals(unicast + 1, bed.metrics(p).rxPackets.get(), "device rx = switch tx, " + at);
                assertEquals(unicast + 1, bed.engine.ports().get(p).counters().rxPackets.get(), at);
                assertEquals(unicast + 1, bed.engine.ports().get(p).counters().txPackets.get(), at);
                assertEquals(0, sw.counters(p).dropped.get() + sw.counters(p).txDropped.get(), at);
            }
        }
    }

    /**
     * On the zero-copy path, transmit chains shorter than the net header, header-only chains and
     * frames shorter than an Ethernet header are dropped and counted, their buffers go back, and
     * the good frame behind them arrives; a receive buffer too small for a frame (mergeable off) is
     * returned empty and counted as the switch's tx drop, and the next frame takes the next buffer.
     */
    @Test
    void badChainsAndSmallReceiveBuffersAreDroppedAndCounted() throws Exception {
        try (Bed bed = new Bed(2, false, false, true)) {
            Guest a = bed.guest(0);
            Guest b = bed.guest(1);
            learnBoth(bed, 4, 1);
            // Transmit: 6 bytes (shorter than the 12-byte header), header only, a 10-byte frame, a good frame.
            assertTrue(a.tx.post(new int[] {6}, new boolean[1], new byte[6]) >= 0);
            assertTrue(a.tx.post(new int[] {HDR}, new boolean[1], new byte[HDR]) >= 0);
            assertTrue(a.tx.postPacket(new byte[10], false) >= 0);
            byte[] good = ethernet(MAC_B, MAC_A, 1, 200);
            b.postReceive(3, 2048);
            a.send(List.of(good), false);
            assertReceives(b, List.of(good), "the good frame behind the bad chains");
            // Every transmit buffer comes back: the broadcast's and these four.
            a.tx.awaitUsed(5, 10_000);
            VirtioNetMetrics ma = bed.metrics(0);
            L2Switch sw = bed.sw();
            NetTestBed.waitFor("the drops counted", () -> sw.counters(0).dropped.get() == 1);
            assertEquals(1, ma.txDropShortHeader.get(), "chain shorter than the net header");
            assertEquals(1, ma.txDropEmpty.get(), "header-only chain");
            assertEquals(1, sw.counters(0).dropped.get(), "frame shorter than an Ethernet header");
            assertEquals(1, sw.counters(1).txZeroCopy.get(), "the good frame went guest to guest");

            // Receive: a 40-byte buffer cannot hold header + 100-byte frame.
            assertTrue(b.rx.postReceive(40, 1) >= 0);
            b.postReceive(2, 2048);
            byte[] second = ethernet(MAC_B, MAC_A, 2, 100);
            byte[] third = ethernet(MAC_B, MAC_A, 3, 100);
            a.send(List.of(second, third), false);
            // The two 2048-byte buffers of the earlier postReceive(3) are still posted: the frames land there
            // first, then the small one is reached only by a later frame.
            assertReceives(b, List.of(second, third), "frames into the earlier buffers");
            byte[] fourth = ethernet(MAC_B, MAC_A, 4, 100);
            byte[] fifth = ethernet(MAC_B, MAC_A, 5, 100);
            a.send(List.of(fourth, fifth), false);
            NetDriver.Used small = b.rx.awaitUsed(1, 10_000).get(0);
            assertEquals(0, small.len(), "the too-small buffer comes back empty, its frame dropped");
            assertReceives(b, List.of(fifth), "the frame after the small buffer");
            NetTestBed.waitFor("the small buffer counted", () -> sw.counters(1).txDropped.get() == 1);
            assertEquals(1, bed.metrics(1).rxDropBufferTooSmall.get());
            assertTrue(bed.engine.devices().get(1).isActive() && bed.engine.devices().get(0).isActive());
        }
    }

    /**
     * Broadcast and unknown unicast still reach every other port (packet buffers), while learned
     * unicast goes to its one port by the zero-copy path only.
     */
    @Test
    void floodingStillReachesEveryOtherPort() throws Exception {
        try (Bed bed = new Bed(3, true, true, true)) {
            for (Guest g : bed.guests) {
                g.postReceive(50, 2048);
            }
            learn(bed, 0, MAC_A, 1, 2);
            learn(bed, 1, MAC_B, 0, 2);
            List<byte[]> unknown = frames(MAC_UNKNOWN, MAC_A, 10, 5);
            bed.guest(0).send(unknown, false);
            assertReceives(bed.guest(1), unknown, "unknown unicast at B");
            assertReceives(bed.guest(2), unknown, "unknown unicast at C");
            List<byte[]> toB = frames(MAC_B, MAC_A, 20, 7);
            bed.guest(0).send(toB, false);
            assertReceives(bed.guest(1), toB, "learned unicast at B");
            List<byte[]> toA = frames(MAC_A, MAC_B, 30, 3);
            bed.guest(1).send(toA, false);
            assertReceives(bed.guest(0), toA, "learned unicast at A");
            L2Switch sw = bed.sw();
            NetTestBed.waitFor("the counters", () -> sw.counters(0).tx.get() == 1 + 3 && sw.counters(1).tx.get() == 1 + 5 + 7);
            assertEquals(6, sw.counters(0).flooded.get(), "A: its broadcast and the 5 unknown");
            assertEquals(7, sw.counters(1).txZeroCopy.get());
            assertEquals(3, sw.counters(0).txZeroCopy.get());
            assertEquals(0, sw.counters(2).txZeroCopy.get());
            assertEquals(2 + 5, sw.counters(2).tx.get(), "C got the two broadcasts and the unknown unicast only");
            assertEquals(2 + 5, bed.metrics(2).rxPackets.get());
            assertNull(bed.guest(2).rx.pollUsed(), "nothing else reached C");
        }
    }

    /**
     * The destination guest's front-end goes away while frames stream to it by the zero-copy path:
     * the process goes on (its receive ring is no longer written once its poller stopped), the
     * sender keeps sending (frames for the gone port are dropped and counted), and a new front-end
     * on that port receives again.
     */
    @Test
    void destinationDisconnectingUnderLoadIsSafeAndANewOneReceives() throws Exception {
        try (Bed bed = new Bed(2, true, false, true)) {
            Guest a = bed.guest(0);
            Guest b = bed.guest(1);
            learnBoth(bed, 4, 200);
            L2Switch sw = bed.sw();
            int seed = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (sw.counters(1).txZeroCopy.get() < 100) {
                a.send(frames(MAC_B, MAC_A, seed, 16), false);
                seed += 16;
                a.tx.awaitUsed(16, 10_000);
                assertTrue(System.nanoTime() < deadline, "frames never went guest to guest: " + sw.counters(1));
            }
            // Keep A sending while B's front-end closes (the back-end stops B's rings and resets the device).
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 200; i++) {
                        a.send(frames(MAC_B, MAC_A, 5000 + i, 16), false);
                        a.tx.awaitUsed(16, 10_000);
                    }
                } catch (Throwable t) {
                    failed.set(t);
                }
            });
            b.close();
            bed.guests.set(1, null);
            sender.join(30_000);
            assertTrue(!sender.isAlive(), "A's frames kept being taken");
            assertNull(failed.get(), () -> "A's sender: " + failed.get());
            NetTestBed.waitFor("B's device reset", () -> !bed.engine.devices().get(1).isActive());
            FrontendMemory mem = FrontendMemory.create("guest-b2", NetDriver.MEMORY_SIZE);
            VhostUserFrontend f = VhostUserFrontend.connect(dir.resolve("s1.sock"), Duration.ofSeconds(5));
            f.negotiate(NetTestBed.ALL_NET, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
            f.setMemTable(mem);
            Guest b2 = new Guest(mem, f, new NetDriver(f, mem, 0, 256), new NetDriver(f, mem, 1, 256));
            bed.guests.set(1, b2);
            b2.postReceive(50, 2048);
            List<byte[]> again = frames(MAC_B, MAC_A, 9000, 10);
            a.send(again, false);
            assertReceives(b2, again, "the new front-end on port B");
            assertTrue(bed.engine.lcores().get(0).isRunning(), "the lcore still runs");
        }
    }

    /**
     * The zero-copy path allocates nothing on the lcore (its thread's allocation counter, one round
     * of 20,000 frames after warm-up under 64 KiB: a per-frame allocation would show as megabytes;
     * C2 may arrive late on a loaded machine, so up to 30 rounds are allowed).
     */
    @Test
    void zeroCopyPathDoesNotAllocateOnTheLcore() throws Exception {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (Bed bed = new Bed(2, false, false, true)) {
            long lcoreThread = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("lcore-net-0") && t.isAlive()).findFirst().orElseThrow().threadId();
            learnBoth(bed, 4, 1);
            Guest a = bed.guest(0);
            Guest b = bed.guest(1);
            byte[] frame = ethernet(MAC_B, MAC_A, 7, 64);
            L2Switch sw = bed.sw();
            int perRound = 20_000;
            long allocated = Long.MAX_VALUE;
            int rounds = 0;
            while (rounds < 30 && allocated >= 64 * 1024) {
                long before = threads.getThreadAllocatedBytes(lcoreThread);
                long target = sw.counters(1).txZeroCopy.get() + perRound;
                long deadline = System.currentTimeMillis() + 20_000;
                while (sw.counters(1).txZeroCopy.get() < target) {
                    while (a.tx.postPacket(frame, false) >= 0) {
                        // fill the transmit ring
                    }
                    while (b.rx.postReceive(2048, 1) >= 0) {
                        // and the receive ring
                    }
                    a.tx.publish();
                    b.rx.publish();
                    while (a.tx.pollUsed() != null || b.rx.pollUsed() != null) {
                        // buffers back to the drivers
                    }
                    assertTrue(System.currentTimeMillis() < deadline, "round " + rounds + ": " + sw.counters(1));
                }
                allocated = threads.getThreadAllocatedBytes(lcoreThread) - before;
                rounds++;
            }
            System.out.println("lcore allocation (switch zero-copy): " + allocated + " bytes in round " + rounds);
            assertTrue(allocated < 64 * 1024, "the lcore allocated " + allocated + " bytes for " + perRound
                    + " frames, after " + rounds + " rounds");
            assertEquals(0, sw.counters(1).txDropped.get());
        }
    }

    /**
     * A destination guest with no free receive buffer: the frames wait as packet buffers, and frames
     * sent after them (which would find buffers for the zero-copy path) never overtake them.
     */
    @Test
    void framesWaitingForBuffersAreNotOvertaken() throws Exception {
        try (Bed bed = new Bed(2, true, false, true)) {
            learnBoth(bed, 4, 1);
            Guest a = bed.guest(0);
            Guest b = bed.guest(1);
            // 40 frames find no buffer: 32 wait in B's receive handler, 8 in its packet ring.
            List<byte[]> first = frames(MAC_B, MAC_A, 100, 40);
            a.send(first, false);
            L2Switch sw = bed.sw();
            NetTestBed.waitFor("the first frames switched", () -> sw.counters(0).rx.get() == 1 + 40);
            // B's buffers and A's next 64 frames appear together (B's first). The lcore serves A's
            // transmitq before B's receiveq: A's second burst of 32 comes when B's handler has emptied
            // but its ring still holds frames, and finds free buffers: it must still queue behind them.
            for (int i = 0; i < 120; i++) {
                assertTrue(b.rx.postReceive(2048, 1) >= 0);
            }
            List<byte[]> second = frames(MAC_B, MAC_A, 200, 64);
            for (byte[] f : second) {
                assertTrue(a.tx.postPacket(f, false) >= 0);
            }
            b.rx.publish();
            a.tx.publish();
            List<byte[]> all = new ArrayList<>(first);
            all.addAll(second);
            assertReceives(b, all, "A to B in order");
            List<byte[]> third = frames(MAC_B, MAC_A, 300, 10);
            a.send(third, false);
            assertReceives(b, third, "A to B once nothing waits");
            NetTestBed.waitFor("the counters", () -> sw.counters(1).tx.get() == 1 + 40 + 64 + 10);
            assertTrue(sw.counters(1).txZeroCopy.get() >= 10, "once nothing waited, frames went guest to guest: "
                    + sw.counters(1));
            assertEquals(0, sw.counters(1).txDropped.get());
        }
    }

    /**
     * One transmit burst that mixes what the burst path takes with what it leaves to the
     * frame-by-frame path: one-buffer frames, a frame whose header has a buffer of its own, a frame
     * back to its own port, and more frames than the destination has buffers. Every frame arrives
     * byte for byte and in order, the one to its own port is dropped and counted, the frames that
     * found no buffer wait and arrive once buffers come, and every transmit buffer goes back.
     */
    @ParameterizedTest(name = "mergeable={0}")
    @CsvSource({"false", "true"})
    void oneBurstOfMixedShapesArrivesInOrder(boolean mergeable) throws Exception {
        try (Bed bed = new Bed(2, mergeable, false, true)) {
            learnBoth(bed, 4, 1);
            Guest a = bed.guest(0);
            Guest b = bed.guest(1);
            b.postReceive(7, 2048);
            List<byte[]> toB = frames(MAC_B, MAC_A, 10, 10);
            byte[] toSelf = ethernet(MAC_A, MAC_A, 77, 90);
            for (int i = 0; i < 10; i++) {
                if (i == 5) {
                    assertTrue(a.tx.postPacket(toSelf, false) >= 0);
                }
                assertTrue(a.tx.postPacket(toB.get(i), i == 4) >= 0);
            }
            a.tx.publish();
            assertReceives(b, toB.subList(0, 7), "the frames that found buffers");
            b.postReceive(3, 2048);
            assertReceives(b, toB.subList(7, 10), "the frames that waited for buffers");
            L2Switch sw = bed.sw();
            NetTestBed.waitFor("the frame to its own port dropped", () -> sw.counters(0).dropped.get() == 1);
            a.tx.awaitUsed(1 + 11, 10_000);
            NetTestBed.waitFor("the counters", () -> sw.counters(1).tx.get() == 1 + 10);
            assertTrue(sw.counters(1).txZeroCopy.get() >= 4, "the first frames went guest to guest: " + sw.counters(1));
            assertEquals(0, sw.counters(1).txDropped.get());
            assertEquals(1 + 11, sw.counters(0).rx.get(), "the broadcast and the burst");
        }
    }
}

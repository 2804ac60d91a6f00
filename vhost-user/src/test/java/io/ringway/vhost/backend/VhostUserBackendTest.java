package io.ringway.vhost.backend;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.UnixSocket;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.frontend.VhostUserFrontendException;
import io.ringway.vhost.protocol.VhostUserProtocolFeature;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A Ringway front-end drives a Ringway back-end serving the echo device, in one process. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VhostUserBackendTest {
    static final long ALL_PROTOCOL = VhostUserBackend.DEFAULT_PROTOCOL_FEATURES;
    static final long SPLIT = EchoDevice.FEATURES & ~VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
    static final long PACKED = EchoDevice.FEATURES;
    static final long NO_EVENT_IDX = SPLIT & ~VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);

    static Lcore lcore;

    @TempDir
    Path dir;

    @BeforeAll
    static void startLcore() {
        lcore = Lcore.builder("backend-test").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void stopLcore() {
        lcore.close();
    }

    static void waitFor(String what, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** Connects, negotiates, sends the memory table. */
    static VhostUserFrontend open(Path socket, FrontendMemory mem, long features, long protocol) {
        VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5));
        f.negotiate(features, protocol);
        f.setMemTable(mem);
        return f;
    }

    private void moveBuffersBothWays(long features, int queues, int count) {
        EchoDevice device = new EchoDevice(queues, 1024);
        Path socket = dir.resolve("echo.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).name("echo").listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             VhostUserFrontend f = open(socket, mem, features, ALL_PROTOCOL)) {
            List<LoopbackDriver> drivers = new ArrayList<>();
            for (int q = 0; q < queues; q++) {
                drivers.add(new LoopbackDriver(f, mem, q, 256, false));
            }
            for (LoopbackDriver d : drivers) {
                d.transfer(count, 30_000);
            }
            for (int q = 0; q < queues; q++) {
                assertEquals(count & 0xffff, f.stopVring(q), "GET_VRING_BASE answers the next available index");
            }
            drivers.forEach(LoopbackDriver::close);
            assertEquals(1, device.activations.get());
        }
    }

    @Test
    void splitQueueMovesBuffersBothWaysWithEventIdx() {
        moveBuffersBothWays(SPLIT, 2, 100_000);
    }

    @Test
    void packedQueueMovesBuffersBothWaysWithEventIdx() {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("packed.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             VhostUserFrontend f = open(socket, mem, PACKED, ALL_PROTOCOL);
             LoopbackDriver d = new LoopbackDriver(f, mem, 0, 256, false)) {
            assertTrue(VirtioFeatures.has(f.features(), VirtioFeatures.RING_PACKED));
            d.transfer(100_000, 30_000);
            int base = f.stopVring(0);
            // Packed (vhost-user.rst, GET_VRING_BASE): avail position in bits 0-14, avail wrap counter
            // in bit 15, used position in bits 16-30, used wrap counter in bit 31. 100000 chains of 2
            // descriptors, all used.
            long positions = 200_000L;
            int wrap = (positions / 256) % 2 == 0 ? 1 : 0;
            assertEquals(positions % 256, base & 0x7fff);
            assertEquals(wrap, (base >>> 15) & 1, "avail wrap counter");
            assertEquals(positions % 256, (base >>> 16) & 0x7fff, "used position");
            assertEquals(wrap, base >>> 31, "used wrap counter");
        }
    }

    @Test
    void splitQueueWithoutEventIdxUsesRingFlags() {
        moveBuffersBothWays(NO_EVENT_IDX, 1, 20_000);
    }

    @Test
    void callEventfdIsSignalledWhenTheDriverWantsNotifications() {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("call.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             VhostUserFrontend f = open(socket, mem, SPLIT, ALL_PROTOCOL);
             LoopbackDriver d = new LoopbackDriver(f, mem, 0, 64, false)) {
            assertTrue(d.post(1, 10));
            d.publish();
            waitFor("a call eventfd signal", () -> d.call.read() > 0);
            assertTrue(d.harvest());
        }
    }

    @Test
    void adaptiveInterruptLcoreSleepsAndWakesOnKicks() throws Exception {
        try (Lcore adaptive = Lcore.builder("adaptive").idlePolicy(new IdlePolicy.AdaptiveInterrupt(
                TimeUnit.MICROSECONDS.toNanos(50), 5_000)).start()) {
            EchoDevice device = new EchoDevice(1, 1024);
            Path socket = dir.resolve("adaptive.sock");
            try (VhostUserBackend backend = VhostUserBackend.builder(device, adaptive).listen(socket);
                 FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
                 VhostUserFrontend f = open(socket, mem, SPLIT, ALL_PROTOCOL);
                 LoopbackDriver d = new LoopbackDriver(f, mem, 0, 64, false)) {
                for (int i = 0; i < 50; i++) {
                    // 20 ms is far beyond the 50 us of idleness after which the lcore sleeps (up to 5 s).
                    Thread.sleep(20);
                    long kicks = d.kicks;
                    long start = System.nanoTime();
                    assertTrue(d.post(i, 8));
                    d.publish();
                    assertEquals(kicks + 1, d.kicks, "the armed ring asks for a kick");
                    waitFor("the echo of buffer " + i, d::harvest);
                    // The lcore sleeps up to 5 s without a kick: an echo within 1 s means the kick woke it.
                    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(1), "woken by the kick");
                }
                assertTrue(adaptive.sleeps() >= 50, "the lcore slept between buffers: " + adaptive.sleeps());
            }
        }
    }

    @Test
    void ringsStartDisabledUntilSetVringEnableWithProtocolFeatures() throws Exception {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("enable.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             VhostUserFrontend f = open(socket, mem, SPLIT, ALL_PROTOCOL)) {
            // startVring sends SET_VRING_ENABLE 1 last: intercept by disabling right after.
            try (LoopbackDriver d = new LoopbackDriver(f, mem, 0, 64, false)) {
                f.setVringEnable(0, false);
                assertTrue(d.post(7, 16));
                d.publish();
                Thread.sleep(200);
                assertTrue(!d.harvest(), "a disabled ring is not processed");
                f.setVringEnable(0, true);
                waitFor("the echo after SET_VRING_ENABLE 1", d::harvest);
            }
        }
    }

    @Test
    void ringsStartEnabledWithoutProtocolFeatures() {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("legacy.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            f.setOwner();
            long offered = f.getFeatures();
            f.setFeatures(offered & SPLIT); // bit 30 not acknowledged
            f.setMemTable(mem);
            try (LoopbackDriver d = new LoopbackDriver(f, mem, 0, 64, false)) {
                d.transfer(1000, 10_000);
            }
        }
    }

    @Test
    void nofdKickMeansTheBackendPolls() {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("nofd.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             VhostUserFrontend f = open(socket, mem, SPLIT, ALL_PROTOCOL);
             LoopbackDriver d = new LoopbackDriver(f, mem, 0, 64, true)) {
            d.transfer(1000, 10_000);
        }
    }

    @Test
    void reconnectServesASecondFrontendWithoutRestart() {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("reconnect.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket)) {
            for (int round = 1; round <= 3; round++) {
                try (FrontendMemory mem = FrontendMemory.create("guest" + round, LoopbackDriver.MEMORY_SIZE);
                     VhostUserFrontend f = open(socket, mem, round == 2 ? PACKED : SPLIT, ALL_PROTOCOL);
                     LoopbackDriver d = new LoopbackDriver(f, mem, 0, 128, false)) {
                    d.transfer(5000, 10_000);
                }
                int ended = round;
                waitFor("session " + round + " to end", () -> backend.endedSessions() == ended);
                assertEquals(round, device.resets.get(), "the device is reset after each front-end");
            }
            assertEquals(3, backend.sessions());
        }
    }

    @Test
    void clientModeConnectsToAListeningFrontendAndReconnects() throws Exception {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("client.sock");
        try (UnixSocket listener = UnixSocket.listen(socket, 1);
             VhostUserBackend backend = VhostUserBackend.builder(device, lcore).connect(socket)) {
            for (int round = 0; round < 2; round++) {
                try (FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
                     VhostUserFrontend f = VhostUserFrontend.over(listener.accept())) {
                    f.negotiate(SPLIT, ALL_PROTOCOL);
                    f.setMemTable(mem);
                    try (LoopbackDriver d = new LoopbackDriver(f, mem, 0, 64, false)) {
                        d.transfer(2000, 10_000);
                    }
                }
            }
        }
    }

    @Test
    void memoryTableSwapIsAcknowledgedByTheLcoreBeforeOldRegionsAreUnmapped() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        MemoryTableObserver observer = new MemoryTableObserver() {
            @Override
            public void lcoreAcknowledged(io.ringway.vhost.virtio.GuestMemory memory) {
                events.add("ack:" + Thread.currentThread().getName());
            }

            @Override
            public void oldRegionsUnmapped(int count) {
                events.add("unmapped:" + count);
            }
        };
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("swap.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).memoryObserver(observer).listen(socket);
             FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
             SharedRegion extra = SharedRegion.create("hotplug", 1 << 20);
             VhostUserFrontend f = open(socket, mem, SPLIT, ALL_PROTOCOL);
             LoopbackDriver d = new LoopbackDriver(f, mem, 0, 256, false)) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread traffic = Thread.ofPlatform().start(() -> {
                try {
                    d.transfer(50_000, 30_000);
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            events.clear();
            FrontendMemory.Region hotplug = new FrontendMemory.Region(extra, 0x4000_0000L);
            for (int i = 0; i < 10 && traffic.isAlive(); i++) {
                f.setMemTable(mem); // the same memory again: new mappings, old ones unmapped
                f.addMemReg(hotplug);
                f.remMemReg(hotplug.tableEntry());
            }
            traffic.join();
            if (failure.get() != null) {
                throw new AssertionError("traffic failed during memory table swaps", failure.get());
            }
            assertTrue(events.size() >= 6, "swaps happened: " + events);
            for (int i = 0; i + 1 < events.size(); i += 2) {
                assertEquals("ack:lcore-backend-test", events.get(i), "the lcore acknowledges first: " + events);
                assertTrue(events.get(i + 1).startsWith("unmapped:"), "then old regions are unmapped: " + events);
            }
            assertEquals(1, backend.currentMemory().regionCount());
        }
    }

    @Test
    void getConfigAndSetConfigReachTheDevice() {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("config.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            f.negotiate(SPLIT, ALL_PROTOCOL);
            assertArrayEquals(new byte[] {(byte) 0xa2, (byte) 0xa3, (byte) 0xa4}, f.getConfig(2, 3));
            f.setConfig(4, new byte[] {1, 2});
            assertArrayEquals(new byte[] {(byte) 0xa3, 1, 2, (byte) 0xa6}, f.getConfig(3, 4));
            assertThrows(VhostUserFrontendException.class, () -> f.setConfig(15, new byte[] {1, 2}),
                    "a write the device rejects gets a non-zero REPLY_ACK");
            assertEquals(1, f.getQueueNum());
            assertEquals(32, f.getMaxMemSlots());
        }
    }

    @Test
    void netHooksReceiveRarpAndMtu() {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("hooks.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            f.negotiate(SPLIT, ALL_PROTOCOL);
            f.netSetMtu(9000);
            f.sendRarp(new byte[] {2, 0, 0, 0, 0, 7});
            f.setStatus(0xf);
            assertEquals(0xf, f.getStatus());
            assertEquals(9000, device.mtu);
            assertArrayEquals(new byte[] {2, 0, 0, 0, 0, 7}, device.rarpMac);
        }
    }

    @Test
    void requestWithoutItsProtocolFeatureFailsWithAClearError() {
        EchoDevice device = new EchoDevice(1, 1024);
        Path socket = dir.resolve("nofeature.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            long replyAckOnly = VhostUserProtocolFeature.REPLY_ACK.mask();
            f.negotiate(SPLIT, replyAckOnly);
            VhostUserFrontendException e = assertThrows(VhostUserFrontendException.class, () -> f.setStatus(1));
            assertTrue(e.getMessage().contains("SET_STATUS failed"), e.getMessage());
            // The session goes on.
            assertEquals(SPLIT | (1L << 30), f.getFeatures() & (SPLIT | (1L << 30)));
        }
    }

    @Test
    void inflightAreaAskedForBeforeSetFeaturesFitsThePackedLayout() {
        EchoDevice device = new EchoDevice(2, 1024);
        Path socket = dir.resolve("inflight-early.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            // QEMU's order: protocol features, then GET_INFLIGHT_FD, then SET_FEATURES.
            f.setOwner();
            f.getFeatures();
            f.setProtocolFeatures(f.getProtocolFeatures() & ALL_PROTOCOL);
            VhostUserFrontend.Inflight inflight = f.getInflightFd(2, 128);
            try {
                // Packed: 32-byte header + 32 bytes per descriptor, each queue rounded to 64.
                assertEquals(2 * (32 + 32 * 128 + 32), inflight.description().mmapSize());
            } finally {
                io.ringway.runtime.sys.LibC.closeQuietly(inflight.fd());
            }
        }
    }

    @Test
    void inflightAreaIsSizedForQueuesTimesQueueSize() {
        EchoDevice device = new EchoDevice(2, 1024);
        Path socket = dir.resolve("inflight.sock");
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).listen(socket);
             VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            f.negotiate(SPLIT, ALL_PROTOCOL);
            VhostUserFrontend.Inflight inflight = f.getInflightFd(2, 128);
            try {
                // Split: 16-byte header + 16 bytes per descriptor, each queue rounded to 64.
                assertEquals(2 * (16 + 16 * 128 + 48), inflight.description().mmapSize());
                assertEquals(0, inflight.description().mmapOffset());
                assertEquals(inflight.description().mmapSize(),
                        io.ringway.runtime.sys.LibC.lseek(inflight.fd(), 0, io.ringway.runtime.sys.LibC.SEEK_END));
                assertNotNull(backend.inflightArea());
                f.setInflightFd(inflight.description(), inflight.fd());
            } finally {
                io.ringway.runtime.sys.LibC.closeQuietly(inflight.fd());
            }
        }
    }
}

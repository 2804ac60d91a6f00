package io.ringway.vhost.backend;

import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.UnixSocket;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.protocol.VhostUserRequest;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile front-ends: each test breaks one rule and checks that the back-end closes the connection
 * with a message naming the rule, resets, and serves the next front-end; the last tests check that
 * a thousand such sessions leak no fd and no mapping, and that other back-ends keep working.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VhostUserBackendBadInputTest {
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final long SPLIT = EchoDevice.FEATURES & ~VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
    static final int NEED_REPLY = 0x8;

    static Lcore lcore;

    @TempDir
    Path dir;
    Path socket;
    VhostUserBackend backend;
    FrontendMemory memory;

    @BeforeAll
    static void startLcore() {
        lcore = Lcore.builder("bad-input").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void stopLcore() {
        lcore.close();
    }

    @BeforeEach
    void startBackend() {
        socket = dir.resolve("bad.sock");
        backend = VhostUserBackend.builder(new EchoDevice(2, 256), lcore).name("bad").listen(socket);
        memory = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
    }

    @AfterEach
    void stopBackend() {
        backend.close();
        memory.close();
    }

    // ------------------------------------------------------------------ helpers

    /** A raw message: header fields as given, then the payload bytes. */
    static void sendRaw(UnixSocket s, int request, int flags, int size, byte[] payload, int... fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(12 + payload.length);
            m.set(U32, 0, request);
            m.set(U32, 4, flags);
            m.set(U32, 8, size);
            MemorySegment.copy(payload, 0, m, ValueLayout.JAVA_BYTE, 12, payload.length);
            s.send(m, fds);
        }
    }

    static byte[] u64s(long... values) {
        MemorySegment m = MemorySegment.ofArray(new byte[values.length * 8]);
        for (int i = 0; i < values.length; i++) {
            m.set(U64, i * 8L, values[i]);
        }
        return m.toArray(ValueLayout.JAVA_BYTE);
    }

    /** SET_MEM_TABLE payload: num regions, padding, then (gpa, size, uaddr, offset) per region. */
    static byte[] memTable(long[]... regions) {
        long[] all = new long[1 + regions.length * 4];
        all[0] = regions.length;
        for (int i = 0; i < regions.length; i++) {
            System.arraycopy(regions[i], 0, all, 1 + i * 4, 4);
        }
        return u64s(all);
    }

    static byte[] vringState(int index, int num) {
        MemorySegment m = MemorySegment.ofArray(new byte[8]);
        m.set(U32, 0, index);
        m.set(U32, 4, num);
        return m.toArray(ValueLayout.JAVA_BYTE);
    }

    /** Reads until EOF (closing any fds that arrive); returns the bytes seen. */
    static int drainUntilClosed(UnixSocket s) {
        int total = 0;
        int[] fds = new int[8];
        int[] count = new int[1];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(4096);
            while (true) {
                int n;
                try {
                    n = s.receive(buffer, fds, count);
                } catch (io.ringway.runtime.sys.LinuxException e) {
                    // ECONNRESET: the back-end closed with our bytes still unread. Closed all the same.
                    return total;
                }
                for (int i = 0; i < count[0]; i++) {
                    LibC.closeQuietly(fds[i]);
                }
                if (n == 0) {
                    return total;
                }
                total += n;
            }
        }
    }

    /** Thrown by a misbehaving front-end that closed its own socket. */
    static final class ClosedByFrontend extends RuntimeException {
        private static final long serialVersionUID = 1L;
    }

    /** Runs one session that breaks a rule and checks that the back-end closed it naming the rule. */
    void expectClosed(SessionRule rule, Consumer<VhostUserFrontend> misbehave) {
        long ended = backend.endedSessions();
        try (VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            try {
                misbehave.accept(f);
                drainUntilClosed(f.socket());
            } catch (ClosedByFrontend done) {
                // the socket is gone: nothing to drain
            } catch (RuntimeException expected) {
                // The back-end may close before the front-end finished sending or reading.
                drainUntilClosed(f.socket());
            }
        }
        VhostUserBackendTest.waitFor("the session to end", () -> backend.endedSessions() == ended + 1);
        String reason = backend.lastCloseReason();
        assertTrue(reason.startsWith(rule.name() + ":"), "closed for " + rule + ", got: " + reason);
    }

    /** A fresh front-end gets full service after the bad one. */
    void nextFrontendWorks() {
        try (VhostUserFrontend f = VhostUserBackendTest.open(socket, memory, SPLIT, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
             LoopbackDriver d = new LoopbackDriver(f, memory, 0, 64, false)) {
            d.transfer(200, 10_000);
        }
    }

    void negotiate(VhostUserFrontend f) {
        f.negotiate(SPLIT, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
    }

    // ------------------------------------------------------------------ one test per rule

    @Test
    void oversizedMessageClosesTheConnection() {
        expectClosed(SessionRule.MALFORMED_MESSAGE, f -> sendRaw(f.socket(), VhostUserRequest.GET_FEATURES.code(), 1, 5000, new byte[0]));
        assertTrue(backend.lastCloseReason().contains("exceeds the limit"), backend.lastCloseReason());
        nextFrontendWorks();
    }

    @Test
    void payloadSizeNotMatchingTheRequestClosesTheConnection() {
        expectClosed(SessionRule.MALFORMED_MESSAGE, f -> sendRaw(f.socket(), VhostUserRequest.SET_FEATURES.code(), 1, 4, new byte[4]));
        assertTrue(backend.lastCloseReason().contains("payload must be 8 bytes"), backend.lastCloseReason());
        nextFrontendWorks();
    }

    @Test
    void fdCountNotMatchingTheRequestClosesTheConnection() {
        SharedRegion region = memory.regions().get(0).region();
        expectClosed(SessionRule.MALFORMED_MESSAGE, f -> {
            negotiate(f);
            byte[] table = memTable(new long[] {0, region.size(), region.segment().address(), 0});
            sendRaw(f.socket(), VhostUserRequest.SET_MEM_TABLE.code(), 1, table.length, table, region.fd(), region.fd());
        });
        assertTrue(backend.lastCloseReason().contains("expected 1 fds, got 2"), backend.lastCloseReason());
        nextFrontendWorks();
    }

    @Test
    void memoryRegionsOverlappingInOneTableCloseTheConnection() {
        SharedRegion region = memory.regions().get(0).region();
        long base = region.segment().address();
        expectClosed(SessionRule.MALFORMED_MESSAGE, f -> {
            negotiate(f);
            byte[] table = memTable(new long[] {0, 1 << 20, base, 0}, new long[] {0x8_0000, 1 << 20, base + (2 << 20), 0});
            sendRaw(f.socket(), VhostUserRequest.SET_MEM_TABLE.code(), 1, table.length, table, region.fd(), region.fd());
        });
        assertTrue(backend.lastCloseReason().contains("overlap"), backend.lastCloseReason());
        nextFrontendWorks();
    }

    @Test
    void addedMemoryRegionOverlappingTheTableClosesTheConnection() {
        try (SharedRegion other = SharedRegion.create("other", 1 << 20)) {
            expectClosed(SessionRule.MEMORY_REGIONS_OVERLAP, f -> {
                negotiate(f);
                f.setMemTable(memory);
                f.addMemReg(new FrontendMemory.Region(other, 0x10_0000)); // inside [0, 16 MiB)
            });
        }
        nextFrontendWorks();
    }

    @Test
    void memoryRegionOfZeroSizeClosesTheConnection() {
        SharedRegion region = memory.regions().get(0).region();
        expectClosed(SessionRule.MALFORMED_MESSAGE, f -> {
            negotiate(f);
            byte[] table = memTable(new long[] {0, 0, region.segment().address(), 0});
            sendRaw(f.socket(), VhostUserRequest.SET_MEM_TABLE.code(), 1, table.length, table, region.fd());
        });
        assertTrue(backend.lastCloseReason().contains("size 0"), backend.lastCloseReason());
        nextFrontendWorks();
    }

    @Test
    void memoryRegionWithOffsetPastTheEndOfItsFdClosesTheConnection() {
        try (SharedRegion small = SharedRegion.create("small", 1 << 20)) {
            expectClosed(SessionRule.MEMORY_REGION_PAST_FD_END, f -> {
                negotiate(f);
                byte[] table = memTable(new long[] {0, 1 << 20, small.segment().address(), 4096});
                sendRaw(f.socket(), VhostUserRequest.SET_MEM_TABLE.code(), 1, table.length, table, small.fd());
            });
        }
        nextFrontendWorks();
    }

    @Test
    void memoryRegionWhoseFdIsNotMemoryClosesTheConnection() {
        // An eventfd sizes as 0 bytes: nothing of it can be mapped.
        try (var eventFd = io.ringway.runtime.sys.EventFd.create(true)) {
            expectClosed(SessionRule.MEMORY_REGION_PAST_FD_END, f -> {
                negotiate(f);
                byte[] table = memTable(new long[] {0, 1 << 20, 0x7000_0000_0000L, 0});
                sendRaw(f.socket(), VhostUserRequest.SET_MEM_TABLE.code(), 1, table.length, table, eventFd.fd());
            });
        }
        nextFrontendWorks();
    }

    @Test
    void vringAddressOutsideMemoryClosesTheConnection() {
        expectClosed(SessionRule.RING_OUTSIDE_MEMORY, f -> {
            negotiate(f);
            f.setMemTable(memory);
            f.setVringNum(0, 64);
            long base = memory.regions().get(0).userAddr();
            f.setVringAddr(0, base + LoopbackDriver.MEMORY_SIZE - 512, base + 0x2000, base + 0x1000);
        });
        nextFrontendWorks();
    }

    @Test
    void vringAddressMisalignedClosesTheConnection() {
        expectClosed(SessionRule.RING_MISALIGNED, f -> {
            negotiate(f);
            f.setMemTable(memory);
            f.setVringNum(0, 64);
            long base = memory.regions().get(0).userAddr();
            f.setVringAddr(0, base + 0x1008, base + 0x4000, base + 0x3000);
        });
        nextFrontendWorks();
    }

    @Test
    void queueSizeZeroClosesTheConnection() {
        expectClosed(SessionRule.QUEUE_SIZE_ZERO, f -> {
            negotiate(f);
            f.setVringNum(0, 0);
        });
        nextFrontendWorks();
    }

    @Test
    void queueSizeNotAPowerOfTwoClosesTheConnection() {
        expectClosed(SessionRule.QUEUE_SIZE_NOT_POWER_OF_TWO, f -> {
            negotiate(f);
            f.setVringNum(0, 100);
        });
        nextFrontendWorks();
    }

    @Test
    void queueSizeAboveTheMaximumClosesTheConnection() {
        expectClosed(SessionRule.QUEUE_SIZE_TOO_LARGE, f -> {
            negotiate(f);
            f.setVringNum(0, 512); // the device offers 256
        });
        nextFrontendWorks();
    }

    @Test
    void setVringBaseBeyondTheRingClosesTheConnection() {
        expectClosed(SessionRule.VRING_BASE_OUT_OF_RANGE, f -> {
            negotiate(f);
            f.setVringNum(0, 64);
            f.setVringBase(0, 0x1_0000);
        });
        expectClosed(SessionRule.VRING_BASE_OUT_OF_RANGE, f -> {
            f.negotiate(EchoDevice.FEATURES, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES); // packed
            f.setVringNum(0, 100);
            f.setVringBase(0, 100 | (1 << 15));
        });
        expectClosed(SessionRule.VRING_BASE_OUT_OF_RANGE, f -> {
            f.negotiate(EchoDevice.FEATURES, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES); // packed
            f.setVringNum(0, 100);
            // vhost-user.rst: packed rings get the used position in bits 16-30.
            f.setVringBase(0, 5 | (1 << 15) | (100 << 16));
        });
        nextFrontendWorks();
    }

    @Test
    void frontendClosingMidMessageResetsTheDevice() {
        SharedRegion region = memory.regions().get(0).region();
        expectClosed(SessionRule.CLOSED_MID_MESSAGE, f -> {
            negotiate(f);
            byte[] table = memTable(new long[] {0, region.size(), region.segment().address(), 0});
            byte[] half = java.util.Arrays.copyOf(table, 10);
            sendRaw(f.socket(), VhostUserRequest.SET_MEM_TABLE.code(), 1, table.length, half, region.fd());
            f.socket().close();
            throw new ClosedByFrontend();
        });
        nextFrontendWorks();
    }

    @Test
    void unknownRequestGetsAFailureAckAndTheSessionGoesOn() {
        try (VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5));
             Arena arena = Arena.ofConfined()) {
            sendRaw(f.socket(), 99, 1 | NEED_REPLY, 8, u64s(42));
            MemorySegment reply = arena.allocate(20);
            f.socket().receiveFully(reply);
            assertEquals(99, reply.get(U32, 0));
            assertEquals(0x5, reply.get(U32, 4), "version 1 with the REPLY flag");
            assertEquals(1, reply.get(U64, 12), "non-zero status: failed");
            negotiate(f);
            assertTrue(f.getFeatures() != 0, "the session goes on");
            assertEquals(0, backend.endedSessions());
        }
    }

    /**
     * Asserts the fd count is back to {@code baseline} after {@code sessions} sessions. A session's
     * fds are closed by the back-end's connection thread just after the front-end sees the end,
     * and the JVM may open a file of its own (a jar, for a class first loaded during the loop), so
     * the count is given a moment to settle and a slack of two fds; a leak of even one fd in a
     * hundred sessions would still exceed it.
     */
    static void assertFdsSettleTo(long baseline, int sessions) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        long now = countFds();
        while (now > baseline && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            now = countFds();
        }
        assertTrue(now <= baseline + 2, "fds after " + sessions + " sessions: " + now + ", before: " + baseline
                + "; open now: " + openFdTargets());
    }

    static String openFdTargets() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.map(p -> {
                try {
                    return p.getFileName() + "->" + Files.readSymbolicLink(p);
                } catch (IOException e) {
                    return p.getFileName() + "->?";
                }
            }).toList().toString();
        } catch (IOException e) {
            return "?";
        }
    }

    static long countFds() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static long countMemfdMappings() {
        try {
            return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("memfd:")).count();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void repeatedGetInflightFdLeaksNoFdAndNoMapping() {
        try (VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            negotiate(f);
            LibC.closeQuietly(f.getInflightFd(2, 256).fd());
            long fds = countFds();
            long maps = countMemfdMappings();
            for (int i = 0; i < 200; i++) {
                VhostUserFrontend.Inflight inflight = f.getInflightFd(2, 256);
                LibC.closeQuietly(inflight.fd());
            }
            assertFdsSettleTo(fds, 200); // each GET_INFLIGHT_FD replaces the previous area (CVE-2020-10726)
            assertEquals(maps, countMemfdMappings());
        }
    }

    /** The kinds of bad session the leak test cycles through; several map memory first. */
    List<Consumer<VhostUserFrontend>> badSessions() {
        SharedRegion region = memory.regions().get(0).region();
        long base = region.segment().address();
        return List.of(
                f -> sendRaw(f.socket(), VhostUserRequest.GET_FEATURES.code(), 1, 5000, new byte[0]),
                f -> sendRaw(f.socket(), VhostUserRequest.SET_MEM_TABLE.code(), 1, 40,
                        memTable(new long[] {0, region.size(), base, 0}), region.fd(), region.fd()),
                f -> {
                    negotiate(f);
                    f.setMemTable(memory);
                    f.setVringNum(0, 64);
                    f.setVringAddr(0, base + 0x1008, base + 0x4000, base + 0x3000);
                },
                f -> {
                    negotiate(f);
                    f.setMemTable(memory);
                    LibC.closeQuietly(f.getInflightFd(2, 64).fd());
                    f.setVringNum(0, 64);
                    f.setVringAddr(0, base + LoopbackDriver.MEMORY_SIZE - 512, base + 0x2000, base + 0x1000);
                },
                f -> {
                    // A running ring, then a request that breaks a rule: the reset stops the poller.
                    negotiate(f);
                    f.setMemTable(memory);
                    new LoopbackDriver(f, memory, 0, 64, false).close();
                    f.setVringNum(1, 3);
                },
                f -> {
                    byte[] table = memTable(new long[] {0, region.size(), base, 0});
                    sendRaw(f.socket(), VhostUserRequest.SET_MEM_TABLE.code(), 1, table.length,
                            java.util.Arrays.copyOf(table, 10), region.fd());
                    f.socket().close();
                    throw new ClosedByFrontend();
                });
    }

    void runBadSession(Consumer<VhostUserFrontend> misbehave) {
        long ended = backend.endedSessions();
        try (VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            try {
                misbehave.accept(f);
                drainUntilClosed(f.socket());
            } catch (ClosedByFrontend done) {
                // the socket is gone: nothing to drain
            } catch (RuntimeException expected) {
                // closed under our feet
                drainUntilClosed(f.socket());
            }
        }
        VhostUserBackendTest.waitFor("the session to end", () -> backend.endedSessions() == ended + 1);
    }

    @Test
    void aThousandBadSessionsLeakNoFdsAndNoMappings() {
        List<Consumer<VhostUserFrontend>> kinds = badSessions();
        kinds.forEach(this::runBadSession); // warm up: class loading opens files
        long fds = countFds();
        long maps = countMemfdMappings();
        long start = System.nanoTime();
        for (int i = 0; i < 1000; i++) {
            runBadSession(kinds.get(i % kinds.size()));
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertFdsSettleTo(fds, 1000);
        assertEquals(maps, countMemfdMappings(), "memfd mappings after 1000 bad sessions");
        assertEquals(1000 + kinds.size(), backend.violations(), "every session ended on a named rule");
        assertTrue(millis < 20_000, "1000 bad sessions took " + millis + " ms");
        nextFrontendWorks();
    }

    @Test
    void otherBackendsKeepServingDuringBadSessions() throws Exception {
        Path goodSocket = dir.resolve("good.sock");
        try (VhostUserBackend good = VhostUserBackend.builder(new EchoDevice(1, 256), lcore).name("good").listen(goodSocket);
             FrontendMemory goodMemory = FrontendMemory.create("good", LoopbackDriver.MEMORY_SIZE);
             VhostUserFrontend f = VhostUserBackendTest.open(goodSocket, goodMemory, SPLIT,
                     VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
             LoopbackDriver d = new LoopbackDriver(f, goodMemory, 0, 128, false)) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread traffic = Thread.ofPlatform().start(() -> {
                try {
                    d.transfer(30_000, 30_000);
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            List<Consumer<VhostUserFrontend>> kinds = badSessions();
            for (int i = 0; i < 120; i++) {
                runBadSession(kinds.get(i % kinds.size()));
            }
            traffic.join();
            if (failure.get() != null) {
                throw new AssertionError("the good back-end stopped serving", failure.get());
            }
            assertEquals(1, good.sessions());
            assertEquals(0, good.endedSessions());
        }
    }
}

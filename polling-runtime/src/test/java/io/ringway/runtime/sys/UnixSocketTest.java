package io.ringway.runtime.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UnixSocketTest {

    @TempDir
    Path dir;

    @Test
    void aReceiveTimeoutEndsAWaitWithNothingToReadAsEagain() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Arena arena = Arena.ofConfined()) {
            b.receiveTimeout(java.time.Duration.ofMillis(50));
            MemorySegment buffer = arena.allocate(16);
            long start = System.nanoTime();
            LinuxException e = assertThrows(LinuxException.class, () -> b.receive(buffer, new int[0], null));
            assertEquals(Errno.EAGAIN, e.errno(), e.getMessage());
            assertTrue(System.nanoTime() - start >= 40_000_000L, "waited for the timeout");

            a.send(arena.allocateFrom(JAVA_BYTE, (byte) 7), new int[0]);
            assertEquals(1, b.receive(buffer, new int[0], null), "data within the timeout still arrives");
            assertThrows(IllegalArgumentException.class, () -> b.receiveTimeout(java.time.Duration.ofMillis(-1)));
        }
    }

    @Test
    void fdsSentWithScmRightsArriveAndWork() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; EventFd efd = EventFd.create(true); Arena arena = Arena.ofConfined()) {
            a.send(arena.allocateFrom(JAVA_BYTE, (byte) 42), new int[] {efd.fd()});

            MemorySegment buffer = arena.allocate(16);
            int[] fds = new int[4];
            int[] count = new int[1];
            assertEquals(1, b.receive(buffer, fds, count));
            assertEquals(42, buffer.get(JAVA_BYTE, 0));
            assertEquals(1, count[0]);
            assertFalse(fds[0] == efd.fd(), "a received fd is a new descriptor");
            try (EventFd received = EventFd.wrap(fds[0])) {
                received.signal();
                assertEquals(1, efd.read());
            }
        }
    }

    @Test
    void surplusFdsBeyondFdsOutAreClosed() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1];
             EventFd e1 = EventFd.create(true); EventFd e2 = EventFd.create(true); EventFd e3 = EventFd.create(true);
             Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocateFrom(JAVA_BYTE, (byte) 1);
            MemorySegment buffer = arena.allocate(1);
            int[] fds = new int[1];
            int[] count = new int[1];
            // Warm up so class loading does not open files during the measured round.
            a.send(one, new int[] {e1.fd()});
            b.receive(buffer, fds, count);
            LibC.close(fds[0]);
            openFdCount();

            long before = openFdCount();
            a.send(one, new int[] {e1.fd(), e2.fd(), e3.fd()});
            assertEquals(1, b.receive(buffer, fds, count));
            assertEquals(1, count[0]);
            assertEquals(before + 1, openFdCount(), "only the one fd that fitted stays open");
            LibC.close(fds[0]);
            assertEquals(before, openFdCount());
        }
    }

    @Test
    void fdsArrivingDuringReceiveFullyAreClosed() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; EventFd e1 = EventFd.create(true); Arena arena = Arena.ofConfined()) {
            MemorySegment payload = arena.allocate(JAVA_LONG, 1);
            payload.set(JAVA_LONG, 0, 77L);
            MemorySegment buffer = arena.allocate(JAVA_LONG, 1);
            a.send(payload, new int[] {e1.fd()});
            b.receiveFully(buffer);
            a.send(payload, new int[] {e1.fd()});
            long before = openFdCount();
            b.receiveFully(buffer);
            assertEquals(before, openFdCount());
            assertEquals(77L, buffer.get(JAVA_LONG, 0));
        }
    }

    @Test
    void aPayloadLargerThanTheSocketBufferArrivesWholeWithTheFdsOnItsFirstByte() throws Exception {
        int size = 4 * 1024 * 1024;
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; EventFd efd = EventFd.create(true); Arena arena = Arena.ofShared()) {
            MemorySegment payload = arena.allocate(size);
            for (int i = 0; i < size; i++) {
                payload.set(JAVA_BYTE, i, (byte) (i * 31));
            }
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    a.send(payload, new int[] {efd.fd()});
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            MemorySegment received = arena.allocate(size);
            int[] fds = new int[2];
            int[] count = new int[1];
            long done = b.receive(received, fds, count);
            assertEquals(1, count[0], "the fds come with the first chunk");
            LibC.close(fds[0]);
            b.receiveFully(received.asSlice(done));
            sender.join();
            assertEquals(null, failure.get());
            assertEquals(-1, payload.mismatch(received));
        }
    }

    @Test
    void receiveReturnsZeroOnOrderlyShutdown() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket b = pair[1]; Arena arena = Arena.ofConfined()) {
            pair[0].close();
            assertEquals(0, b.receive(arena.allocate(8), new int[0], null));
            UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> b.receiveFully(arena.allocate(8)));
            assertTrue(e.getMessage().contains("peer closed after 0 of 8 bytes"), e.getMessage());
        }
    }

    @Test
    void listenAcceptConnectExchangeBytesOverAPath() throws Exception {
        Path path = dir.resolve("s.sock");
        try (UnixSocket server = UnixSocket.listen(path, 4); UnixSocket client = UnixSocket.connect(path);
             UnixSocket accepted = server.accept()) {
            client.send(MemorySegment.ofArray(new byte[] {1, 2, 3}));
            byte[] got = new byte[3];
            accepted.receiveFully(MemorySegment.ofArray(got));
            assertArrayEquals(new byte[] {1, 2, 3}, got);
        }
        assertFalse(Files.exists(path), "closing the listener removes its socket file");
    }

    @Test
    void listenReplacesAStaleSocketFile() {
        Path path = dir.resolve("stale.sock");
        UnixSocket first = UnixSocket.listen(path, 1);
        // Simulate a crash: the fd goes away, the file stays.
        LibC.close(first.fd());
        assertTrue(Files.exists(path));
        try (UnixSocket second = UnixSocket.listen(path, 1); UnixSocket client = UnixSocket.connect(path);
             UnixSocket accepted = second.accept()) {
            assertTrue(accepted.fd() >= 0 && client.fd() >= 0);
        }
    }

    @Test
    void listenRefusesToReplaceAFileThatIsNotASocket() throws IOException {
        Path path = Files.writeString(dir.resolve("precious.txt"), "keep me");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UnixSocket.listen(path, 1));
        assertTrue(e.getMessage().contains("is not a socket"), e.getMessage());
        assertEquals("keep me", Files.readString(path));
    }

    @Test
    void aPathLongerThan107BytesIsAClearError() {
        Path path = dir.resolve("x".repeat(120));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UnixSocket.listen(path, 1));
        assertTrue(e.getMessage().contains("at most 107 bytes"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> UnixSocket.connect(path));
    }

    @Test
    void connectingToNothingNamesConnectAndThePath() {
        Path path = dir.resolve("nobody.sock");
        LinuxException e = assertThrows(LinuxException.class, () -> UnixSocket.connect(path));
        assertEquals("connect", e.call());
        assertEquals("ENOENT", e.errnoName());
        assertTrue(e.argument().contains(path.toString()));
    }

    @Test
    void sendingFdsWithAnEmptyPayloadIsRejected() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]) {
            assertThrows(IllegalArgumentException.class, () -> a.send(MemorySegment.ofArray(new byte[0]), new int[] {b.fd()}));
        }
    }

    static long openFdCount() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}

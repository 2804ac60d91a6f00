package io.ringway.runtime.mem;

import io.ringway.runtime.sys.Epoll;
import io.ringway.runtime.sys.EventFd;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.UnixSocket;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class SharedRegionTest {

    @TempDir
    Path dir;

    @Test
    void bytesWrittenToAMemfdRegionReadBack() {
        try (SharedRegion region = SharedRegion.create("rw", 8192)) {
            assertEquals(8192, region.size());
            assertEquals(8192, region.segment().byteSize());
            assertFalse(region.hugepages());
            region.segment().set(JAVA_LONG, 4096, 0xfeed_face_cafe_beefL);
            assertEquals(0xfeed_face_cafe_beefL, region.segment().get(JAVA_LONG, 4096));
        }
    }

    @Test
    void mappingTheSameFdSeesTheSameBytes() {
        try (SharedRegion region = SharedRegion.create("shared", 4096, SharedRegion.Options.defaults().populate(true));
             SharedRegion second = SharedRegion.map(LibC.dup(region.fd()), 4096)) {
            region.segment().set(JAVA_LONG, 8, 12345L);
            assertEquals(12345L, second.segment().get(JAVA_LONG, 8));
            second.segment().set(JAVA_BYTE, 4095, (byte) 9);
            assertEquals(9, region.segment().get(JAVA_BYTE, 4095));
        }
    }

    @Test
    void aSizeOfZeroOrLessIsRejectedWithTheRule() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SharedRegion.create("zero", 0));
        assertEquals("region size must be positive, got 0", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SharedRegion.create("negative", -1));
    }

    @Test
    void mappingBeyondTheEndOfTheFdIsRejected() {
        try (SharedRegion region = SharedRegion.create("small", 4096)) {
            int copy = LibC.dup(region.fd());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SharedRegion.map(copy, 8192));
            assertTrue(e.getMessage().contains("the file is only 4096 bytes"), e.getMessage());
            LibC.close(copy);
        }
    }

    @Test
    void theSegmentIsInaccessibleAfterClose() {
        SharedRegion region = SharedRegion.create("closed", 4096);
        MemorySegment segment = region.segment();
        region.close();
        region.close();
        assertThrows(IllegalStateException.class, () -> segment.get(JAVA_LONG, 0));
    }

    @Test
    void aHugepageRequestRoundsUpTo2MiBOrFallsBackWithAWarning() {
        List<LogRecord> records = new CopyOnWriteArrayList<>();
        Logger logger = Logger.getLogger(SharedRegion.class.getName());
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                records.add(record);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(capture);
        try (SharedRegion region = SharedRegion.create("huge", 4096, SharedRegion.Options.defaults().hugepages(true))) {
            region.segment().set(JAVA_LONG, 0, 1L);
            if (region.hugepages()) {
                assertEquals(SharedRegion.HUGE_PAGE_SIZE, region.size());
                assertTrue(records.isEmpty());
            } else {
                assertEquals(4096, region.size());
                assertEquals(1, records.size());
                assertEquals(Level.WARNING, records.getFirst().getLevel());
                String message = java.text.MessageFormat.format(records.getFirst().getMessage(), records.getFirst().getParameters());
                assertTrue(message.contains("huge pages requested") && message.contains("nr_hugepages"), message);
            }
        } finally {
            logger.removeHandler(capture);
        }
    }

    @Test
    void aHugepageRegionIsSharedThroughItsFdAndDetectedOnTheReceivingSide() {
        try (SharedRegion region = SharedRegion.create("huge-shared", 3 * SharedRegion.HUGE_PAGE_SIZE + 1,
            SharedRegion.Options.defaults().hugepages(true).populate(true))) {
            Assumptions.assumeTrue(region.hugepages(),
                "needs 4 free 2 MiB huge pages (echo 4 > /proc/sys/vm/nr_hugepages as root)");
            assertEquals(4 * SharedRegion.HUGE_PAGE_SIZE, region.size());
            try (SharedRegion received = SharedRegion.map(LibC.dup(region.fd()), SharedRegion.HUGE_PAGE_SIZE + 8)) {
                assertTrue(received.hugepages());
                assertEquals(SharedRegion.HUGE_PAGE_SIZE + 8, received.segment().byteSize());
                region.segment().set(JAVA_LONG, SharedRegion.HUGE_PAGE_SIZE, 0x5a5aL);
                assertEquals(0x5a5aL, received.segment().get(JAVA_LONG, SharedRegion.HUGE_PAGE_SIZE));
            }
        }
    }

    @Test
    void aChildProcessWritesTheRegionAndSignalsTheEventfdItReceivedOverTheSocket() throws Exception {
        long size = 1024 * 1024;
        Path socketPath = dir.resolve("c.sock");
        Path childLog = dir.resolve("child.log");
        try (UnixSocket server = UnixSocket.listen(socketPath, 1);
             SharedRegion region = SharedRegion.create("two-process", size);
             EventFd done = EventFd.create(true);
             Epoll epoll = Epoll.create(2);
             Arena arena = Arena.ofConfined()) {
            Process child = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"),
                SharedRegionChild.class.getName(),
                socketPath.toString())
                .redirectErrorStream(true)
                .redirectOutput(childLog.toFile())
                .start();
            try {
                epoll.add(server.fd(), Epoll.EPOLLIN, 1);
                if (epoll.await(60_000) != 1) {
                    fail("child did not connect within 60 s: " + childOutput(childLog));
                }
                epoll.remove(server.fd());
                try (UnixSocket peer = server.accept()) {
                    MemorySegment header = arena.allocate(JAVA_LONG);
                    header.set(JAVA_LONG, 0, size);
                    peer.send(header, new int[] {region.fd(), done.fd()});

                    epoll.add(done.fd(), Epoll.EPOLLIN, 2);
                    int ready = epoll.await(60_000);
                    assertEquals(1, ready, () -> "no signal from the child within 60 s: " + childOutput(childLog));
                    assertEquals(2, epoll.data(0));
                    assertEquals(1, done.read());
                }
                MemorySegment memory = region.segment();
                for (long i = 0; i < size; i++) {
                    if (memory.get(JAVA_BYTE, i) != SharedRegionChild.pattern(i)) {
                        fail("byte " + i + " is " + memory.get(JAVA_BYTE, i) + ", expected " + SharedRegionChild.pattern(i));
                    }
                }
                assertTrue(child.waitFor(60, TimeUnit.SECONDS), "child did not exit");
                assertEquals(0, child.exitValue(), () -> childOutput(childLog));
            } finally {
                child.destroyForcibly();
            }
        }
    }

    private static String childOutput(Path log) {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no child output: " + e + ")";
        }
    }
}

package io.ringway.storage.blk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ringway.runtime.sys.LibC;
import io.ringway.storage.interop.BlkBackendMain;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.VirtioFeatures;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * In-flight tracking end to end (vhost-user.rst, "Inflight I/O tracking"): the Ringway front-end
 * drives a virtio-blk back-end in a child process whose file block device holds every request
 * 300 ms; the child is killed with SIGKILL while writes are in flight, a new one is started on the
 * same socket, and the front-end reconnects with the in-flight fd it kept and the same rings.
 * Split and packed rings (each with its own layout of the area).
 */
class InflightRestartTest {
    private static final int WRITE = 4096;
    private static final int ACKED = 6;
    private static final int PENDING = 8;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void requestsInFlightAtASigkillAreResubmittedAndAcknowledgedWritesSurvive(boolean packed) throws Exception {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        Path socket = dir.resolve("blk.sock");
        Process first = startChild(socket, image, dir.resolve("child-1.log"));
        Process second = null;
        VhostUserFrontend before = null;
        VhostUserFrontend after = null;
        VhostUserFrontend.Inflight inflight = null;
        try (FrontendMemory memory = FrontendMemory.create("guest", BlkDriver.MEMORY_SIZE)) {
            before = connect(socket, packed);
            inflight = before.getInflightFd(1, 128);
            before.setInflightFd(inflight.description(), inflight.fd());
            before.setMemTable(memory);
            BlkDriver driver = new BlkDriver(before, memory, 0, 128);
            Map<Integer, Integer> slotOfId = new HashMap<>();
            boolean[] done = new boolean[ACKED + PENDING];

            // Acknowledged before the kill.
            for (int s = 0; s < ACKED; s++) {
                slotOfId.put(write(driver, s), s);
            }
            for (int i = 0; i < ACKED; i++) {
                complete(driver, slotOfId, done);
            }
            // In flight at the kill: the child holds each for 300 ms.
            for (int s = ACKED; s < ACKED + PENDING; s++) {
                slotOfId.put(write(driver, s), s);
            }
            TimeUnit.MILLISECONDS.sleep(100);
            first.destroyForcibly(); // SIGKILL
            assertTrue(first.waitFor(10, TimeUnit.SECONDS));
            int seenBeforeKill = 0;
            for (boolean d : done) {
                seenBeforeKill += d ? 1 : 0;
            }
            long early;
            while ((early = driver.pollUsedOnce()) >= 0) {
                // A request the child finished just before dying was published: acknowledged.
                markDone(slotOfId, done, early, driver);
                seenBeforeKill++;
            }
            assertTrue(seenBeforeKill < ACKED + PENDING, "nothing was in flight at the kill");

            second = startChild(socket, image, dir.resolve("child-2.log"));
            after = connect(socket, packed);
            after.setInflightFd(inflight.description(), inflight.fd());
            after.setMemTable(memory);
            // The front-end's own view: everything it saw used (QEMU sends its used idx too).
            driver.restart(after, memory, seenBeforeKill);
            int missing = ACKED + PENDING - seenBeforeKill;
            for (int i = 0; i < missing; i++) {
                complete(driver, slotOfId, done);
            }
            // Exactly once: nothing more arrives (a second used entry for an id throws in pollUsed).
            TimeUnit.MILLISECONDS.sleep(700);
            assertEquals(-1, driver.pollUsedOnce(), "a request completed twice");
            for (int s = 0; s < done.length; s++) {
                assertTrue(done[s], "request " + s + " never completed");
            }
            assertTrue(Files.readString(dir.resolve("child-2.log"), StandardCharsets.ISO_8859_1)
                    .matches("(?s).*resubmitting [1-9].*"), "no resubmission logged");

            // Every write is on disk (the file outlives both children), each with its own pattern.
            byte[] disk = Files.readAllBytes(image);
            for (int s = 0; s < ACKED + PENDING; s++) {
                assertArrayEquals(pattern(s), Arrays.copyOfRange(disk, sector(s) * 512, sector(s) * 512 + WRITE),
                        "write " + s + " is not on disk");
            }
        } finally {
            if (before != null) {
                before.close();
            }
            if (after != null) {
                after.close();
            }
            if (inflight != null) {
                LibC.closeQuietly(inflight.fd());
            }
            first.destroyForcibly();
            if (second != null) {
                second.getOutputStream().close();
                if (!second.waitFor(10, TimeUnit.SECONDS)) {
                    second.destroyForcibly();
                }
            }
        }
    }

    private static VhostUserFrontend connect(Path socket, boolean packed) {
        VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(10));
        long wanted = ~VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);
        if (!packed) {
            wanted &= ~VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
        }
        f.negotiate(wanted, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
        assertEquals(packed, VirtioFeatures.has(f.features(), VirtioFeatures.RING_PACKED), "ring layout negotiated");
        return f;
    }

    private static int sector(int slot) {
        return 64 + slot * 16;
    }

    private static byte[] pattern(int slot) {
        byte[] b = new byte[WRITE];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (slot * 31 + i * 7 + 1);
        }
        return b;
    }

    private static int write(BlkDriver d, int slot) {
        MemorySegment data = d.gpa(d.data(slot), WRITE);
        data.copyFrom(MemorySegment.ofArray(pattern(slot)));
        return d.postRequest(slot, VirtioBlk.T_OUT, sector(slot), WRITE, 1, false);
    }

    private static void complete(BlkDriver d, Map<Integer, Integer> slotOfId, boolean[] done) {
        markDone(slotOfId, done, d.awaitUsed(), d);
    }

    private static void markDone(Map<Integer, Integer> slotOfId, boolean[] done, long used, BlkDriver d) {
        int id = (int) (used >>> 32);
        Integer slot = slotOfId.remove(id);
        assertTrue(slot != null, "used id " + id + " was not submitted or completed twice");
        assertEquals(VirtioBlk.S_OK, d.statusByte(slot), "status of write " + slot);
        assertEquals(false, done[slot], "write " + slot + " completed twice");
        done[slot] = true;
    }

    private static Process startChild(Path socket, Path image, Path log) throws Exception {
        Process p = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"),
                BlkBackendMain.class.getName(), socket.toString(), image.toString(), "1", "fixed:300ms")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        awaitLog(log, "READY", 30_000);
        return p;
    }

    private static void awaitLog(Path file, String regex, long millis) throws Exception {
        java.util.regex.Pattern pattern = java.util.regex.Pattern.compile(regex);
        long deadline = System.nanoTime() + millis * 1_000_000;
        do {
            if (Files.exists(file) && pattern.matcher(Files.readString(file, StandardCharsets.ISO_8859_1)).find()) {
                return;
            }
            if (millis == 0) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("no '" + regex + "' in " + file + " within " + millis + " ms");
    }
}

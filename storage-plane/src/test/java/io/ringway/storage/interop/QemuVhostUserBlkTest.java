package io.ringway.storage.interop;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.bdev.FileBlockDevice;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.storage.blk.BlkMetrics;
import io.ringway.storage.blk.VirtioBlk;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Interop with a real virtio-blk driver: a Linux guest under QEMU (TCG) with
 * {@code -device vhost-user-blk-pci} on Ringway's back-end (in this JVM) runs fio with
 * {@code --verify=crc32c} over the first MiBs of /dev/vda. Skips with a message when QEMU, a
 * kernel, busybox, cpio or fio are missing (.ci/run installs them). Console logs go to
 * target/qemu-interop/NAME.console.log.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class QemuVhostUserBlkTest {
    static final long DISK = 64L << 20;
    static final int REGION_MB = 16;
    static final long REGION = (long) REGION_MB << 20;
    static Lcore lcore;

    @TempDir
    Path dir;

    @BeforeAll
    static void setUp() throws Exception {
        Optional<String> missing = QemuGuest.missingPeers();
        missing.ifPresent(System.out::println);
        assumeTrue(missing.isEmpty(), missing.orElse(""));
        QemuGuest.initramfs();
        lcore = Lcore.builder("qemu-blk").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void tearDown() {
        if (lcore != null) {
            lcore.close();
        }
    }

    private static Path consoleLog(TestInfo info) throws IOException {
        Path d = Path.of("target", "qemu-interop").toAbsolutePath();
        Files.createDirectories(d);
        return d.resolve(info.getTestMethod().orElseThrow().getName() + ".console.log");
    }

    /** Serves {@code device} on a socket in the temp dir for one guest run. */
    private QemuGuest.Run boot(VirtioBlkDevice device, QemuGuest.Launch launch, TestInfo info) throws Exception {
        try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).name("qemu-blk").listen(dir.resolve("blk.sock"))) {
            QemuGuest.Run run = launch.run(consoleLog(info));
            System.out.println(info.getDisplayName() + ": " + run.summary());
            assertFalse(run.timedOut(), () -> "guest did not power off in time (backend " + backend + "); " + run.summary());
            assertEquals("0", run.find("PEERS_MARKER job-exit=(\\d+)"), run::summary);
            return run;
        }
    }

    private static long sum(VirtioBlkDevice d, ToLongFunction<BlkMetrics> f) {
        return d.metrics().stream().mapToLong(f).sum();
    }

    private void assertVerified(QemuGuest.Run run, VirtioBlkDevice device, int queues) {
        assertEquals("0", run.find("RINGWAY_RESULT mode=verify fio_rc=(\\d+)"),
                () -> "fio --verify=crc32c failed in the guest; " + run.summary());
        assertEquals(Integer.toString(queues), run.find("RINGWAY_DISK .*hwqueues=(\\d+)"), run::summary);
        assertTrue(sum(device, BlkMetrics::bytesWritten) >= REGION, "the back-end saw the pattern written");
        assertTrue(sum(device, BlkMetrics::bytesRead) >= REGION, "the back-end saw the pattern read back");
        assertEquals(0, sum(device, BlkMetrics::errors), "requests the back-end failed");
    }

    @Test
    void guestWritesAndVerifiesAPatternOnAMallocDisk(TestInfo info) throws Exception {
        try (MallocBlockDevice bdev = new MallocBlockDevice("m0", DISK, 512, false);
             VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).queues(1).build()) {
            QemuGuest.Run run = boot(device, new QemuGuest.Launch(dir.resolve("blk.sock"))
                    .param("peers.mode=verify").param("peers.mb=" + REGION_MB), info);
            assertVerified(run, device, 1);
        }
    }

    @Test
    void guestWritesAndVerifiesAPatternOverAPackedRing(TestInfo info) throws Exception {
        try (MallocBlockDevice bdev = new MallocBlockDevice("m0", DISK, 512, false);
             VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).queues(1).build()) {
            QemuGuest.Run run = boot(device, new QemuGuest.Launch(dir.resolve("blk.sock")).packed()
                    .param("peers.mode=verify").param("peers.mb=" + REGION_MB), info);
            assertVerified(run, device, 1);
            assertTrue(VirtioFeatures.has(device.negotiatedFeatures(), VirtioFeatures.RING_PACKED),
                    "the guest driver did not negotiate VIRTIO_F_RING_PACKED");
        }
    }

    @Test
    void guestWritesAndVerifiesAPatternOnAFileDisk(TestInfo info) throws Exception {
        Path image = dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(DISK);
        }
        try (BlockDevice bdev = FileBlockDevice.open("f0", image, false, false, 512, FileBlockDevice.Engine.AUTO);
             VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).queues(1).build()) {
            QemuGuest.Run run = boot(device, new QemuGuest.Launch(dir.resolve("blk.sock"))
                    .param("peers.mode=verify").param("peers.mb=" + REGION_MB), info);
            assertVerified(run, device, 1);
        }
        // The data is in the file: every 4 KiB block of the region carries fio's verify header, nothing beyond it.
        byte[] all = Files.readAllBytes(image);
        for (int off = 0; off < REGION; off += 4096) {
            assertFalse(isZero(all, off, 4096), "block at " + off + " of the region was never written to the file");
        }
        assertTrue(isZero(all, (int) REGION, (int) (DISK - REGION)), "bytes beyond the region were written");
    }

    @Test
    void guestWritesAndVerifiesAPatternWithTwoQueues(TestInfo info) throws Exception {
        try (MallocBlockDevice bdev = new MallocBlockDevice("m0", DISK, 512, false);
             VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).queues(2).build()) {
            // Two guest CPUs: virtio_blk uses min(num-queues, CPUs) queues; two fio jobs, one per CPU.
            QemuGuest.Run run = boot(device, new QemuGuest.Launch(dir.resolve("blk.sock")).queues(2).cpus(2)
                    .param("peers.mode=verify").param("peers.mb=" + REGION_MB).param("peers.jobs=2"), info);
            assertVerified(run, device, 2);
            List<BlkMetrics> m = device.metrics();
            for (int q = 0; q < 2; q++) {
                assertTrue(m.get(q).writes() > 0 && m.get(q).reads() > 0,
                        "queue " + q + " served writes and reads: " + m.get(q).writes() + " / " + m.get(q).reads());
            }
        }
    }

    /**
     * A read-only back-end that does not offer VIRTIO_BLK_F_RO, so the guest kernel sends the writes
     * and the device must refuse them: fio sees EIO, the guest reads back the original bytes and the
     * file is unchanged.
     */
    @Test
    void guestWritesToAReadOnlyDiskFailWithIoError(TestInfo info) throws Exception {
        Path image = dir.resolve("ro.img");
        byte[] original = randomImage(image);
        try (BlockDevice bdev = FileBlockDevice.open("ro0", image, false, true, 512, FileBlockDevice.Engine.AUTO);
             VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).readOnly(true)
                     .withoutFeatures(VirtioFeatures.mask(VirtioBlk.F_RO)).build()) {
            QemuGuest.Run run = boot(device, new QemuGuest.Launch(dir.resolve("blk.sock"))
                    .param("peers.mode=ro").param("peers.mb=" + REGION_MB), info);
            assertEquals("0", run.find("RINGWAY_DISK .*ro=(\\d+)"), "the guest was not told the disk is read-only");
            assertNotEquals("0", run.find("RINGWAY_RESULT mode=ro fio_rc=(\\d+)"), () -> "a guest write succeeded; " + run.summary());
            assertEquals("1", run.find("RINGWAY_RESULT .* eio=(\\d)"), () -> "fio did not report an I/O error; " + run.summary());
            assertTrue(sum(device, BlkMetrics::errors) > 0, "the back-end refused the writes");
            assertEquals(0, sum(device, BlkMetrics::bytesWritten), "bytes written through a read-only device");
            assertEquals(md5(original, (int) REGION), run.find("RINGWAY_MD5 (\\w+)"), "the guest reads back the original bytes");
        }
        assertArrayEquals(original, Files.readAllBytes(image), "the read-only image changed");
    }

    /** The same with VIRTIO_BLK_F_RO offered: the guest kernel marks vda read-only and refuses writes itself. */
    @Test
    void guestSeesAReadOnlyDiskAsReadOnly(TestInfo info) throws Exception {
        Path image = dir.resolve("ro.img");
        byte[] original = randomImage(image);
        try (BlockDevice bdev = FileBlockDevice.open("ro0", image, false, true, 512, FileBlockDevice.Engine.AUTO);
             VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).readOnly(true).build()) {
            QemuGuest.Run run = boot(device, new QemuGuest.Launch(dir.resolve("blk.sock"))
                    .param("peers.mode=ro").param("peers.mb=" + REGION_MB), info);
            assertEquals("1", run.find("RINGWAY_DISK .*ro=(\\d+)"), () -> "the guest does not see vda read-only; " + run.summary());
            assertNotEquals("0", run.find("RINGWAY_RESULT mode=ro fio_rc=(\\d+)"), () -> "a guest write succeeded; " + run.summary());
            assertEquals(md5(original, (int) REGION), run.find("RINGWAY_MD5 (\\w+)"), "the guest reads back the original bytes");
        }
        assertArrayEquals(original, Files.readAllBytes(image), "the read-only image changed");
    }

    /**
     * Restart: the back-end (a child process on a file image) is killed with SIGKILL while the guest's
     * fio is writing its pattern, and a new one is started on the same socket; QEMU reconnects
     * ({@code reconnect=1}) and the guest's fio must finish and verify every block.
     * <p>QEMU negotiates INFLIGHT_SHMFD and sends the area back with SET_INFLIGHT_FD; the new
     * back-end resumes each ring at used idx + the heads left in flight and resubmits those first
     * (see InflightRestartTest for the same with the Ringway front-end). QEMU 7.2 also resets its
     * last_avail_idx to the used index when GET_VRING_BASE fails on the dead socket; the back-end
     * does not rely on that value.
     */
    @Test
    void guestIoSurvivesABackendKilledMidWrite(TestInfo info) throws Exception {
        killBackendMidWrite(info, false);
    }

    /** The same over packed rings (packed=on): the packed layout of the in-flight area. */
    @Test
    void guestIoOverAPackedRingSurvivesABackendKilledMidWrite(TestInfo info) throws Exception {
        killBackendMidWrite(info, true);
    }

    /**
     * Up to three kill-and-restart runs: each must end with fio's verify passing, and one of them
     * must have had requests in flight at the kill (resubmitted by the new back-end). The kill
     * follows a back-end STATS line that showed requests in flight, but a TCG guest can pause just
     * then and let them all complete first; such a run proves nothing about resubmission.
     */
    private void killBackendMidWrite(TestInfo info, boolean packed) throws Exception {
        String resumed = "(no run)";
        for (int attempt = 1; attempt <= 3; attempt++) {
            resumed = killBackendMidWriteOnce(info, packed, attempt);
            if (resumed.matches(".*resubmitting [1-9]\\d* in-flight.*")) {
                return;
            }
            System.out.println(info.getDisplayName() + ": attempt " + attempt
                    + ": nothing was in flight at the kill (" + resumed + ")");
        }
        fail("the restarted back-end resubmitted nothing in 3 runs, so the restart proved little: " + resumed);
    }

    /** @return the new back-end's "resubmitting" log line, or "(no resume line)" */
    private String killBackendMidWriteOnce(TestInfo info, boolean packed, int attempt) throws Exception {
        int mb = 64;
        Path image = dir.resolve("restart-" + attempt + ".img");
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(2 * ((long) mb << 20));
        }
        Path socket = dir.resolve("blk-" + attempt + ".sock");
        Path logs = consoleLog(info).getParent();
        String name = (packed ? "restart-packed" : "restart") + "-" + attempt;
        Path log1 = logs.resolve(name + "-backend-1.log");
        Path log2 = logs.resolve(name + "-backend-2.log");
        Process first = startChildBackend(socket, image, log1);
        Process second = null;
        Path console = consoleLog(info);
        QemuGuest.Launch launch = new QemuGuest.Launch(socket).reconnect().timeout(java.time.Duration.ofSeconds(90))
                .param("peers.mode=verify").param("peers.mb=" + mb);
        if (packed) {
            launch.packed();
        }
        try {
            long t0 = System.nanoTime();
            launch.start(console);
            waitFor(console, "RINGWAY_JOB_START", 60_000);
            waitFor(log1, "writes=[1-9]", 20_000);
            TimeUnit.MILLISECONDS.sleep(700);
            // Kill while the back-end holds requests (a TCG guest on a loaded machine pauses now and then).
            long busyBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!lastLine(log1, "STATS").matches(".*in_flight=[1-9].*") && System.nanoTime() < busyBy) {
                TimeUnit.MILLISECONDS.sleep(5);
            }
            String before = Files.readString(console, java.nio.charset.StandardCharsets.ISO_8859_1);
            first.destroyForcibly(); // SIGKILL
            assertTrue(first.waitFor(10, TimeUnit.SECONDS));
            String lastStats = lastLine(log1, "STATS");
            assertFalse(before.contains("RINGWAY_RESULT"), "fio ended before the kill; make the region larger");
            long killedAt = System.nanoTime();
            second = startChildBackend(socket, image, log2);
            QemuGuest.Run run = launch.await(console, t0);
            String secondStats = lastLine(log2, "STATS");
            System.out.println(info.getDisplayName() + ": killed backend after " + lastStats + "; restarted in "
                    + (System.nanoTime() - killedAt) / 1_000_000 + " ms; second backend " + secondStats
                    + "; " + run.summary());
            assertFalse(run.timedOut(), () -> "guest I/O did not complete after the restart; second backend "
                    + secondStats + "; " + run.summary());
            assertEquals("0", run.find("RINGWAY_RESULT mode=verify fio_rc=(\\d+)"),
                    () -> "fio --verify=crc32c failed after the restart; " + run.summary());
            return Files.readAllLines(log2, java.nio.charset.StandardCharsets.ISO_8859_1).stream()
                    .filter(l -> l.contains("resubmitting")).findFirst().orElse("(no resume line)");
        } finally {
            launch.kill();
            first.destroyForcibly();
            if (second != null) {
                second.getOutputStream().close();
                if (!second.waitFor(10, TimeUnit.SECONDS)) {
                    second.destroyForcibly();
                }
            }
        }
    }

    private static Process startChildBackend(Path socket, Path image, Path log) throws Exception {
        Process p = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"),
                // Each request held 2 ms: with fio at iodepth 16 the kill always finds some in flight.
                BlkBackendMain.class.getName(), socket.toString(), image.toString(), "1", "fixed:2ms")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        waitFor(log, "READY", 30_000);
        return p;
    }

    private static void waitFor(Path file, String regex, long millis) throws Exception {
        java.util.regex.Pattern pattern = java.util.regex.Pattern.compile(regex);
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < deadline) {
            if (Files.exists(file) && pattern.matcher(Files.readString(file, java.nio.charset.StandardCharsets.ISO_8859_1)).find()) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        throw new AssertionError("no '" + regex + "' in " + file + " within " + millis + " ms");
    }

    private static String lastLine(Path file, String prefix) throws IOException {
        return Files.readAllLines(file, java.nio.charset.StandardCharsets.ISO_8859_1).stream()
                .filter(l -> l.startsWith(prefix)).reduce((a, b) -> b).orElse("(none)");
    }

    private static byte[] randomImage(Path image) throws IOException {
        byte[] b = new byte[(int) DISK];
        new SplittableRandom(0x5eed).nextBytes(b);
        Files.write(image, b);
        return b;
    }

    static boolean isZero(byte[] b, int off, int len) {
        for (int i = off; i < off + len; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    static String md5(byte[] b, int len) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(Arrays.copyOf(b, len)));
    }
}

package io.ringway.control;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ringway serve} as a child process: SIGTERM under a write load exits 0 and loses no write
 * it acknowledged (checked by reading every one back through a restarted daemon on the same file
 * bdev); a second daemon on the same RPC socket refuses to start.
 */
class ServeSigtermTest {
    static final int DISK_BLOCKS = 16384; // 64 MiB of 4 KiB writes, each to its own place
    static final int DEPTH = 16;

    @TempDir
    Path dir;

    @Test
    void sigtermUnderWriteLoadExitsZeroAndLosesNoAcknowledgedWrite() throws Exception {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength((long) DISK_BLOCKS * BlkWriter.BLOCK);
        }
        Path sock = dir.resolve("c0.sock");
        Path config = dir.resolve("serve.json");
        Files.writeString(config, Json.pretty(Json.parse("{\"bdevs\":[{\"name\":\"F0\",\"type\":\"file\",\"path\":\""
                + image + "\"}],\"vhost_controllers\":[{\"ctrlr\":\"c0\",\"socket\":\"" + sock + "\",\"bdev\":\"F0\"}]}")));
        Path rpc = dir.resolve("rpc.sock");

        Process first = startServe(config, rpc, dir.resolve("serve-1.log"));
        List<Integer> acked = new ArrayList<>();
        int errors = 0;
        int inFlightAtTerm;
        try (BlkWriter w = new BlkWriter(sock)) {
            int[] writeOfSlot = new int[BlkWriter.QUEUE_SIZE];
            int[] slotOfId = new int[BlkWriter.QUEUE_SIZE];
            int[] free = new int[DEPTH];
            int freeCount = 0;
            for (int s = 0; s < DEPTH; s++) {
                free[freeCount++] = s;
            }
            int next = 0;
            long start = System.nanoTime();
            boolean termSent = false;
            inFlightAtTerm = -1;
            long end = Long.MAX_VALUE;
            while (System.nanoTime() < end) {
                while (freeCount > 0 && next < DISK_BLOCKS) {
                    int slot = free[--freeCount];
                    writeOfSlot[slot] = next;
                    slotOfId[w.submit(slot, (long) next * 8, pattern(next))] = slot;
                    next++;
                }
                if (!termSent && freeCount == 0
                        && (acked.size() >= DISK_BLOCKS / 2 || System.nanoTime() - start > 3_000_000_000L)) {
                    inFlightAtTerm = DEPTH - freeCount;
                    first.destroy(); // SIGTERM, with writes in flight
                    termSent = true;
                }
                long used;
                while ((used = w.pollUsed()) >= 0) {
                    int slot = slotOfId[(int) (used >>> 32)];
                    if (w.status(slot) == 0) {
                        acked.add(writeOfSlot[slot]);
                    } else {
                        errors++;
                    }
                    free[freeCount++] = slot;
                }
                if (termSent && !first.isAlive() && end == Long.MAX_VALUE) {
                    end = System.nanoTime() + 200_000_000L; // a last look for completions published before the exit
                }
                Thread.onSpinWait();
            }
        }
        assertTrue(first.waitFor(30, TimeUnit.SECONDS), "serve did not exit after SIGTERM");
        String log1 = Files.readString(dir.resolve("serve-1.log"), StandardCharsets.ISO_8859_1);
        assertEquals(0, first.exitValue(), "exit status after SIGTERM; log:\n" + log1);
        assertTrue(log1.contains("ringway serve: stopped"), log1);
        assertEquals(0, errors, "writes that failed");
        assertTrue(acked.size() > 100, "only " + acked.size() + " writes acknowledged before the SIGTERM");
        System.out.printf("ServeSigtermTest: %d writes acknowledged, %d in flight at SIGTERM%n", acked.size(), inFlightAtTerm);

        // Restart on the same file and read every acknowledged write back through the daemon.
        Process second = startServe(config, rpc, dir.resolve("serve-2.log"));
        try (BlkWriter r = new BlkWriter(sock)) {
            for (int k : acked) {
                assertArrayEquals(pattern(k), r.read((long) k * 8), "acknowledged write " + k + " is not on the disk");
            }
        } finally {
            second.destroy();
            assertTrue(second.waitFor(30, TimeUnit.SECONDS));
        }
        assertEquals(0, second.exitValue());
    }

    @Test
    void aSecondDaemonOnTheSameRpcSocketRefusesToStart() throws Exception {
        Path rpc = dir.resolve("rpc.sock");
        Process first = startServe(null, rpc, dir.resolve("serve-1.log"));
        try {
            Process second = command(null, rpc).redirectErrorStream(true).redirectOutput(dir.resolve("serve-2.log").toFile()).start();
            assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the second daemon did not give up");
            String log = Files.readString(dir.resolve("serve-2.log"), StandardCharsets.ISO_8859_1);
            assertEquals(2, second.exitValue(), log);
            assertTrue(log.contains("another ringway serve is already running on " + rpc), log);
            assertTrue(first.isAlive(), "the first daemon died");
            try (RpcClient c = RpcClient.connect(rpc, java.time.Duration.ofSeconds(10))) {
                assertTrue(c.call("bdev_get_bdevs", null).containsKey("result"), "the first daemon stopped answering");
            }
        } finally {
            first.destroy();
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        }
        assertEquals(0, first.exitValue());
        assertTrue(!Files.exists(rpc), "the RPC socket is removed at exit");
    }

    @Test
    void sighupAppliesTheChangedConfigAsADiff() throws Exception {
        Path config = dir.resolve("serve.json");
        String ctrl = "{\"ctrlr\":\"c0\",\"socket\":\"" + dir.resolve("c0.sock") + "\",\"bdev\":\"M0\"}";
        Files.writeString(config, "{\"bdevs\":[{\"name\":\"M0\",\"type\":\"malloc\",\"size\":\"1M\"}],"
                + "\"vhost_controllers\":[" + ctrl + "]}");
        Path rpc = dir.resolve("rpc.sock");
        Process p = startServe(config, rpc, dir.resolve("serve.log"));
        try (RpcClient c = RpcClient.connect(rpc, java.time.Duration.ofSeconds(10))) {
            Files.writeString(config, "{\"bdevs\":[{\"name\":\"M0\",\"type\":\"malloc\",\"size\":\"1M\"},"
                    + "{\"name\":\"N0\",\"type\":\"null\",\"size\":\"1G\"}],\"vhost_controllers\":[" + ctrl + "]}");
            Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(p.pid())).inheritIO().start();
            assertEquals(0, kill.waitFor());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!c.call("bdev_get_bdevs", null).get("result").toString().contains("name=N0")
                    || !Files.readString(dir.resolve("serve.log"), StandardCharsets.ISO_8859_1).contains("SIGHUP:")) {
                assertTrue(System.nanoTime() < deadline, "N0 not created after SIGHUP; log:\n"
                        + Files.readString(dir.resolve("serve.log"), StandardCharsets.ISO_8859_1));
                TimeUnit.MILLISECONDS.sleep(50);
            }
            String log = Files.readString(dir.resolve("serve.log"), StandardCharsets.ISO_8859_1);
            assertTrue(log.contains("\"created\":[\"bdev N0\"],\"deleted\":[]"), log);
            assertTrue(c.call("vhost_get_controllers", null).get("result").toString().contains("ctrlr=c0"));
        } finally {
            p.destroy();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
        assertEquals(0, p.exitValue());
    }

    static byte[] pattern(int k) {
        ByteBuffer b = ByteBuffer.allocate(BlkWriter.BLOCK);
        for (int i = 0; i < BlkWriter.BLOCK / 8; i++) {
            b.putInt(k).putInt(i ^ 0x5a5a5a5a);
        }
        return b.array();
    }

    private ProcessBuilder command(Path config, Path rpc) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "io.ringway.cli.Main", "serve", "--rpc", rpc.toString(),
                "--allow-dir", dir.toString()));
        if (config != null) {
            cmd.add("--config");
            cmd.add(config.toString());
        }
        return new ProcessBuilder(cmd);
    }

    private Process startServe(Path config, Path rpc, Path log) throws Exception {
        Process p = command(config, rpc).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Pattern ready = Pattern.compile("RPC on ");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            if (Files.exists(log) && ready.matcher(Files.readString(log, StandardCharsets.ISO_8859_1)).find()) {
                return p;
            }
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new AssertionError("serve did not start; log:\n" + Files.readString(log, StandardCharsets.ISO_8859_1));
            }
            TimeUnit.MILLISECONDS.sleep(50);
        }
    }
}

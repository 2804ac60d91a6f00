package io.ringway.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import io.ringway.control.ControlService;
import io.ringway.control.DataPlane;
import io.ringway.control.RpcServer;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ringway rpc}: parameters, the printed reply and the exit status. */
class RpcCommandTest {
    @TempDir
    Path dir;

    record Run(int status, String out, String err) {
    }

    private static Run rpc(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int status = new CommandLine(new RpcCommand()).execute(args);
            return new Run(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void printsTheResultOrTheErrorAsJsonWithTheExitStatusToMatch() throws Exception {
        DataPlane plane = new DataPlane(new int[] {-1}, null, IdlePolicy.backoff(), List.of(dir), 1024, StatsRegistry.process());
        Path sock = dir.resolve("rpc.sock");
        try (RpcServer server = RpcServer.start(sock, new ControlService(plane, null))) {
            Run ok = rpc("bdev_malloc_create", "--param", "name=Malloc0", "--param", "size=1M", "--param", "block_size=4096",
                    "--rpc", sock.toString());
            assertEquals(0, ok.status(), ok.err());
            assertTrue(ok.out().contains("\"name\": \"Malloc0\"") && ok.out().contains("\"block_size\": 4096"), ok.out());

            Run dup = rpc("bdev_null_create", "--json", "{\"name\":\"Malloc0\",\"size\":\"1M\"}", "--rpc", sock.toString());
            assertEquals(1, dup.status());
            assertTrue(dup.out().contains("\"code\": -32001") && dup.out().contains("bdev Malloc0 already exists"), dup.out());

            Run bad = rpc("bdev_delete", "--param", "nameMalloc0", "--rpc", sock.toString());
            assertEquals(2, bad.status());
            assertTrue(bad.err().contains("is not KEY=VALUE"), bad.err());

            Run list = rpc("bdev_get_bdevs", "--rpc", sock.toString());
            assertEquals(0, list.status());
            assertTrue(list.out().trim().startsWith("[") && list.out().contains("Malloc0"), list.out());
        } finally {
            plane.close();
        }
        Run gone = rpc("bdev_get_bdevs", "--rpc", sock.toString());
        assertEquals(3, gone.status());
        assertTrue(gone.err().contains("is ringway serve running?"), gone.err());
    }
}

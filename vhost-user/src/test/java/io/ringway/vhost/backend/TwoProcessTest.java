package io.ringway.vhost.backend;

import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The back-end in a child JVM, the front-end here: guest memory and eventfds cross the process boundary. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TwoProcessTest {
    @TempDir
    Path dir;

    @Test
    void frontendDrivesABackendInAnotherProcessAcrossReconnects() throws Exception {
        Path socket = dir.resolve("child.sock");
        Process child = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED", // Agrona (the lcore's counters)
                "-cp", System.getProperty("java.class.path"),
                BackendMain.class.getName(), socket.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String ready = out.readLine();
            assertTrue(ready != null && ready.startsWith("READY"), "child said: " + ready);
            for (int round = 0; round < 2; round++) {
                try (FrontendMemory mem = FrontendMemory.create("guest", LoopbackDriver.MEMORY_SIZE);
                     VhostUserFrontend f = VhostUserBackendTest.open(socket, mem,
                             round == 0 ? VhostUserBackendTest.SPLIT : VhostUserBackendTest.PACKED,
                             VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
                     LoopbackDriver q0 = new LoopbackDriver(f, mem, 0, 256, false);
                     LoopbackDriver q1 = new LoopbackDriver(f, mem, 1, 256, false)) {
                    q0.transfer(20_000, 30_000);
                    q1.transfer(20_000, 30_000);
                    f.stopVring(0);
                    f.stopVring(1);
                }
            }
            child.getOutputStream().close();
            String summary = out.readLine();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child exits when its stdin closes");
            // The second session may still be ending when stdin closes.
            assertTrue(summary != null && summary.startsWith("SESSIONS 2 "), "child said: " + summary);
            assertEquals(0, child.exitValue());
        } finally {
            child.destroyForcibly();
        }
    }
}

package io.ringway.runtime.stats;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.status.AtomicCounter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatsRegistryTest {
    @TempDir
    Path dir;

    @Test
    void counterWrittenByRegistryIsReadFromTheFile() throws Exception {
        try (StatsRegistry registry = StatsRegistry.open(dir.resolve(ProcessHandle.current().pid() + ".stats"), 16)) {
            AtomicCounter rx = registry.newCounter("port 0: rx packets");
            rx.incrementRelease();
            rx.incrementRelease();
            AtomicCounter tx = registry.newCounter("port 0: tx packets");
            tx.setRelease(42);

            Optional<StatsReader.ProcessStats> stats = StatsReader.read(registry.file());
            assertTrue(stats.isPresent());
            assertEquals(ProcessHandle.current().pid(), stats.get().pid());
            assertEquals(List.of(new StatsReader.Counter(rx.id(), "port 0: rx packets", 2),
                    new StatsReader.Counter(tx.id(), "port 0: tx packets", 42)), stats.get().counters());
        }
    }

    @Test
    void freedCounterDisappearsFromTheFile() throws Exception {
        try (StatsRegistry registry = StatsRegistry.open(dir.resolve(ProcessHandle.current().pid() + ".stats"), 16)) {
            AtomicCounter a = registry.newCounter("a");
            registry.newCounter("b");
            registry.free(a);
            assertEquals(List.of("b"), StatsReader.read(registry.file()).orElseThrow().counters().stream()
                    .map(StatsReader.Counter::label).toList());
        }
    }

    @Test
    void fileOfDeadProcessIsSkippedAndCleaned() throws Exception {
        Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        Path file = dir.resolve(dead.pid() + ".stats");
        try (StatsRegistry registry = StatsRegistry.open(dir.resolve("self.stats"), 4)) {
            // Make a well-formed file that names the dead pid.
            Files.copy(registry.file(), file);
            try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                var buf = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.nativeOrder()).putInt(0, (int) dead.pid());
                ch.write(buf, StatsFileDescriptor.PID_OFFSET);
            }
            List<StatsReader.ProcessStats> live = StatsReader.readAll(dir, true);
            assertEquals(List.of(ProcessHandle.current().pid()), live.stream().map(StatsReader.ProcessStats::pid).toList());
            assertFalse(Files.exists(file), "stale stats file of a dead process is removed");
        }
    }

    @Test
    void truncatedOrForeignFileIsIgnored() throws Exception {
        Files.writeString(dir.resolve("1.stats"), "not a stats file");
        Files.write(dir.resolve("2.stats"), new byte[4096]);
        assertEquals(List.of(), StatsReader.readAll(dir, false));
    }

    @Test
    void anotherProcessReadsTheCountersOfARunningProcess() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
                "-Dringway.stats.dir=" + dir, "-cp", System.getProperty("java.class.path"),
                StatsChild.class.getName()).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertEquals("ready", line, "child did not start");
            List<StatsReader.ProcessStats> all = StatsReader.readAll(dir, false);
            assertEquals(1, all.size());
            assertEquals(child.pid(), all.get(0).pid());
            assertEquals(List.of(new StatsReader.Counter(0, "child: answers", 42)), all.get(0).counters());
            child.getOutputStream().close(); // child exits on EOF
            assertTrue(child.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, child.exitValue());
            assertEquals(List.of(), StatsReader.readAll(dir, false), "the file goes when the process exits");
        } finally {
            child.destroyForcibly();
        }
    }

    /** Child process for {@link #anotherProcessReadsTheCountersOfARunningProcess}. */
    public static final class StatsChild {
        public static void main(String[] args) throws Exception {
            StatsRegistry.process().newCounter("child: answers").setRelease(42);
            System.out.println("ready");
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the parent to close stdin
            }
        }
    }
}

package io.ringway.vcpu.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The deadline and the one retry of a stalled run in {@link NestedKvm#run}. */
class NestedKvmTest {
    @TempDir
    Path dir;

    @Test
    void aRunWhoseOutputStopsIsRunOnceMoreAndItsLogKept() throws Exception {
        // First run: one line, then silence (a hung L1); second run: finishes.
        Path marker = dir.resolve("ran-once");
        Path script = dir.resolve("fake.sh");
        Files.writeString(script, "if [ -e " + marker + " ]; then echo second; exit 3; fi\n"
                + "touch " + marker + "; echo first; sleep 30\n");
        Path log = dir.resolve("run.log");
        int rc = NestedKvm.run(List.of("bash", script.toString()), 20, 2, log);
        assertEquals(3, rc, "the second run's status");
        assertEquals("second\n", Files.readString(log));
        assertEquals("first\n", Files.readString(dir.resolve("run.log.stalled")), "the stalled run's log is kept");
    }

    @Test
    void aSecondStallIsTheDeadlineAndFailsTheTest() throws Exception {
        Path log = dir.resolve("run.log");
        long t0 = System.nanoTime();
        AssertionError e = assertThrows(AssertionError.class,
                () -> NestedKvm.run(List.of("bash", "-c", "echo x; sleep 30"), 4, 1, log));
        assertTrue(e.getMessage().contains("did not finish within 4 s"), e.getMessage());
        long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
        assertTrue(seconds >= 4 && seconds < 25, "one stall retry (1 s), then the whole deadline: " + seconds + " s");
    }

    @Test
    void withoutTheStallCheckOnlyTheDeadlineStopsARun() throws Exception {
        Path log = dir.resolve("run.log");
        assertEquals(0, NestedKvm.run(List.of("bash", "-c", "echo a; sleep 3; echo b"), 20, 0, log));
        assertEquals("a\nb\n", Files.readString(log));
    }
}

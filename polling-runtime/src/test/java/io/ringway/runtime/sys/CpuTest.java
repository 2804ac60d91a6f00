package io.ringway.runtime.sys;

import org.junit.jupiter.api.Test;

import java.util.BitSet;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CpuTest {

    @Test
    void currentCpuIsBetweenZeroAndOnlineCpus() {
        int online = Cpu.onlineCpus();
        assertTrue(online >= 1);
        int cpu = Cpu.currentCpu();
        assertTrue(cpu >= 0 && cpu < online, "cpu " + cpu + " of " + online);
    }

    @Test
    void pinningToCpuZeroRunsTheThreadOnCpuZero() throws Exception {
        // A thread of its own, so the pin does not stay on the test runner's thread.
        AtomicReference<Object> outcome = new AtomicReference<>();
        Thread pinned = Thread.ofPlatform().start(() -> {
            try {
                Cpu.pinCurrentThread(0);
                BitSet only0 = new BitSet();
                only0.set(0);
                assertEquals(only0, Cpu.currentThreadAffinity());
                for (int i = 0; i < 100; i++) {
                    Thread.yield();
                    assertEquals(0, Cpu.currentCpu());
                }
                outcome.set("ok");
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
        pinned.join();
        if (outcome.get() instanceof Throwable t) {
            throw new AssertionError(t);
        }
        assertEquals("ok", outcome.get());
    }

    @Test
    void pinningToACpuOutsideTheMaskIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> Cpu.pinCurrentThread(Cpu.MAX_CPUS));
        assertThrows(IllegalArgumentException.class, () -> Cpu.pinCurrentThread(-1));
    }

    @Test
    void pinningToAnOfflineCpuNamesSchedSetaffinityAndEinval() throws Exception {
        int offline = Cpu.onlineCpus() + 1;
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                Cpu.pinCurrentThread(offline);
            } catch (Throwable e) {
                thrown.set(e);
            }
        });
        t.join();
        LinuxException e = assertThrows(LinuxException.class, () -> { throw thrown.get(); });
        assertEquals("sched_setaffinity", e.call());
        assertEquals("EINVAL", e.errnoName());
    }
}

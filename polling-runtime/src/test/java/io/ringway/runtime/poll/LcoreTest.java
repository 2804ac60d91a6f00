package io.ringway.runtime.poll;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.ringway.runtime.stats.StatsReader;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.runtime.sys.EventFd;

class LcoreTest {
    /** An hour: a sleeping lcore in these tests can only wake through an fd, never by timeout. */
    private static final IdlePolicy SLEEP_AFTER_1MS = new IdlePolicy.AdaptiveInterrupt(TimeUnit.MILLISECONDS.toNanos(1), 3_600_000);

    @TempDir
    Path dir;
    StatsRegistry stats;

    @BeforeEach
    void openStats() {
        stats = StatsRegistry.open(dir.resolve("lcore.stats"), 64);
    }

    @AfterEach
    void closeStats() {
        stats.close();
    }

    /** A queue-like source: the test "enqueues" by bumping pending and kicking the eventfd. */
    static final class KickedSource implements InterruptSource {
        final EventFd kick = EventFd.create(true);
        final AtomicLong pending = new AtomicLong();
        final AtomicLong processed = new AtomicLong();
        final AtomicInteger arms = new AtomicInteger();
        final AtomicInteger disarms = new AtomicInteger();

        @Override
        public int doWork() {
            long n = pending.getAndSet(0);
            processed.addAndGet(n);
            return (int) n;
        }

        @Override
        public int wakeupFd() {
            return kick.fd();
        }

        @Override
        public boolean arm() {
            arms.incrementAndGet();
            return pending.get() == 0;
        }

        @Override
        public void disarm() {
            disarms.incrementAndGet();
        }
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(1);
        }
    }

    @Test
    void adaptiveLcoreSleepingInEpollWakesOnEventfdWrite() throws Exception {
        KickedSource source = new KickedSource();
        try (Lcore lcore = Lcore.builder("t0").idlePolicy(SLEEP_AFTER_1MS).stats(stats).start()) {
            lcore.addPoller(source).get(10, TimeUnit.SECONDS);
            // arm() is called only on the way into epoll, so an armed source means the lcore
            // fell asleep with the poller on (a sleep counter read after add() could miss a
            // sleep that began before the test thread woke up).
            await("the lcore to fall asleep with the source armed", () -> source.arms.get() >= 1);
            long sleepsBefore = lcore.sleeps();
            Thread.sleep(200);
            // Blocked in epoll it stays asleep: an lcore whose epoll returned at once (a stale
            // readable fd) would go round its 1 ms idle cycle about 200 times here. One spurious
            // return (EINTR) is tolerated, and the count may still step once if it was read between arm() and the sleep.
            long woke = lcore.sleeps() - sleepsBefore;
            assertTrue(woke <= 2, "an lcore asleep in epoll stays asleep, it went to sleep " + woke + " more times in 200 ms");

            source.pending.set(5);
            source.kick.signal();
            await("the kick to be processed", () -> source.processed.get() == 5);
            assertTrue(lcore.busyIterations() >= 1);
            assertTrue(source.arms.get() >= 1, "the source was armed before sleeping");
            await("the source to be disarmed after waking", () -> source.disarms.get() >= 1);
            await("the lcore to sleep again", () -> source.arms.get() >= 2);
        } finally {
            source.kick.close();
        }
    }

    @Test
    void sourceWithPendingWorkAtArmTimeKeepsTheLcoreAwake() throws Exception {
        InterruptSource alwaysPending = new InterruptSource() {
            @Override
            public int doWork() {
                return 0;
            }

            @Override
            public int wakeupFd() {
                return -1;
            }

            @Override
            public boolean arm() {
                return false;
            }
        };
        try (Lcore lcore = Lcore.builder("t1").idlePolicy(SLEEP_AFTER_1MS).stats(stats).start()) {
            lcore.addPoller(alwaysPending).get(10, TimeUnit.SECONDS);
            // Before the poller arrived the empty lcore may have slept; from now on it must not.
            long sleepsBefore = lcore.sleeps();
            long before = lcore.idleIterations();
            Thread.sleep(100);
            assertEquals(sleepsBefore, lcore.sleeps());
            assertTrue(lcore.idleIterations() > before, "the lcore keeps polling");
        }
    }

    @Test
    void controlCommandWakesASleepingLcore() throws Exception {
        try (Lcore lcore = Lcore.builder("t2").idlePolicy(SLEEP_AFTER_1MS).stats(stats).start()) {
            await("the lcore to fall asleep", () -> lcore.sleeps() >= 1);
            AtomicReference<String> ranOn = new AtomicReference<>();
            lcore.execute(() -> ranOn.set(Thread.currentThread().getName())).get(10, TimeUnit.SECONDS);
            assertEquals("lcore-t2", ranOn.get());
        }
    }

    @Test
    void addedPollerRunsAndRemovedPollerStops() throws Exception {
        AtomicLong calls = new AtomicLong();
        Poller p = () -> {
            calls.incrementAndGet();
            return 1;
        };
        try (Lcore lcore = Lcore.builder("t3").idlePolicy(IdlePolicy.busySpin()).stats(stats).start()) {
            lcore.addPoller(p).get(10, TimeUnit.SECONDS);
            await("the poller to run", () -> calls.get() > 100);
            lcore.removePoller(p).get(10, TimeUnit.SECONDS);
            long after = calls.get();
            Thread.sleep(50);
            assertEquals(after, calls.get());
            assertTrue(lcore.busyIterations() >= 100);
            var error = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> lcore.removePoller(p).get(10, TimeUnit.SECONDS));
            assertTrue(error.getCause().getMessage().contains("is not on lcore t3"), error.getCause().getMessage());
        }
    }

    @Test
    void throwingPollerIsRemovedAndOthersGoOn() throws Exception {
        AtomicLong good = new AtomicLong();
        AtomicLong badCalls = new AtomicLong();
        Poller bad = () -> {
            badCalls.incrementAndGet();
            throw new IllegalStateException("broken device");
        };
        try (Lcore lcore = Lcore.builder("t4").idlePolicy(IdlePolicy.backoff()).stats(stats).start()) {
            lcore.addPoller(bad).get(10, TimeUnit.SECONDS);
            lcore.addPoller(() -> (int) (good.incrementAndGet() & 1)).get(10, TimeUnit.SECONDS);
            await("the good poller to run", () -> good.get() > 1000);
            assertEquals(1, badCalls.get(), "the failing poller is called once, then removed");
            assertTrue(lcore.isRunning());
        }
    }

    @Test
    void countersAreVisibleInTheStatsFile() throws Exception {
        try (Lcore lcore = Lcore.builder("t5").idlePolicy(IdlePolicy.backoff()).stats(stats).start()) {
            lcore.addPoller(() -> 1).get(10, TimeUnit.SECONDS);
            await("busy iterations", () -> lcore.busyIterations() > 10);
            var counters = StatsReader.read(stats.file()).orElseThrow().counters();
            var busy = counters.stream().filter(c -> c.label().equals("lcore t5: busy iterations")).findFirst().orElseThrow();
            assertTrue(busy.value() > 10);
        }
    }

    @Test
    void stoppedLcoreRefusesCommands() throws Exception {
        Lcore lcore = Lcore.builder("t6").stats(stats).start();
        lcore.close();
        assertFalse(lcore.isRunning());
        var error = assertThrows(java.util.concurrent.ExecutionException.class, () -> lcore.addPoller(() -> 0).get());
        assertTrue(error.getCause().getMessage().contains("not running"));
    }

    @Test
    void pinnedLcoreRunsOnItsCpu() throws Exception {
        try (Lcore lcore = Lcore.builder("t7").cpu(0).stats(stats).start()) {
            AtomicInteger cpu = new AtomicInteger(-1);
            lcore.execute(() -> cpu.set(io.ringway.runtime.sys.Cpu.currentCpu())).get(10, TimeUnit.SECONDS);
            assertEquals(0, cpu.get());
        }
    }
}

package io.ringway.perf.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.HdrHistogram.Histogram;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.InterruptSource;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.EventFd;

/**
 * Interrupt-mode wake-up latency: an adaptive {@link Lcore} asleep in epoll, woken by an eventfd
 * write (what a vhost-user kick does), against the JVM's own way to wake a sleeping thread
 * ({@code LockSupport.unpark} of a parked platform thread). Each wake-up is timed from just
 * before the signal to the moment the woken thread sees the work, and each is taken only after
 * the sleeper is really asleep (the lcore has entered epoll; the parked thread is WAITING).
 * Sleepers run on CPU 1 and the waker on CPU 0, so both peers pay the same cross-core wake-up.
 */
public final class WakeupScenario implements Scenario {
    static final String LCORE_P50 = "lcore epoll wake-up p50";
    static final String LCORE_P99 = "lcore epoll wake-up p99";
    static final String PARK_P50 = "park/unpark wake-up p50";
    static final String PARK_P99 = "park/unpark wake-up p99";
    private static final long MAX_NANOS = TimeUnit.SECONDS.toNanos(10);

    @Override
    public String name() {
        return "wakeup";
    }

    @Override
    public String description() {
        return "adaptive lcore woken in epoll by an eventfd vs a parked thread woken by unpark, us (lower is better)";
    }

    @Override
    public List<Comparison> comparisons() {
        return List.of(new Comparison("wake-up latency p50", LCORE_P50, PARK_P50, "LockSupport.unpark of a parked thread"),
                new Comparison("wake-up latency p99", LCORE_P99, PARK_P99, "LockSupport.unpark of a parked thread"));
    }

    @Override
    public ScenarioResult run(Settings settings) throws Exception {
        int wakeups = (int) Math.max(200, settings.durationSeconds() * 1000);
        Histogram lcoreAll = new Histogram(MAX_NANOS, 3);
        Histogram parkAll = new Histogram(MAX_NANOS, 3);
        Map<String, List<Double>> samples = new LinkedHashMap<>();
        for (String key : List.of(LCORE_P50, LCORE_P99, PARK_P50, PARK_P99)) {
            samples.put(key, new ArrayList<>());
        }
        for (int r = 0; r < settings.repeat(); r++) {
            if (!settings.quiet() || r == 0) {
                System.out.printf("  wakeup: repeat %d/%d, %d wake-ups each way%n", r + 1, settings.repeat(), wakeups);
            }
            Events lcoreEvents = new Events(wakeups);
            Events parkEvents = new Events(wakeups);
            Histogram[] measured = onWakerCpu(() -> new Histogram[] {measureLcore(wakeups, lcoreEvents), measurePark(wakeups, parkEvents)});
            Histogram lcore = measured[0];
            Histogram park = measured[1];
            if (settings.trace() != null) {
                settings.trace().append(name(), "lcore epoll wake-up", lcoreEvents.starts, lcoreEvents.latencies, lcoreEvents.count);
                settings.trace().append(name(), "park/unpark wake-up", parkEvents.starts, parkEvents.latencies, parkEvents.count);
            }
            lcoreAll.add(lcore);
            parkAll.add(park);
            samples.get(LCORE_P50).add(lcore.getValueAtPercentile(50) / 1000.0);
            samples.get(LCORE_P99).add(lcore.getValueAtPercentile(99) / 1000.0);
            samples.get(PARK_P50).add(park.getValueAtPercentile(50) / 1000.0);
            samples.get(PARK_P99).add(park.getValueAtPercentile(99) / 1000.0);
        }
        Map<String, Measurement> measurements = new LinkedHashMap<>();
        samples.forEach((k, v) -> measurements.put(k, new Measurement(k, "us", v.stream().mapToDouble(Double::doubleValue).toArray())));
        return new ScenarioResult(measurements, List.of(
                LatencySeries.of("ringway lcore, epoll + eventfd", true, lcoreAll),
                LatencySeries.of("JVM park/unpark", false, parkAll)));
    }

    /** Per-wake-up events for {@code --trace}: start (epoch ns) and latency, filled by one thread. */
    static final class Events {
        private static final long EPOCH_MINUS_NANO_TIME = java.time.Instant.now().toEpochMilli() * 1_000_000L - System.nanoTime();
        final long[] starts;
        final long[] latencies;
        int count;

        Events(int capacity) {
            starts = new long[capacity];
            latencies = new long[capacity];
        }

        void add(long startNanoTime, long latency) {
            if (count < starts.length) {
                starts[count] = startNanoTime + EPOCH_MINUS_NANO_TIME;
                latencies[count] = latency;
                count++;
            }
        }
    }

    /** The lcore's poller: sees the stamp the signaller wrote and records the delay. */
    private static final class Stamped implements InterruptSource {
        final EventFd kick = EventFd.create(true);
        final Histogram histogram = new Histogram(MAX_NANOS, 3);
        final Events events;
        volatile long stamp;
        volatile boolean recording;
        /** arm() runs only on the lcore's way into epoll: a new arm means a new sleep. */
        volatile int arms;

        Stamped(Events events) {
            this.events = events;
        }

        @Override
        public int doWork() {
            long s = stamp;
            if (s == 0) {
                return 0;
            }
            long delay = System.nanoTime() - s;
            if (recording) {
                histogram.recordValue(Math.min(delay, MAX_NANOS));
                events.add(s, delay);
            }
            stamp = 0;
            return 1;
        }

        @Override
        public int wakeupFd() {
            return kick.fd();
        }

        @Override
        public boolean arm() {
            arms++; // single writer: the lcore thread
            return stamp == 0;
        }
    }

    /** Sleeper on CPU 1, waker on CPU 0 (when there are two): both peers wake across cores. */
    private static final boolean PIN = io.ringway.runtime.sys.Cpu.onlineCpus() >= 2;

    static Histogram measureLcore(int wakeups, Events events) throws Exception {
        Stamped source = new Stamped(events);
        IdlePolicy policy = new IdlePolicy.AdaptiveInterrupt(TimeUnit.MICROSECONDS.toNanos(20), 1000);
        try (Lcore lcore = Lcore.builder("bench-wakeup").idlePolicy(policy).cpu(PIN ? 1 : -1).start()) {
            lcore.addPoller(source).get(10, TimeUnit.SECONDS);
            int warmup = wakeups / 10;
            int armsBefore = 0;
            for (int i = 0; i < warmup + wakeups; i++) {
                source.recording = i >= warmup;
                int seen = armsBefore;
                awaitTrue(() -> source.arms > seen);
                LockSupport.parkNanos(20_000); // from arm() into epoll_wait itself
                armsBefore = source.arms;
                source.stamp = System.nanoTime();
                source.kick.signal();
                awaitTrue(() -> source.stamp == 0);
            }
        } finally {
            source.kick.close();
        }
        return source.histogram;
    }

    /** The peer: a platform thread parked in LockSupport.park, recording like {@link Stamped}. */
    private static final class Parked implements Runnable {
        final Histogram histogram = new Histogram(MAX_NANOS, 3);
        final Events events;
        volatile long stamp;
        volatile boolean recording;
        volatile boolean running = true;

        Parked(Events events) {
            this.events = events;
        }

        @Override
        public void run() {
            while (running) {
                LockSupport.park();
                long s = stamp;
                if (s != 0) {
                    long delay = System.nanoTime() - s;
                    if (recording) {
                        histogram.recordValue(Math.min(delay, MAX_NANOS));
                        events.add(s, delay);
                    }
                    stamp = 0;
                }
            }
        }
    }

    static Histogram measurePark(int wakeups, Events events) throws Exception {
        Parked parked = new Parked(events);
        Thread thread = Thread.ofPlatform().name("bench-parked").start(() -> {
            if (PIN) {
                io.ringway.runtime.sys.Cpu.pinCurrentThread(1);
            }
            parked.run();
        });
        try {
            int warmup = wakeups / 10;
            for (int i = 0; i < warmup + wakeups; i++) {
                parked.recording = i >= warmup;
                awaitTrue(() -> thread.getState() == Thread.State.WAITING);
                LockSupport.parkNanos(20_000);
                parked.stamp = System.nanoTime();
                LockSupport.unpark(thread);
                awaitTrue(() -> parked.stamp == 0);
            }
        } finally {
            parked.running = false;
            LockSupport.unpark(thread);
            thread.join(5000);
        }
        return parked.histogram;
    }

    /** Runs {@code work} on a thread pinned to CPU 0 (the waker's core). */
    private static <T> T onWakerCpu(java.util.concurrent.Callable<T> work) throws Exception {
        java.util.concurrent.atomic.AtomicReference<Object> result = new java.util.concurrent.atomic.AtomicReference<>();
        Thread waker = Thread.ofPlatform().name("bench-waker").start(() -> {
            try {
                if (PIN) {
                    io.ringway.runtime.sys.Cpu.pinCurrentThread(0);
                }
                result.set(work.call());
            } catch (Throwable t) {
                result.set(t);
            }
        });
        waker.join();
        Object r = result.get();
        if (r instanceof Exception e) {
            throw e;
        }
        if (r instanceof Error e) {
            throw e;
        }
        @SuppressWarnings("unchecked")
        T t = (T) r;
        return t;
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("wakeup scenario: the sleeper did not respond within 10 s");
            }
            Thread.onSpinWait();
        }
    }
}

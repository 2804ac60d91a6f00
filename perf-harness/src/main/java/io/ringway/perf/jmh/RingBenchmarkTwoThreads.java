package io.ringway.perf.jmh;

import io.ringway.runtime.ring.HandleRing;
import io.ringway.runtime.ring.MpmcRing;
import io.ringway.runtime.ring.SpscRing;
import org.jctools.queues.MpmcArrayQueue;
import org.jctools.queues.SpscArrayQueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Control;

import java.util.Queue;
import java.util.concurrent.TimeUnit;

/**
 * Producer thread and consumer thread, bursts of 32, reported per handle and per thread: the
 * cross-core cost the single-thread {@link RingBenchmark} does not see. Each invocation moves a
 * whole burst (spinning while full or empty) unless the iteration is ending.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow" })
@OperationsPerInvocation(RingBenchmarkTwoThreads.BURST)
@State(Scope.Group)
public class RingBenchmarkTwoThreads
{
    /** Handles per burst. */
    public static final int BURST = 32;

    @Param({ "1024" })
    int capacity;

    private SpscRing spscRing;
    private MpmcRing mpmcRing;
    private SpscArrayQueue<Long> jctoolsSpsc;
    private MpmcArrayQueue<Long> jctoolsMpmc;
    private final Long[] boxed = new Long[BURST];

    @Setup
    public void setup()
    {
        spscRing = SpscRing.allocate(capacity);
        mpmcRing = MpmcRing.allocate(capacity);
        jctoolsSpsc = new SpscArrayQueue<>(capacity);
        jctoolsMpmc = new MpmcArrayQueue<>(capacity);
        for (int i = 0; i < BURST; i++)
        {
            boxed[i] = 1000L + i;
        }
    }

    @TearDown
    public void tearDown()
    {
        spscRing.close();
        mpmcRing.close();
    }

    /**
     * Per-thread burst buffer.
     */
    @State(Scope.Thread)
    public static class Burst
    {
        final long[] handles = new long[BURST];

        @Setup
        public void setup()
        {
            for (int i = 0; i < BURST; i++)
            {
                handles[i] = 1000 + i;
            }
        }
    }

    @Benchmark
    @Group("ringwaySpsc")
    public void ringwaySpscProducer(final Burst burst, final Control control)
    {
        produce(spscRing, burst.handles, control);
    }

    @Benchmark
    @Group("ringwaySpsc")
    public long ringwaySpscConsumer(final Burst burst, final Control control)
    {
        return consume(spscRing, burst.handles, control);
    }

    @Benchmark
    @Group("ringwayMpmc")
    public void ringwayMpmcProducer(final Burst burst, final Control control)
    {
        produce(mpmcRing, burst.handles, control);
    }

    @Benchmark
    @Group("ringwayMpmc")
    public long ringwayMpmcConsumer(final Burst burst, final Control control)
    {
        return consume(mpmcRing, burst.handles, control);
    }

    @Benchmark
    @Group("jctoolsSpsc")
    public void jctoolsSpscProducer(final Control control)
    {
        produce(jctoolsSpsc, boxed, control);
    }

    @Benchmark
    @Group("jctoolsSpsc")
    public Long jctoolsSpscConsumer(final Control control)
    {
        return consume(jctoolsSpsc, control);
    }

    @Benchmark
    @Group("jctoolsMpmc")
    public void jctoolsMpmcProducer(final Control control)
    {
        produce(jctoolsMpmc, boxed, control);
    }

    @Benchmark
    @Group("jctoolsMpmc")
    public Long jctoolsMpmcConsumer(final Control control)
    {
        return consume(jctoolsMpmc, control);
    }

    private static void produce(final HandleRing ring, final long[] handles, final Control control)
    {
        int sent = 0;
        while (sent < BURST && !control.stopMeasurement)
        {
            final int n = ring.enqueueBurst(handles, sent, BURST - sent);
            sent += n;
            if (0 == n)
            {
                Thread.onSpinWait();
            }
        }
    }

    private static long consume(final HandleRing ring, final long[] handles, final Control control)
    {
        int received = 0;
        while (received < BURST && !control.stopMeasurement)
        {
            final int n = ring.dequeueBurst(handles, received, BURST - received);
            received += n;
            if (0 == n)
            {
                Thread.onSpinWait();
            }
        }
        return handles[0];
    }

    private static void produce(final Queue<Long> queue, final Long[] boxed, final Control control)
    {
        int sent = 0;
        while (sent < BURST && !control.stopMeasurement)
        {
            if (queue.offer(boxed[sent]))
            {
                sent++;
            }
            else
            {
                Thread.onSpinWait();
            }
        }
    }

    private static Long consume(final Queue<Long> queue, final Control control)
    {
        Long last = null;
        int received = 0;
        while (received < BURST && !control.stopMeasurement)
        {
            final Long value = queue.poll();
            if (null != value)
            {
                last = value;
                received++;
            }
            else
            {
                Thread.onSpinWait();
            }
        }
        return last;
    }
}

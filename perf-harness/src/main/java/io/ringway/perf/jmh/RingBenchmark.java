package io.ringway.perf.jmh;

import io.ringway.runtime.ring.MpmcRing;
import io.ringway.runtime.ring.SpscRing;
import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpmcArrayQueue;
import org.jctools.queues.SpscArrayQueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
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

import java.util.concurrent.TimeUnit;

/**
 * One burst of 32 handles in and 32 out per invocation, single thread, reported per handle.
 * <p>
 * Ringway rings move {@code long} handles with one bulk copy per side; the peer queues move the
 * same number of preallocated boxed {@link Long}s (no boxing in the loop) with their ordinary
 * {@code offer}/{@code poll}, and, for JCTools, also with its batched {@code fill}/{@code drain}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow" })
@OperationsPerInvocation(RingBenchmark.BURST)
@State(Scope.Thread)
public class RingBenchmark
{
    /** Handles per burst. */
    public static final int BURST = 32;

    @Param({ "1024" })
    int capacity;

    private SpscRing spscRing;
    private MpmcRing mpmcRing;
    private SpscArrayQueue<Long> jctoolsSpsc;
    private MpmcArrayQueue<Long> jctoolsMpmc;
    private OneToOneConcurrentArrayQueue<Long> agronaSpsc;
    private ManyToManyConcurrentArrayQueue<Long> agronaMpmc;

    private final long[] in = new long[BURST];
    private final long[] out = new long[BURST];
    private final Long[] boxed = new Long[BURST];
    private final BoxSupplier supplier = new BoxSupplier();
    private final LastConsumer consumer = new LastConsumer();

    @Setup
    public void setup()
    {
        spscRing = SpscRing.allocate(capacity);
        mpmcRing = MpmcRing.allocate(capacity);
        jctoolsSpsc = new SpscArrayQueue<>(capacity);
        jctoolsMpmc = new MpmcArrayQueue<>(capacity);
        agronaSpsc = new OneToOneConcurrentArrayQueue<>(capacity);
        agronaMpmc = new ManyToManyConcurrentArrayQueue<>(capacity);
        for (int i = 0; i < BURST; i++)
        {
            in[i] = 1000 + i;
            boxed[i] = 1000L + i;
        }
        supplier.boxed = boxed;
    }

    @TearDown
    public void tearDown()
    {
        spscRing.close();
        mpmcRing.close();
    }

    @Benchmark
    public long ringwaySpscBurst()
    {
        spscRing.enqueueBurst(in, 0, BURST);
        spscRing.dequeueBurst(out, 0, BURST);
        return out[BURST - 1];
    }

    @Benchmark
    public Long jctoolsSpscOfferPoll()
    {
        final SpscArrayQueue<Long> queue = jctoolsSpsc;
        final Long[] boxed = this.boxed;
        for (int i = 0; i < BURST; i++)
        {
            queue.offer(boxed[i]);
        }
        Long last = null;
        for (int i = 0; i < BURST; i++)
        {
            last = queue.poll();
        }
        return last;
    }

    @Benchmark
    public Long jctoolsSpscFillDrain()
    {
        supplier.next = 0;
        jctoolsSpsc.fill(supplier, BURST);
        jctoolsSpsc.drain(consumer, BURST);
        return consumer.last;
    }

    @Benchmark
    public Long agronaSpscOfferPoll()
    {
        final OneToOneConcurrentArrayQueue<Long> queue = agronaSpsc;
        final Long[] boxed = this.boxed;
        for (int i = 0; i < BURST; i++)
        {
            queue.offer(boxed[i]);
        }
        Long last = null;
        for (int i = 0; i < BURST; i++)
        {
            last = queue.poll();
        }
        return last;
    }

    @Benchmark
    public long ringwayMpmcBurst()
    {
        mpmcRing.enqueueBurst(in, 0, BURST);
        mpmcRing.dequeueBurst(out, 0, BURST);
        return out[BURST - 1];
    }

    @Benchmark
    public Long jctoolsMpmcOfferPoll()
    {
        final MpmcArrayQueue<Long> queue = jctoolsMpmc;
        final Long[] boxed = this.boxed;
        for (int i = 0; i < BURST; i++)
        {
            queue.offer(boxed[i]);
        }
        Long last = null;
        for (int i = 0; i < BURST; i++)
        {
            last = queue.poll();
        }
        return last;
    }

    @Benchmark
    public Long jctoolsMpmcFillDrain()
    {
        supplier.next = 0;
        jctoolsMpmc.fill(supplier, BURST);
        jctoolsMpmc.drain(consumer, BURST);
        return consumer.last;
    }

    @Benchmark
    public Long agronaMpmcOfferPoll()
    {
        final ManyToManyConcurrentArrayQueue<Long> queue = agronaMpmc;
        final Long[] boxed = this.boxed;
        for (int i = 0; i < BURST; i++)
        {
            queue.offer(boxed[i]);
        }
        Long last = null;
        for (int i = 0; i < BURST; i++)
        {
            last = queue.poll();
        }
        return last;
    }

    static final class BoxSupplier implements MessagePassingQueue.Supplier<Long>
    {
        Long[] boxed;
        int next;

        public Long get()
        {
            return boxed[next++];
        }
    }

    static final class LastConsumer implements MessagePassingQueue.Consumer<Long>
    {
        Long last;

        public void accept(final Long value)
        {
            last = value;
        }
    }
}

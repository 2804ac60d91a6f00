package io.ringway.perf.jmh;

import io.ringway.runtime.mem.Mempool;
import org.jctools.queues.MpmcArrayQueue;
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

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * Allocate a burst of 32 buffers and free them again, single thread, reported per buffer.
 * <p>
 * {@link Mempool} with a per-thread cache (the data-plane case) and without one (straight to the
 * shared MPMC ring), against two object-per-buffer free lists of {@link MemorySegment} slices: a
 * JCTools {@link MpmcArrayQueue} (thread-safe, like the pool's ring) and an {@link ArrayDeque}
 * (single-thread, the cheapest Java free list).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {
    "--enable-native-access=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow" })
@OperationsPerInvocation(MempoolBenchmark.BURST)
@State(Scope.Thread)
public class MempoolBenchmark
{
    /** Buffers per burst. */
    public static final int BURST = 32;
    private static final int ELEMENT_SIZE = 2048;

    @Param({ "8192" })
    int count;

    private Mempool pool;
    private Mempool.Cache cache;
    private final long[] handles = new long[BURST];

    private Arena arena;
    private MpmcArrayQueue<MemorySegment> jctoolsFreeList;
    private ArrayDeque<MemorySegment> dequeFreeList;
    private final MemorySegment[] buffers = new MemorySegment[BURST];

    @Setup
    public void setup()
    {
        pool = Mempool.allocate(count, ELEMENT_SIZE);
        cache = pool.createCache();

        arena = Arena.ofShared();
        final MemorySegment memory = arena.allocate((long)count * ELEMENT_SIZE, 128);
        jctoolsFreeList = new MpmcArrayQueue<>(count);
        dequeFreeList = new ArrayDeque<>(count);
        for (int i = 0; i < count; i++)
        {
            final MemorySegment buffer = memory.asSlice((long)i * ELEMENT_SIZE, ELEMENT_SIZE);
            jctoolsFreeList.offer(buffer);
            dequeFreeList.push(buffer);
        }
    }

    @TearDown
    public void tearDown()
    {
        cache.close();
        pool.close();
        arena.close();
    }

    @Benchmark
    public long mempoolCachedBurst()
    {
        pool.allocBulk(cache, handles, 0, BURST);
        final long last = handles[BURST - 1];
        pool.freeBulk(cache, handles, 0, BURST);
        return last;
    }

    @Benchmark
    public long mempoolRingBurst()
    {
        pool.allocBulk(null, handles, 0, BURST);
        final long last = handles[BURST - 1];
        pool.freeBulk(null, handles, 0, BURST);
        return last;
    }

    @Benchmark
    public MemorySegment jctoolsFreeList()
    {
        final MpmcArrayQueue<MemorySegment> freeList = jctoolsFreeList;
        final MemorySegment[] buffers = this.buffers;
        for (int i = 0; i < BURST; i++)
        {
            buffers[i] = freeList.poll();
        }
        for (int i = 0; i < BURST; i++)
        {
            freeList.offer(buffers[i]);
        }
        return buffers[BURST - 1];
    }

    @Benchmark
    public MemorySegment arrayDequeFreeList()
    {
        final ArrayDeque<MemorySegment> freeList = dequeFreeList;
        final MemorySegment[] buffers = this.buffers;
        for (int i = 0; i < BURST; i++)
        {
            buffers[i] = freeList.pop();
        }
        for (int i = 0; i < BURST; i++)
        {
            freeList.push(buffers[i]);
        }
        return buffers[BURST - 1];
    }
}

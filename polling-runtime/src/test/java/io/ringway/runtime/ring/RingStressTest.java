package io.ringway.runtime.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Concurrent rings move 10 M handles: each handle arrives exactly once, and handles of one
 * producer arrive at any one consumer in the order that producer sent them.
 */
class RingStressTest
{
    private static final int HANDLES = 10_000_000;
    private static final int MAX_BURST = 32;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void spscRingDeliversEveryHandleOnceInOrder() throws Exception
    {
        try (SpscRing ring = SpscRing.allocate(1024))
        {
            runSpsc(ring, ring);
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void spscRingWrappedTwiceOverOneSegmentPassesHandles() throws Exception
    {
        try (Arena arena = Arena.ofShared())
        {
            final MemorySegment shared = arena.allocate(SpscRing.requiredBytes(256), RingDescriptor.ALIGNMENT);
            // two objects over the same memory, as two processes would have
            final SpscRing producerSide = SpscRing.wrap(shared, 256, true);
            final SpscRing consumerSide = SpscRing.wrap(shared, 256, false);
            runSpsc(producerSide, consumerSide);
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void mpmcRingWrappedTwiceOverOneSegmentPassesHandles() throws Exception
    {
        try (Arena arena = Arena.ofShared())
        {
            final MemorySegment shared = arena.allocate(MpmcRing.requiredBytes(256), RingDescriptor.ALIGNMENT);
            final MpmcRing producerSide = MpmcRing.wrap(shared, 256, true);
            final MpmcRing consumerSide = MpmcRing.wrap(shared, 256, false);
            runSpsc(producerSide, consumerSide);
        }
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void mpmcRingWithFourProducersAndFourConsumersDeliversEveryHandleOnce() throws Exception
    {
        try (MpmcRing ring = MpmcRing.allocate(1024))
        {
            runMpmc(ring, 4, 4, HANDLES, true);
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void mpmcRingStaysLiveWithEightThreadsPerSideOnASmallRing() throws Exception
    {
        // 16 threads on few cores: threads are preempted mid-operation all the time
        try (MpmcRing ring = MpmcRing.allocate(16))
        {
            runMpmc(ring, 8, 8, 2_000_000, true);
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void mpmcRingSingleOfferAndPollUnderContention() throws Exception
    {
        try (MpmcRing ring = MpmcRing.allocate(64))
        {
            runMpmc(ring, 4, 4, 400_000, false);
        }
    }

    private static void runSpsc(final HandleRing producerSide, final HandleRing consumerSide) throws Exception
    {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread producer = new Thread(() ->
        {
            final long[] burst = new long[MAX_BURST];
            final ThreadLocalRandom random = ThreadLocalRandom.current();
            long next = 0;
            while (next < HANDLES)
            {
                final int n = (int)Math.min(1 + random.nextInt(MAX_BURST), HANDLES - next);
                for (int i = 0; i < n; i++)
                {
                    burst[i] = next + i;
                }
                final boolean bulk = (next & 1) == 0;
                final int sent = bulk ?
                    (producerSide.enqueueBulk(burst, 0, n) ? n : 0) : producerSide.enqueueBurst(burst, 0, n);
                next += sent;
                if (sent == 0)
                {
                    Thread.yield();
                }
            }
        }, "spsc-producer");

        final long[] received = new long[1];
        final Thread consumer = new Thread(() ->
        {
            final long[] burst = new long[MAX_BURST];
            long expected = 0;
            try
            {
                while (expected < HANDLES)
                {
                    final int n = (expected & 3) == 0 ?
                        single(consumerSide, burst) : consumerSide.dequeueBurst(burst, 0, MAX_BURST);
                    for (int i = 0; i < n; i++)
                    {
                        if (burst[i] != expected)
                        {
                            throw new AssertionError("expected handle " + expected + " got " + burst[i]);
                        }
                        expected++;
                    }
                    if (n == 0)
                    {
                        Thread.yield();
                    }
                }
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
            received[0] = expected;
        }, "spsc-consumer");

        producer.setDaemon(true);
        consumer.setDaemon(true);
        producer.start();
        consumer.start();
        consumer.join();
        if (failure.get() == null)
        {
            producer.join();
        }
        assertNull(failure.get());
        assertEquals(HANDLES, received[0]);
        assertEquals(0, consumerSide.size());
    }

    private static int single(final HandleRing ring, final long[] burst)
    {
        final long handle = ring.poll();
        if (handle == HandleRing.NO_HANDLE)
        {
            return 0;
        }
        burst[0] = handle;
        return 1;
    }

    private static void runMpmc(
        final MpmcRing ring, final int producers, final int consumers, final int handles, final boolean bursts)
        throws Exception
    {
        final int perProducer = handles / producers;
        final int total = perProducer * producers;
        final AtomicLongArray seen = new AtomicLongArray((total + 63) / 64);
        final AtomicLong received = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final List<Thread> threads = new ArrayList<>();

        for (int p = 0; p < producers; p++)
        {
            final long first = (long)p * perProducer;
            final long end = first + perProducer;
            threads.add(new Thread(() ->
            {
                final long[] burst = new long[MAX_BURST];
                final ThreadLocalRandom random = ThreadLocalRandom.current();
                long next = first;
                while (next < end && failure.get() == null)
                {
                    final int sent;
                    if (bursts)
                    {
                        final int n = (int)Math.min(1 + random.nextInt(MAX_BURST), end - next);
                        for (int i = 0; i < n; i++)
                        {
                            burst[i] = next + i;
                        }
                        sent = random.nextBoolean() ?
                            ring.enqueueBurst(burst, 0, n) : (ring.enqueueBulk(burst, 0, n) ? n : 0);
                    }
                    else
                    {
                        sent = ring.offer(next) ? 1 : 0;
                    }
                    next += sent;
                    if (sent == 0)
                    {
                        Thread.yield();
                    }
                }
            }, "mpmc-producer-" + p));
        }

        for (int c = 0; c < consumers; c++)
        {
            threads.add(new Thread(() ->
            {
                final long[] burst = new long[MAX_BURST];
                final long[] lastFromProducer = new long[producers];
                java.util.Arrays.fill(lastFromProducer, -1);
                final ThreadLocalRandom random = ThreadLocalRandom.current();
                try
                {
                    while (received.get() < total && failure.get() == null)
                    {
                        final int n;
                        if (bursts)
                        {
                            final int max = 1 + random.nextInt(MAX_BURST);
                            n = random.nextBoolean() ?
                                ring.dequeueBurst(burst, 0, max) : (ring.dequeueBulk(burst, 0, max) ? max : 0);
                        }
                        else
                        {
                            n = single(ring, burst);
                        }
                        for (int i = 0; i < n; i++)
                        {
                            final long handle = burst[i];
                            if (handle < 0 || handle >= total)
                            {
                                throw new AssertionError("handle out of range: " + handle);
                            }
                            final long bit = 1L << (handle & 63);
                            if ((seen.getAndAccumulate((int)(handle >>> 6), bit, (a, b) -> a | b) & bit) != 0)
                            {
                                throw new AssertionError("handle seen twice: " + handle);
                            }
                            final int producer = (int)(handle / perProducer);
                            if (handle <= lastFromProducer[producer])
                            {
                                throw new AssertionError("producer " + producer + " order broken: " + handle +
                                    " after " + lastFromProducer[producer]);
                            }
                            lastFromProducer[producer] = handle;
                        }
                        if (n == 0)
                        {
                            Thread.yield();
                        }
                        else
                        {
                            received.addAndGet(n);
                        }
                    }
                }
                catch (final Throwable t)
                {
                    failure.compareAndSet(null, t);
                }
            }, "mpmc-consumer-" + c));
        }

        for (final Thread t : threads)
        {
            t.setDaemon(true);
            t.start();
        }
        for (final Thread t : threads)
        {
            t.join();
        }
        assertNull(failure.get());
        assertEquals(total, received.get());
        for (int i = 0; i < total; i++)
        {
            if ((seen.get(i >>> 6) & (1L << (i & 63))) == 0)
            {
                throw new AssertionError("handle never seen: " + i);
            }
        }
        assertEquals(0, ring.size());
    }
}

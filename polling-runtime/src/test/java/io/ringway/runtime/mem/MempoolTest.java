package io.ringway.runtime.mem;

import io.ringway.runtime.ring.SpscRing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MempoolTest
{
    @Test
    void defaultElementSizeIsTwoKiB()
    {
        try (Mempool pool = Mempool.allocate(16))
        {
            assertEquals(2048, pool.elementSize());
            assertEquals(16, pool.count());
            assertEquals(16, pool.available());
        }
    }

    @Test
    void allocUntilEmptyThenFreeAllRestoresAvailable()
    {
        try (Mempool pool = Mempool.allocate(1000, 256))
        {
            final Mempool.Cache cache = pool.createCache(32);
            final BitSet taken = new BitSet();
            final long[] handles = new long[1000];
            int n = 0;
            long handle;
            while ((handle = pool.alloc(cache)) != Mempool.NO_HANDLE)
            {
                pool.checkHandle(handle);
                assertFalse(taken.get(pool.index(handle)), "handed out twice: " + handle);
                taken.set(pool.index(handle));
                handles[n++] = handle;
            }
            assertEquals(1000, n);
            assertEquals(0, pool.available());
            assertFalse(pool.allocBulk(cache, new long[1], 0, 1));

            for (int i = 0; i < n; i++)
            {
                pool.free(cache, handles[i]);
            }
            assertEquals(1000, pool.available());
            cache.close();
            assertEquals(1000, pool.available());
        }
    }

    @Test
    void allocBulkIsAllOrNothing()
    {
        try (Mempool pool = Mempool.allocate(100, 64))
        {
            final Mempool.Cache cache = pool.createCache(16);
            final long[] out = new long[128];
            assertTrue(pool.allocBulk(cache, out, 0, 90));
            assertFalse(pool.allocBulk(cache, out, 90, 11), "only 10 left");
            assertEquals(10, pool.available());
            assertTrue(pool.allocBulk(cache, out, 90, 10));
            assertEquals(0, pool.available());
            pool.freeBulk(cache, out, 0, 100);
            assertEquals(100, pool.available());

            assertTrue(pool.allocBulk(null, out, 0, 100), "without a cache");
            assertFalse(pool.allocBulk(null, out, 0, 1));
            pool.freeBulk(null, out, 0, 100);
            assertEquals(100, pool.available());
        }
    }

    @Test
    void buffersAreDisjointAndWritableThroughTheBaseSegment()
    {
        try (Mempool pool = Mempool.allocate(64, 128))
        {
            final long[] handles = new long[64];
            assertTrue(pool.allocBulk(null, handles, 0, 64));
            final MemorySegment memory = pool.memory();
            for (final long handle : handles)
            {
                for (int i = 0; i < 128; i += 8)
                {
                    memory.set(ValueLayout.JAVA_LONG, pool.offset(handle) + i, handle);
                }
            }
            for (final long handle : handles)
            {
                for (int i = 0; i < 128; i += 8)
                {
                    assertEquals(handle, memory.get(ValueLayout.JAVA_LONG, pool.offset(handle) + i));
                }
            }
            pool.freeBulk(null, handles, 0, 64);
        }
    }

    @Test
    void freeRejectsHandleOutOfRangeOrMisalignedWhenChecksAreOn()
    {
        try (Mempool pool = Mempool.allocate(8, 64).handleChecks(true))
        {
            final long handle = pool.alloc(null);
            final IllegalArgumentException misaligned =
                assertThrows(IllegalArgumentException.class, () -> pool.free(null, handle + 8));
            assertTrue(misaligned.getMessage().contains("misaligned"), misaligned.getMessage());
            final IllegalArgumentException outOfRange =
                assertThrows(IllegalArgumentException.class, () -> pool.free(null, pool.handle(8)));
            assertTrue(outOfRange.getMessage().contains("out of range"), outOfRange.getMessage());
            assertThrows(IllegalArgumentException.class, () -> pool.freeBulk(null, new long[]{ handle, 3 }, 0, 2));
            assertEquals(7, pool.available(), "a rejected bulk frees nothing");
            pool.free(null, handle);
            assertEquals(8, pool.available());
        }
    }

    @Test
    void freeingMoreThanThePoolHoldsIsDetected()
    {
        try (Mempool pool = Mempool.allocate(4, 64))
        {
            final long handle = pool.handle(0);
            assertThrows(IllegalStateException.class, () -> pool.free(null, handle));
        }
    }

    @Test
    void badElementSizeAndCountAreRejected()
    {
        assertEquals("element size must be a positive multiple of 8, got 100",
            assertThrows(IllegalArgumentException.class, () -> Mempool.allocate(10, 100)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Mempool.allocate(0, 64));
        assertThrows(IllegalArgumentException.class, () -> Mempool.allocate(10, 0));
    }

    @Test
    void poolInCallerSegmentCanBeAttachedBySecondObject()
    {
        try (Arena arena = Arena.ofShared())
        {
            final MemorySegment region = arena.allocate(Mempool.requiredBytes(100, 512), 4096);
            final Mempool creator = Mempool.wrap(region, 100, 512, true);
            final Mempool attached = Mempool.wrap(region, 100, 512, false);
            assertThrows(IllegalStateException.class, () -> Mempool.wrap(region, 100, 256, false));

            final long handle = creator.alloc(null);
            creator.memory().set(ValueLayout.JAVA_LONG, creator.offset(handle), 0xCAFEL);
            assertEquals(0xCAFEL, attached.memory().get(ValueLayout.JAVA_LONG, attached.offset(handle)));
            assertEquals(99, attached.available());
            attached.free(null, handle);
            assertEquals(100, creator.available());
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void perThreadCachesNeverHandOutABufferTwiceAndLeakNothing() throws Exception
    {
        final int threads = 4;
        final int count = 4096;
        try (Mempool pool = Mempool.allocate(count, 64).handleChecks(true))
        {
            final AtomicIntegerArray owner = new AtomicIntegerArray(count);
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final List<Thread> workers = new ArrayList<>();
            final List<Mempool.Cache> caches = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                final int id = t + 1;
                final Mempool.Cache cache = pool.createCache(64);
                caches.add(cache);
                workers.add(new Thread(() ->
                {
                    final ThreadLocalRandom random = ThreadLocalRandom.current();
                    final long[] held = new long[2048];
                    int heldCount = 0;
                    try
                    {
                        for (int round = 0; round < 100_000; round++)
                        {
                            if (random.nextInt(3) != 0 && heldCount < held.length - 100)
                            {
                                final int n = 1 + random.nextInt(random.nextInt(8) == 0 ? 100 : 32);
                                final boolean single = n == 1;
                                final boolean got = single ?
                                    (held[heldCount] = pool.alloc(cache)) != Mempool.NO_HANDLE :
                                    pool.allocBulk(cache, held, heldCount, n);
                                if (got)
                                {
                                    for (int i = heldCount; i < heldCount + n; i++)
                                    {
                                        take(pool, owner, held[i], id);
                                    }
                                    heldCount += n;
                                }
                            }
                            else if (heldCount > 0)
                            {
                                final int n = 1 + random.nextInt(Math.min(heldCount, 100));
                                heldCount -= n;
                                for (int i = heldCount; i < heldCount + n; i++)
                                {
                                    give(pool, owner, held[i], id);
                                }
                                if (n == 1)
                                {
                                    pool.free(cache, held[heldCount]);
                                }
                                else
                                {
                                    pool.freeBulk(cache, held, heldCount, n);
                                }
                            }
                        }
                        for (int i = 0; i < heldCount; i++)
                        {
                            give(pool, owner, held[i], id);
                        }
                        pool.freeBulk(cache, held, 0, heldCount);
                    }
                    catch (final Throwable ex)
                    {
                        failure.compareAndSet(null, ex);
                    }
                }, "mempool-worker-" + id));
            }
            for (final Thread worker : workers)
            {
                worker.start();
            }
            for (final Thread worker : workers)
            {
                worker.join();
            }
            assertNull(failure.get());
            assertEquals(count, pool.available(), "no buffer leaked");
            for (final Mempool.Cache cache : caches)
            {
                cache.close();
            }
            assertEquals(count, pool.available());
            for (int i = 0; i < count; i++)
            {
                assertEquals(0, owner.get(i));
            }
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void buffersAllocatedOnOneLcoreAndFreedOnAnotherAreNotLost() throws Exception
    {
        final int count = 1024;
        final int rounds = 200_000;
        try (Mempool pool = Mempool.allocate(count, 64); SpscRing link = SpscRing.allocate(256))
        {
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final Mempool.Cache rxCache = pool.createCache(32);
            final Mempool.Cache txCache = pool.createCache(32);
            final Thread rx = new Thread(() ->
            {
                final long[] burst = new long[32];
                int sent = 0;
                while (sent < rounds && failure.get() == null)
                {
                    if (pool.allocBulk(rxCache, burst, 0, 32))
                    {
                        for (int i = 0; i < 32; i++)
                        {
                            pool.memory().set(ValueLayout.JAVA_LONG, pool.offset(burst[i]), burst[i] ^ 0x5A5AL);
                        }
                        int queued = 0;
                        while (queued < 32 && failure.get() == null)
                        {
                            final int n = link.enqueueBurst(burst, queued, 32 - queued);
                            queued += n;
                            if (n == 0)
                            {
                                Thread.yield();
                            }
                        }
                        sent += 32;
                    }
                    else
                    {
                        Thread.yield();
                    }
                }
            }, "rx-lcore");
            final Thread tx = new Thread(() ->
            {
                final long[] burst = new long[32];
                int received = 0;
                try
                {
                    while (received < rounds)
                    {
                        final int n = link.dequeueBurst(burst, 0, 32);
                        for (int i = 0; i < n; i++)
                        {
                            final long stamp = pool.memory().get(ValueLayout.JAVA_LONG, pool.offset(burst[i]));
                            assertEquals(burst[i] ^ 0x5A5AL, stamp, "buffer content");
                        }
                        pool.freeBulk(txCache, burst, 0, n);
                        received += n;
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
            }, "tx-lcore");
            rx.start();
            tx.start();
            rx.join();
            tx.join();
            assertNull(failure.get());
            assertEquals(count, pool.available());
            rxCache.close();
            txCache.close();
            assertEquals(count, pool.available());
        }
    }

    private static void take(final Mempool pool, final AtomicIntegerArray owner, final long handle, final int id)
    {
        pool.checkHandle(handle);
        final int index = pool.index(handle);
        final int previous = owner.compareAndExchange(index, 0, id);
        if (previous != 0)
        {
            throw new AssertionError("buffer " + index + " handed to " + id + " while owned by " + previous);
        }
        pool.memory().set(ValueLayout.JAVA_INT, pool.offset(handle), id);
    }

    private static void give(final Mempool pool, final AtomicIntegerArray owner, final long handle, final int id)
    {
        final int index = pool.index(handle);
        assertNotEquals(0, owner.get(index));
        final int stamp = pool.memory().get(ValueLayout.JAVA_INT, pool.offset(handle));
        if (stamp != id)
        {
            throw new AssertionError("buffer " + index + " of " + id + " was written by " + stamp);
        }
        if (!owner.compareAndSet(index, id, 0))
        {
            throw new AssertionError("buffer " + index + " not owned by " + id);
        }
    }
}

package io.ringway.runtime.mem;

import io.ringway.runtime.ring.HandleRing;
import io.ringway.runtime.ring.MpmcRing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.ringway.runtime.mem.MempoolDescriptor.COUNT_OFFSET;
import static io.ringway.runtime.mem.MempoolDescriptor.ELEMENT_SIZE_OFFSET;
import static io.ringway.runtime.mem.MempoolDescriptor.MAGIC;
import static io.ringway.runtime.mem.MempoolDescriptor.MAGIC_OFFSET;
import static io.ringway.runtime.mem.MempoolDescriptor.RING_CAPACITY_OFFSET;
import static io.ringway.runtime.mem.MempoolDescriptor.RING_OFFSET;

/**
 * A pool of fixed-size off-heap buffers, in the manner of DPDK's {@code rte_mempool}.
 * <p>
 * All buffers live in one {@link MemorySegment} (allocated by the pool or given by the caller,
 * e.g. a shared region), together with a lock-free {@link MpmcRing} of free buffers. A buffer is a
 * {@code long} handle, never an object: read and write it through {@link #memory()} at
 * {@link #offset(long)}, without slicing. Layout in {@link MempoolDescriptor}.
 * <p>
 * Each data-plane thread (lcore) should own a {@link Cache}: a small stack of handles that serves
 * allocations and takes frees without touching the shared ring, refilled from and flushed to the
 * ring in bursts. Every call accepts a {@code null} cache, which goes to the ring directly.
 * <p>
 * Hot-path calls do not allocate, lock or throw in normal use: an empty pool is a {@code false} or
 * {@link #NO_HANDLE} return. With {@link #handleChecks(boolean) handle checks} on, frees validate
 * each handle and throw on a foreign one (for debugging).
 */
public final class Mempool implements AutoCloseable
{
    /** Returned by {@link #alloc(Cache)} when the pool is empty: {@value}. */
    public static final long NO_HANDLE = HandleRing.NO_HANDLE;
    /** Default {@link Cache} size in handles. */
    public static final int DEFAULT_CACHE_SIZE = 256;

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final int TRANSIENT_RETRIES = 10_000;

    private final MemorySegment memory;
    private final MpmcRing ring;
    private final int count;
    private final int elementSize;
    private final long dataOffset;
    private final long dataEnd;
    private final Arena arena;
    private final CopyOnWriteArrayList<Cache> caches = new CopyOnWriteArrayList<>();
    private boolean handleChecks;

    private Mempool(
        final MemorySegment memory, final MpmcRing ring, final int count, final int elementSize, final Arena arena)
    {
        this.memory = memory;
        this.ring = ring;
        this.count = count;
        this.elementSize = elementSize;
        this.dataOffset = MempoolDescriptor.dataOffset(count);
        this.dataEnd = dataOffset + (long)count * elementSize;
        this.arena = arena;
    }

    /**
     * Bytes of segment a pool needs.
     *
     * @param count       number of buffers.
     * @param elementSize bytes per buffer, a positive multiple of 8.
     * @return length in bytes.
     */
    public static long requiredBytes(final int count, final int elementSize)
    {
        return MempoolDescriptor.requiredBytes(count, elementSize);
    }

    /**
     * Allocate a pool of {@value MempoolDescriptor#DEFAULT_ELEMENT_SIZE}-byte buffers in its own
     * shared {@link Arena}, freed by {@link #close()}.
     *
     * @param count number of buffers.
     * @return a pool with every buffer free.
     */
    public static Mempool allocate(final int count)
    {
        return allocate(count, MempoolDescriptor.DEFAULT_ELEMENT_SIZE);
    }

    /**
     * Allocate a pool in its own shared {@link Arena}, freed by {@link #close()}.
     *
     * @param count       number of buffers.
     * @param elementSize bytes per buffer, a positive multiple of 8.
     * @return a pool with every buffer free.
     */
    public static Mempool allocate(final int count, final int elementSize)
    {
        final long bytes = requiredBytes(count, elementSize);
        final Arena arena = Arena.ofShared();
        return wrap(arena.allocate(bytes, MempoolDescriptor.DATA_ALIGNMENT), count, elementSize, true, arena);
    }

    /**
     * Place a pool in memory the caller owns, e.g. a region shared with another process.
     *
     * @param segment     at least {@link #requiredBytes(int, int)} long, 8-byte aligned (128
     *                    recommended); the pool uses its start.
     * @param count       number of buffers.
     * @param elementSize bytes per buffer, a positive multiple of 8.
     * @param initialise  true to write a pool with every buffer free (the creator), false to
     *                    attach to a pool another party initialised (its header is checked).
     * @return the pool.
     */
    public static Mempool wrap(
        final MemorySegment segment, final int count, final int elementSize, final boolean initialise)
    {
        return wrap(segment, count, elementSize, initialise, null);
    }

    private static Mempool wrap(
        final MemorySegment segment,
        final int count,
        final int elementSize,
        final boolean initialise,
        final Arena arena)
    {
        final long bytes = requiredBytes(count, elementSize);
        if (segment.byteSize() < bytes)
        {
            throw new IllegalArgumentException(
                "segment too small for pool: need " + bytes + " bytes, got " + segment.byteSize());
        }
        final MemorySegment memory = segment.asSlice(0, bytes);
        final int ringCapacity = MempoolDescriptor.ringCapacity(count);
        final MemorySegment ringSegment = memory.asSlice(RING_OFFSET, MpmcRing.requiredBytes(ringCapacity));
        if (initialise)
        {
            final MpmcRing ring = MpmcRing.wrap(ringSegment, ringCapacity, true);
            final long dataOffset = MempoolDescriptor.dataOffset(count);
            final long[] chunk = new long[256];
            for (int i = 0; i < count; )
            {
                final int n = Math.min(chunk.length, count - i);
                for (int j = 0; j < n; j++)
                {
                    chunk[j] = dataOffset + (long)(i + j) * elementSize;
                }
                ring.enqueueBulk(chunk, 0, n);
                i += n;
            }
            memory.set(ValueLayout.JAVA_INT, ELEMENT_SIZE_OFFSET, elementSize);
            memory.set(ValueLayout.JAVA_INT, COUNT_OFFSET, count);
            memory.set(ValueLayout.JAVA_INT, RING_CAPACITY_OFFSET, ringCapacity);
            INT.setRelease(memory, MAGIC_OFFSET, MAGIC);
            return new Mempool(memory, ring, count, elementSize, arena);
        }

        final int magic = (int)INT.getAcquire(memory, MAGIC_OFFSET);
        if (magic != MAGIC)
        {
            throw new IllegalStateException(
                "segment does not hold an initialised pool: magic 0x" + Integer.toHexString(magic));
        }
        final int actualSize = memory.get(ValueLayout.JAVA_INT, ELEMENT_SIZE_OFFSET);
        final int actualCount = memory.get(ValueLayout.JAVA_INT, COUNT_OFFSET);
        if (actualSize != elementSize || actualCount != count)
        {
            throw new IllegalStateException("segment holds a pool of " + actualCount + " x " + actualSize +
                " bytes, expected " + count + " x " + elementSize);
        }
        return new Mempool(memory, MpmcRing.wrap(ringSegment, ringCapacity, false), count, elementSize, arena);
    }

    /**
     * Turn validation of freed handles on or off (off by default). Set before the pool is shared.
     *
     * @param enabled true to check every handle given to a free call.
     * @return this pool.
     */
    public Mempool handleChecks(final boolean enabled)
    {
        this.handleChecks = enabled;
        return this;
    }

    /**
     * The segment holding the pool; buffers are at {@link #offset(long)} in it.
     *
     * @return the pool's memory.
     */
    public MemorySegment memory()
    {
        return memory;
    }

    /**
     * Byte offset in {@link #memory()} of a buffer.
     *
     * @param handle a handle from this pool.
     * @return offset of the buffer's first byte.
     */
    public long offset(final long handle)
    {
        return handle;
    }

    /**
     * Index of a buffer, from 0 to {@code count() - 1}.
     *
     * @param handle a handle from this pool.
     * @return its index.
     */
    public int index(final long handle)
    {
        return (int)((handle - dataOffset) / elementSize);
    }

    /**
     * Handle of the buffer with this index.
     *
     * @param index from 0 to {@code count() - 1}.
     * @return its handle.
     */
    public long handle(final int index)
    {
        return dataOffset + (long)index * elementSize;
    }

    /**
     * Number of buffers in the pool.
     *
     * @return buffer count.
     */
    public int count()
    {
        return count;
    }

    /**
     * Size of each buffer.
     *
     * @return bytes per buffer.
     */
    public int elementSize()
    {
        return elementSize;
    }

    /**
     * Free buffers: in the shared ring plus in every {@link Cache} of this pool object. Exact when
     * no thread is allocating or freeing; buffers in caches of another process are not counted.
     *
     * @return number of free buffers.
     */
    public int available()
    {
        int available = ring.size();
        for (final Cache cache : caches)
        {
            available += cache.count;
        }
        return available;
    }

    /**
     * Make a cache of {@value #DEFAULT_CACHE_SIZE} handles for one thread.
     *
     * @return a cache registered with this pool.
     */
    public Cache createCache()
    {
        return createCache(DEFAULT_CACHE_SIZE);
    }

    /**
     * Make a cache for one thread. It holds up to {@code 1.5 x size} handles before flushing back
     * to {@code size}; allocations refill it to {@code size}.
     *
     * @param size number of handles the cache aims to hold, at least 1.
     * @return a cache registered with this pool.
     */
    public Cache createCache(final int size)
    {
        if (size < 1)
        {
            throw new IllegalArgumentException("cache size must be at least 1, got " + size);
        }
        final Cache cache = new Cache(this, size);
        caches.add(cache);
        return cache;
    }

    /**
     * Take one buffer.
     *
     * @param cache the calling thread's cache, or null to use the shared ring directly.
     * @return a handle, or {@link #NO_HANDLE} if no buffer is free.
     */
    public long alloc(final Cache cache)
    {
        if (null != cache)
        {
            int cached = cache.count;
            if (cached == 0)
            {
                cached = refill(cache, 0, cache.size);
                if (cached == 0)
                {
                    return NO_HANDLE;
                }
            }
            cache.count = cached - 1;
            return cache.stack[cached - 1];
        }

        for (int attempt = 0; ; attempt++)
        {
            final long handle = ring.poll();
            if (NO_HANDLE != handle || 0 == ring.size() || attempt >= TRANSIENT_RETRIES)
            {
                return handle;
            }
            backoff(attempt);
        }
    }

    /**
     * Take exactly {@code n} buffers or none.
     *
     * @param cache the calling thread's cache, or null to use the shared ring directly.
     * @param out   receives the handles.
     * @param off   index in {@code out} of the first handle.
     * @param n     number of buffers.
     * @return true if {@code out[off, off + n)} now holds {@code n} handles, false if fewer were
     *         free (nothing was taken).
     */
    public boolean allocBulk(final Cache cache, final long[] out, final int off, final int n)
    {
        if (n <= 0)
        {
            return n == 0;
        }
        if (null == cache || n > cache.size)
        {
            return takeFromRing(out, off, n);
        }

        int cached = cache.count;
        if (cached < n)
        {
            cached = refill(cache, cached, cache.size + n);
            if (cached < n)
            {
                return false;
            }
        }
        final int top = cached - n;
        System.arraycopy(cache.stack, top, out, off, n);
        cache.count = top;
        return true;
    }

    /**
     * Return one buffer.
     *
     * @param cache  the calling thread's cache, or null to use the shared ring directly.
     * @param handle a handle this pool handed out and that is not free.
     * @throws IllegalArgumentException if handle checks are on and the handle is not a buffer of
     *                                  this pool.
     */
    public void free(final Cache cache, final long handle)
    {
        if (handleChecks)
        {
            checkHandle(handle);
        }
        if (null != cache)
        {
            final int cached = cache.count;
            cache.stack[cached] = handle;
            cache.count = cached + 1;
            if (cached + 1 >= cache.flushThreshold)
            {
                flush(cache);
            }
            return;
        }

        for (int attempt = 0; !ring.offer(handle); attempt++)
        {
            checkOverflow(1);
            backoff(attempt);
        }
    }

    /**
     * Return {@code n} buffers.
     *
     * @param cache   the calling thread's cache, or null to use the shared ring directly.
     * @param handles the handles, each handed out by this pool and not free.
     * @param off     index of the first handle.
     * @param n       number of handles.
     * @throws IllegalArgumentException if handle checks are on and a handle is not a buffer of
     *                                  this pool (no handle is freed then).
     */
    public void freeBulk(final Cache cache, final long[] handles, final int off, final int n)
    {
        if (n <= 0)
        {
            return;
        }
        if (handleChecks)
        {
            for (int i = 0; i < n; i++)
            {
                checkHandle(handles[off + i]);
            }
        }
        if (null == cache || n > cache.size)
        {
            giveToRing(handles, off, n);
            return;
        }

        final int cached = cache.count;
        System.arraycopy(handles, off, cache.stack, cached, n);
        cache.count = cached + n;
        if (cached + n >= cache.flushThreshold)
        {
            flush(cache);
        }
    }

    /**
     * Check that a value is the handle of a buffer of this pool.
     *
     * @param handle the value to check.
     * @throws IllegalArgumentException if it is out of range or not at the start of a buffer.
     */
    public void checkHandle(final long handle)
    {
        if (handle < dataOffset || handle >= dataEnd)
        {
            throw new IllegalArgumentException("handle " + handle + " is not a buffer of this pool: out of range [" +
                dataOffset + ", " + dataEnd + ")");
        }
        if ((handle - dataOffset) % elementSize != 0)
        {
            throw new IllegalArgumentException("handle " + handle + " is not a buffer of this pool: misaligned " +
                "(buffers start at " + dataOffset + " every " + elementSize + " bytes)");
        }
    }

    /**
     * Free the pool's memory if {@link #allocate(int, int)} made it; a wrapped pool's memory
     * belongs to the caller. No thread may use the pool afterwards.
     */
    public void close()
    {
        if (null != arena)
        {
            arena.close();
        }
    }

    public String toString()
    {
        return "Mempool{count=" + count + ", elementSize=" + elementSize + ", available=" + available() + '}';
    }

    /**
     * Fill the cache stack from the ring up to {@code target} handles (best effort).
     *
     * @return the new number of handles in the cache.
     */
    private int refill(final Cache cache, final int cached, final int target)
    {
        int filled = cached;
        for (int attempt = 0; filled < target; attempt++)
        {
            final int taken = ring.dequeueBurst(cache.stack, filled, target - filled);
            filled += taken;
            if (0 == taken)
            {
                // The ring may look empty while a producer is publishing handles it has claimed.
                if (0 == ring.size() || attempt >= TRANSIENT_RETRIES)
                {
                    break;
                }
                backoff(attempt);
            }
        }
        cache.count = filled;
        return filled;
    }

    private void flush(final Cache cache)
    {
        final int size = cache.size;
        giveToRing(cache.stack, size, cache.count - size);
        cache.count = size;
    }

    private boolean takeFromRing(final long[] out, final int off, final int n)
    {
        for (int attempt = 0; ; attempt++)
        {
            if (ring.dequeueBulk(out, off, n))
            {
                return true;
            }
            // Not enough published handles; wait only if producers have claimed enough positions.
            if (ring.size() < n || attempt >= TRANSIENT_RETRIES)
            {
                return false;
            }
            backoff(attempt);
        }
    }

    private void giveToRing(final long[] src, final int off, final int n)
    {
        int given = 0;
        for (int attempt = 0; given < n; attempt++)
        {
            final int put = ring.enqueueBurst(src, off + given, n - given);
            given += put;
            if (0 == put)
            {
                checkOverflow(n - given);
                backoff(attempt);
            }
        }
    }

    private void checkOverflow(final int pending)
    {
        // A full-looking ring is normally room still being released by consumers that have claimed
        // it; a really full one means more buffers came back than the pool has.
        if (ring.size() + pending > ring.capacity())
        {
            throw new IllegalStateException(
                "pool free ring overflow: a buffer was freed twice or does not belong to this pool");
        }
    }

    private static void backoff(final int attempt)
    {
        if (attempt < 64)
        {
            Thread.onSpinWait();
        }
        else
        {
            Thread.yield();
        }
    }

    /**
     * A per-thread (per-lcore) stack of free handles in front of the pool's shared ring. Owned by
     * one thread at a time; not thread-safe. {@link #close()} returns its handles to the ring and
     * unregisters it.
     */
    public static final class Cache implements AutoCloseable
    {
        private final Mempool pool;
        private final int size;
        private final int flushThreshold;
        private final long[] stack;
        private int count;

        private Cache(final Mempool pool, final int size)
        {
            this.pool = pool;
            this.size = size;
            this.flushThreshold = Math.max(size + (size >> 1), size + 1);
            this.stack = new long[flushThreshold + size];
        }

        /**
         * Number of handles the cache aims to hold.
         *
         * @return cache size.
         */
        public int size()
        {
            return size;
        }

        /**
         * Number of free handles in the cache now.
         *
         * @return handles in the cache.
         */
        public int count()
        {
            return count;
        }

        /**
         * Return every cached handle to the pool's ring and unregister the cache.
         */
        public void close()
        {
            if (count > 0)
            {
                pool.giveToRing(stack, 0, count);
                count = 0;
            }
            pool.caches.remove(this);
        }
    }
}

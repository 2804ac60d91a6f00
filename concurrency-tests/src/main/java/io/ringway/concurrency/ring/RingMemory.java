package io.ringway.concurrency.ring;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Native memory for one test state: freed by the GC, as jcstress creates states in large numbers.
 */
final class RingMemory
{
    private RingMemory()
    {
    }

    static MemorySegment allocate(final long bytes)
    {
        return Arena.ofAuto().allocate(bytes, 128);
    }

    static MemorySegment payloads(final int count)
    {
        return allocate((long)count * Long.BYTES);
    }

    static void writePayload(final MemorySegment payloads, final long handle, final long value)
    {
        payloads.set(ValueLayout.JAVA_LONG, handle * Long.BYTES, value);
    }

    static long readPayload(final MemorySegment payloads, final long handle)
    {
        return payloads.get(ValueLayout.JAVA_LONG, handle * Long.BYTES);
    }
}

package io.ringway.concurrency.ring;

import io.ringway.runtime.ring.SpscRing;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import java.lang.foreign.MemorySegment;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * SPSC bulk enqueue / burst dequeue: the four handles of a bulk become visible together (one
 * release store), and each carries its payload. Result: (handles taken, handles with the right
 * payload).
 */
@JCStressTest
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "bulk not yet visible")
@Outcome(id = "4, 4", expect = ACCEPTABLE, desc = "whole bulk with payloads")
@Outcome(expect = FORBIDDEN, desc = "part of a bulk, or a handle without its payload")
@State
public class SpscBurstPublication
{
    private final SpscRing ring = SpscRing.wrap(RingMemory.allocate(SpscRing.requiredBytes(8)), 8, true);
    private final MemorySegment payloads = RingMemory.payloads(4);

    public SpscBurstPublication()
    {
        // start at index 6 so that the burst wraps around the end of the slot array
        final long[] scratch = new long[6];
        ring.enqueueBulk(scratch, 0, 6);
        ring.dequeueBulk(scratch, 0, 6);
    }

    @Actor
    public void producer()
    {
        final long[] handles = { 0, 1, 2, 3 };
        for (final long handle : handles)
        {
            RingMemory.writePayload(payloads, handle, 100 + handle);
        }
        ring.enqueueBulk(handles, 0, 4);
    }

    @Actor
    public void consumer(final II_Result r)
    {
        final long[] out = new long[4];
        final int n = ring.dequeueBurst(out, 0, 4);
        int good = 0;
        for (int i = 0; i < n; i++)
        {
            if (out[i] == i && RingMemory.readPayload(payloads, out[i]) == 100 + out[i])
            {
                good++;
            }
        }
        r.r1 = n;
        r.r2 = good;
    }
}

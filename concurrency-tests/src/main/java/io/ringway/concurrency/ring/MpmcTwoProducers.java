package io.ringway.concurrency.ring;

import io.ringway.runtime.ring.MpmcRing;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * MPMC, two producers racing for the producer index, one with a single offer and one with a bulk
 * of two: no handle is lost or written over, and each producer's handles stay in order. Result:
 * (handles in the ring, 1 if they are {1, 2, 3} with 2 and 3 adjacent and in order).
 */
@JCStressTest
@Outcome(id = "3, 1", expect = ACCEPTABLE, desc = "all handles, producer order kept")
@Outcome(expect = FORBIDDEN, desc = "lost, overwritten or reordered handle")
@State
public class MpmcTwoProducers
{
    private final MpmcRing ring = MpmcRing.wrap(RingMemory.allocate(MpmcRing.requiredBytes(4)), 4, true);

    public MpmcTwoProducers()
    {
        // start at index 3 so that the bulk may wrap around
        final long[] scratch = new long[3];
        ring.enqueueBulk(scratch, 0, 3);
        ring.dequeueBulk(scratch, 0, 3);
    }

    @Actor
    public void producer1()
    {
        ring.offer(1);
    }

    @Actor
    public void producer2()
    {
        ring.enqueueBulk(new long[]{ 2, 3 }, 0, 2);
    }

    @Arbiter
    public void check(final II_Result r)
    {
        final long[] out = new long[4];
        final int n = ring.dequeueBurst(out, 0, 4);
        r.r1 = n;
        // a bulk claims contiguous positions, so the single offer lands before or after it
        final boolean ordered = (out[0] == 1 && out[1] == 2 && out[2] == 3) ||
            (out[0] == 2 && out[1] == 3 && out[2] == 1);
        r.r2 = ordered ? 1 : 0;
    }
}

package io.ringway.concurrency.ring;

import io.ringway.runtime.ring.MpmcRing;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJJ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * MPMC, two consumers racing for the consumer index over handles {1, 2, 3}, one polling and one
 * taking a burst of two: no handle is taken twice and none is lost. Result: (handle polled by
 * consumer 1, sum of the handles of consumer 2's burst, handles left).
 */
@JCStressTest
@Outcome(id = { "1, 5, 0", "3, 3, 0" }, expect = ACCEPTABLE, desc = "each handle taken once")
@Outcome(expect = FORBIDDEN, desc = "a handle taken twice or lost")
@State
public class MpmcTwoConsumers
{
    private final MpmcRing ring = MpmcRing.wrap(RingMemory.allocate(MpmcRing.requiredBytes(4)), 4, true);

    public MpmcTwoConsumers()
    {
        final long[] scratch = new long[3];
        ring.enqueueBulk(scratch, 0, 3);
        ring.dequeueBulk(scratch, 0, 3);
        ring.enqueueBulk(new long[]{ 1, 2, 3 }, 0, 3);
    }

    @Actor
    public void consumer1(final JJJ_Result r)
    {
        r.r1 = ring.poll();
    }

    @Actor
    public void consumer2(final JJJ_Result r)
    {
        final long[] out = new long[2];
        final int n = ring.dequeueBurst(out, 0, 2);
        r.r2 = n == 2 ? out[0] + out[1] : -n;
    }

    @Arbiter
    public void left(final JJJ_Result r)
    {
        r.r3 = ring.size();
    }
}

package io.ringway.concurrency.ring;

import io.ringway.runtime.ring.MpmcRing;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * MPMC slot reuse: on a full ring, the producer may overwrite a slot only after the consumer has
 * read it. Result: (handle polled, 1 if the producer's offer succeeded).
 */
@JCStressTest
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "offer saw the ring full")
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "offer reused the slot after the poll read it")
@Outcome(expect = FORBIDDEN, desc = "poll read a slot the producer had already overwritten")
@State
public class MpmcSlotReuse
{
    private final MpmcRing ring = MpmcRing.wrap(RingMemory.allocate(MpmcRing.requiredBytes(2)), 2, true);

    public MpmcSlotReuse()
    {
        ring.offer(1);
        ring.offer(2);
    }

    @Actor
    public void consumer(final JJ_Result r)
    {
        r.r1 = ring.poll();
    }

    @Actor
    public void producer(final JJ_Result r)
    {
        r.r2 = ring.offer(3) ? 1 : 0;
    }
}

package io.ringway.concurrency.ring;

import io.ringway.runtime.ring.HandleRing;
import io.ringway.runtime.ring.SpscRing;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.J_Result;

import java.lang.foreign.MemorySegment;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * SPSC offer/poll: a consumer that polls a handle sees the payload the producer wrote before
 * offering it.
 */
@JCStressTest
@Outcome(id = "-1", expect = ACCEPTABLE, desc = "ring still empty")
@Outcome(id = "42", expect = ACCEPTABLE, desc = "handle and its payload seen")
@Outcome(expect = FORBIDDEN, desc = "handle seen without its payload")
@State
public class SpscOfferPollPublication
{
    private final SpscRing ring = SpscRing.wrap(RingMemory.allocate(SpscRing.requiredBytes(4)), 4, true);
    private final MemorySegment payloads = RingMemory.payloads(1);

    @Actor
    public void producer()
    {
        RingMemory.writePayload(payloads, 0, 42);
        ring.offer(0);
    }

    @Actor
    public void consumer(final J_Result r)
    {
        final long handle = ring.poll();
        r.r1 = handle == HandleRing.NO_HANDLE ? -1 : RingMemory.readPayload(payloads, handle);
    }
}

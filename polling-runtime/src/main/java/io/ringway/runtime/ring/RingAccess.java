package io.ringway.runtime.ring;

import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Var handles over {@link java.lang.foreign.MemorySegment} used by the rings. Coordinates are
 * {@code (MemorySegment, long offset)}; offsets must be passed as {@code long}.
 */
final class RingAccess
{
    static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    /** Busy spins before a waiting loop starts to yield the CPU. */
    static final int SPINS_BEFORE_YIELD = 64;

    private RingAccess()
    {
    }

    /**
     * Back off in a retry loop: spin first, then yield so that a preempted thread on the same core
     * can run.
     *
     * @param attempt attempt number, from 0.
     */
    static void backoff(final int attempt)
    {
        if (attempt < SPINS_BEFORE_YIELD)
        {
            Thread.onSpinWait();
        }
        else
        {
            Thread.yield();
        }
    }
}

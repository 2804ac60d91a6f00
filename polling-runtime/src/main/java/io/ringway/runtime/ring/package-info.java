/**
 * Bounded lock-free rings of 64-bit handles in off-heap memory, placeable in any
 * {@link java.lang.foreign.MemorySegment} (so in memory two processes share):
 * {@link io.ringway.runtime.ring.SpscRing} and {@link io.ringway.runtime.ring.MpmcRing}, both
 * {@link io.ringway.runtime.ring.HandleRing}s, with the byte layout in
 * {@link io.ringway.runtime.ring.RingDescriptor}.
 */
package io.ringway.runtime.ring;

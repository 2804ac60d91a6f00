package io.ringway.vcpu.workload;

import io.ringway.vcpu.guest.MicroGuest;

/**
 * A built driver-loop program and what the host needs to know about it.
 *
 * <p>Every program shares this part of the micro-guest layout:
 * <pre>
 *   0x10_8000 parameters and results ({@link GuestResults})
 *   0x40_0000 latency array (u64 TSC cycles per request, a ring of LATENCY_MASK + 1 entries)
 *   done port 0x10: the guest writes its error code (0: none) when it ends
 * </pre>
 *
 * @param name                    the workload name ("blk-driver", "net-loop")
 * @param code                    machine code, to load at {@link MicroGuest#CODE}
 * @param negotiationMmioAccesses MMIO register accesses before the loop: every MMIO exit of a run that went right
 * @param dataBytes               payload bytes per request
 * @param queueSize               the queue size the driver asks for
 */
public record DriverProgram(String name, byte[] code, int negotiationMmioAccesses, int dataBytes, int queueSize) {
    public static final long RESULTS = MicroGuest.DATA + 0x8000;
    public static final long LATENCIES = 0x40_0000;
    public static final int DONE_PORT = 0x10;

    /** Describes an error code the guest reported. */
    public String describeError(long code) {
        return DriverAsm.describeError(code, queueSize);
    }
}

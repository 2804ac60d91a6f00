package io.ringway.vcpu.workload;

/**
 * Layout of the parameters and results a driver-loop micro-guest shares with the host, in guest
 * memory at {@link DriverProgram#RESULTS}. All fields u64, little-endian; the host writes the
 * parameters before the vCPU starts and the stop flag while it runs; the guest writes the rest.
 *
 * <pre>
 *  0x00 requests      (host) requests to run; 0 = until STOP
 *  0x08 sector mask   (host) pair j uses block (j &amp; mask)
 *  0x10 seed          (host) data pattern seed
 *  0x18 verify        (host) 1: compare read data in the guest
 *  0x20 latency mask  (host) latency array entries - 1 (a power of 2 minus 1)
 *  0x28 no interrupts (host) 1: the driver sets VRING_AVAIL_F_NO_INTERRUPT (it polls anyway)
 *  0x30 block offset  (host, several vCPUs) first block of this vCPU's range
 *  0x38 latency base  (host, several vCPUs) guest-physical address of this vCPU's latency array
 *  0x40 stop          (host) 1 (STOP_AFTER_REQUEST): finish the current request and stop;
 *                     2 (STOP_NOW): stop waiting for a completion that does not come
 *  0x48 go            (guest vCPU 0, several vCPUs) 1 once the device is at DRIVER_OK: the
 *                     other vCPUs wait for it in vCPU 0's results area
 *  0x80 completed     (guest) requests completed, updated after each
 *  0x88 kicks         (guest) QueueNotify writes
 *  0x90 error         (guest) 0 or an error code ({@link DriverProgram#describeError})
 *  0x98 detail        (guest) the value that broke the rule
 *  0xa0 detail2       (guest) the value expected
 *  0xa8 tsc start     (guest) rdtsc after negotiation
 *  0xb0 tsc end       (guest) rdtsc at the end
 * </pre>
 * The stop flag has a cache line of its own, apart from what the guest writes per request.
 */
public final class GuestResults {
    private GuestResults() {
    }

    public static final int REQUESTS = 0x00;
    public static final int SECTOR_MASK = 0x08;
    public static final int SEED = 0x10;
    public static final int VERIFY = 0x18;
    public static final int LATENCY_MASK = 0x20;
    public static final int NO_INTERRUPTS = 0x28;
    public static final int BLOCK_OFFSET = 0x30;
    public static final int LATENCY_BASE = 0x38;
    public static final int STOP = 0x40;
    public static final int GO = 0x48;
    /** STOP value: end after the request in flight completes (a duration is over). */
    public static final long STOP_AFTER_REQUEST = 1;
    /** STOP value: end now, even while waiting for a completion (the device stalled). */
    public static final int STOP_NOW = 2;
    public static final int COMPLETED = 0x80;
    public static final int KICKS = 0x88;
    public static final int ERROR = 0x90;
    public static final int DETAIL = 0x98;
    public static final int DETAIL2 = 0xa0;
    public static final int TSC_START = 0xa8;
    public static final int TSC_END = 0xb0;
}

package io.ringway.perf.jmh;

import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Split and packed virtqueues, driver and device on one thread, steady state: queue size 256,
 * EVENT_IDX negotiated, 64-byte device-readable buffers of one descriptor each. Times are per
 * descriptor.
 *
 * <ul>
 *   <li>{@code single}: the driver adds one buffer and publishes; the device pops it, pushes it
 *       used and publishes used; the driver harvests it.
 *   <li>{@code burst32}: the same with 32 buffers and one publish on each side.
 *   <li>{@code deviceBurst32}: the device side of {@code burst32} nearly alone: pop 32, push 32,
 *       publish once, plus the cheapest re-offer of the 32 buffers the format allows (split: one
 *       avail idx store per burst; packed: one 16-byte descriptor store per buffer) and no
 *       used-ring harvesting.
 * </ul>
 *
 * <p>Notification decisions (needsKick, needsNotification: one full fence each) are left out, as
 * a polling device and driver make them once per burst at most. The peer of {@code packed} is
 * {@code split} of the same method.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
        "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"})
public class VirtqueueBenchmark {
    static final int QUEUE_SIZE = 256;
    static final int BURST = 32;
    static final long FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
            | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);

    @Param({"split", "packed"})
    public String format;

    private VirtioQueuePair pair;
    private Virtqueue device;
    private DescriptorChain chain;
    // One single-entry chain per burst position, so a burst's buffers are distinct (no allocation).
    private long[][] addrs;
    private final int[] lens = {VirtioQueuePair.BUFFER_SIZE};
    private final boolean[] writable = {false};
    private long rounds;

    @Setup
    public void setUp(BenchmarkParams params) {
        pair = VirtioQueuePair.open(format, QUEUE_SIZE, FEATURES);
        device = pair.device();
        chain = new DescriptorChain(QUEUE_SIZE);
        addrs = new long[BURST][];
        for (int i = 0; i < BURST; i++) {
            addrs[i] = new long[] {VirtioQueuePair.bufferAddr(i)};
        }
        if (params.getBenchmark().endsWith(".deviceBurst32")) {
            pair.prepareRearm();
        } else {
            // Self-check: a round trip returns the buffer it offered, with the length pushed.
            int id = pair.add(addrs[0], lens, writable, 1);
            pair.publish();
            if (!device.pop(chain) || chain.length() != 1 || chain.addr(0) != addrs[0][0]
                    || chain.len(0) != VirtioQueuePair.BUFFER_SIZE || chain.isWritable(0)) {
                throw new IllegalStateException("setup round trip: pop failed or chain wrong, " + device.brokenReason());
            }
            device.pushUsed(chain, 7);
            device.publishUsed();
            long used = pair.pollUsed();
            if (used != (((long) id << 32) | 7)) {
                throw new IllegalStateException("setup round trip: used element " + Long.toHexString(used));
            }
        }
    }

    @TearDown
    public void tearDown() {
        try {
            if (device.isBroken()) {
                throw new IllegalStateException(format + " queue broke: " + device.brokenReason());
            }
            if (rounds == 0) {
                throw new IllegalStateException("no round was measured");
            }
        } finally {
            pair.close();
        }
    }

    @Benchmark
    public void single(Blackhole bh) {
        pair.add(addrs[0], lens, writable, 1);
        pair.publish();
        if (!device.pop(chain)) {
            throw new IllegalStateException("pop found nothing: " + device.brokenReason());
        }
        bh.consume(chain.length());
        device.pushUsed(chain, 0);
        device.publishUsed();
        bh.consume(harvest());
        rounds++;
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public void burst32(Blackhole bh) {
        for (int i = 0; i < BURST; i++) {
            pair.add(addrs[i], lens, writable, 1);
        }
        pair.publish();
        for (int i = 0; i < BURST; i++) {
            if (!device.pop(chain)) {
                throw new IllegalStateException("pop found nothing: " + device.brokenReason());
            }
            bh.consume(chain.length());
            device.pushUsed(chain, 0);
        }
        device.publishUsed();
        for (int i = 0; i < BURST; i++) {
            bh.consume(harvest());
        }
        rounds++;
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public void deviceBurst32(Blackhole bh) {
        pair.rearm(BURST);
        for (int i = 0; i < BURST; i++) {
            if (!device.pop(chain)) {
                throw new IllegalStateException("pop found nothing: " + device.brokenReason());
            }
            bh.consume(chain.length());
            device.pushUsed(chain, 0);
        }
        device.publishUsed();
        rounds++;
    }

    private long harvest() {
        long used = pair.pollUsed();
        if (used == -1) {
            throw new IllegalStateException("driver found no used element");
        }
        return used;
    }
}

package io.ringway.perf.jmh;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.device.VirtioNetFeatures;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.net.l2switch.MacTable;
import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryRegion;
import io.ringway.vhost.virtio.SplitQueue;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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

/**
 * The L2 switch's per-frame cost between two virtio-net devices, drivers and devices on one thread
 * (so no cross-core cache traffic: the CPU work of the path alone, which a loaded machine does not
 * distort the way it distorts a packet race). Per operation one 64-byte frame (plus the 12-byte
 * net header) goes from guest A's transmitq through the switch into guest B's receiveq, in bursts
 * of 32; B's address is learned on port 1. Split rings, EVENT_IDX, no MRG_RXBUF.
 *
 * <p>{@code path=zeroCopy}: the switch is fused into A's transmit processing ({@link L2Switch#fuse})
 * and copies each frame from A's buffer into B's. {@code path=mbuf}: A's transmitq copies each frame
 * into a packet buffer and a ring, the switch polls it into B's ring, B's receiveq copies it out
 * (the path before the zero-copy one). Each operation makes the same calls in both: A's transmitq,
 * the switch's poll, B's receiveq, as an lcore loop does; the drivers' work is included.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
        "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"})
public class SwitchBenchmark {
    static final int QUEUE_SIZE = 256;
    static final int BURST = 32;
    static final int FRAME = 64;
    static final int HDR = 12;
    static final int RX_BUFFER = 2048;
    static final long FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
            | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX) | VirtioFeatures.mask(VirtioNetFeatures.MAC);
    static final byte[] MAC_A = {0x02, 0, 0, 0, 0, 0x0a};
    static final byte[] MAC_B = {0x02, 0, 0, 0, 0, 0x0b};
    // Guest-physical layout of the one 4 MiB region both guests share (they are two devices' views of it).
    static final long A_TX_RING = 0x1_0000;
    static final long B_RX_RING = 0x2_0000;
    static final long A_RX_RING = 0x3_0000;
    static final long B_TX_RING = 0x4_0000;
    static final long A_TX_BUFFERS = 0x10_0000;
    static final long B_RX_BUFFERS = 0x20_0000;

    @Param({"zeroCopy", "mbuf"})
    public String path;

    private Arena arena;
    private GuestMemory memory;
    private Mempool pool;
    private StatsRegistry stats;
    private Path statsFile;
    private VirtioNetDevice a;
    private VirtioNetDevice b;
    private VhostUserPort portA;
    private VhostUserPort portB;
    private L2Switch sw;
    private DriverSplitQueue aTx;
    private DriverSplitQueue bRx;
    private final long[][] txAddr = new long[BURST][];
    private final long[][] rxAddr = new long[BURST][];
    private final int[] txLen = {HDR + FRAME};
    private final int[] rxLen = {RX_BUFFER};
    private final boolean[] readable = {false};
    private final boolean[] writable = {true};
    private long frames;

    @Setup
    public void setUp() throws Exception {
        arena = Arena.ofShared();
        MemorySegment ram = arena.allocate(4 << 20, 4096);
        memory = GuestMemory.of(GuestMemoryRegion.of(0, ram));
        pool = Mbuf.createPool(4096);
        statsFile = Files.createTempFile("switch-bench", ".stats");
        stats = StatsRegistry.open(statsFile, 512);
        a = VirtioNetDevice.builder(pool).name("a").stats(stats).portId(0).build();
        b = VirtioNetDevice.builder(pool).name("b").stats(stats).portId(1).build();
        aTx = new DriverSplitQueue(memory, QUEUE_SIZE, A_TX_RING, A_TX_RING + 0x1000, A_TX_RING + 0x2000, FEATURES);
        bRx = new DriverSplitQueue(memory, QUEUE_SIZE, B_RX_RING, B_RX_RING + 0x1000, B_RX_RING + 0x2000, FEATURES);
        DriverSplitQueue aRx = new DriverSplitQueue(memory, QUEUE_SIZE, A_RX_RING, A_RX_RING + 0x1000, A_RX_RING + 0x2000, FEATURES);
        DriverSplitQueue bTx = new DriverSplitQueue(memory, QUEUE_SIZE, B_TX_RING, B_TX_RING + 0x1000, B_TX_RING + 0x2000, FEATURES);
        a.activate(FEATURES, memory, List.of(queue(aRx), queue(aTx)));
        b.activate(FEATURES, memory, List.of(queue(bRx), queue(bTx)));
        // What the vhost-user back-end tells a device on its lcore once the receiveq is polled there.
        b.vringPolling(0, true);
        a.vringPolling(0, true);
        portA = new VhostUserPort("a", a, stats);
        portB = new VhostUserPort("b", b, stats);
        sw = L2Switch.builder(stats).port(portA).port(portB).age(Duration.ofDays(1)).build();
        sw.macTable().learn(MacTable.mac(MAC_B), 1, System.nanoTime());
        sw.fuse("zeroCopy".equals(path));
        for (int i = 0; i < BURST; i++) {
            long at = A_TX_BUFFERS + (long) i * RX_BUFFER;
            txAddr[i] = new long[] {at};
            rxAddr[i] = new long[] {B_RX_BUFFERS + (long) i * RX_BUFFER};
            MemorySegment.copy(MAC_B, 0, ram, ValueLayout.JAVA_BYTE, at + HDR, 6);
            MemorySegment.copy(MAC_A, 0, ram, ValueLayout.JAVA_BYTE, at + HDR + 6, 6);
        }
    }

    private Virtqueue queue(DriverSplitQueue driver) {
        SplitQueue q = new SplitQueue(QUEUE_SIZE);
        q.activate(memory, driver.config(FEATURES));
        // As a polling lcore runs them (VringPoller): no kicks asked for, so pop writes no avail_event.
        q.disableNotifications();
        return q;
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public int frame() {
        for (int i = 0; i < BURST; i++) {
            bRx.add(rxAddr[i], rxLen, writable, 1);
            aTx.add(txAddr[i], txLen, readable, 1);
        }
        bRx.publish();
        aTx.publish();
        a.process(1);
        sw.doWork();
        b.process(0);
        int got = 0;
        while (bRx.pollUsed() >= 0) {
            got++;
        }
        while (aTx.pollUsed() >= 0) {
            // transmit buffers back
        }
        if (got != BURST) {
            throw new IllegalStateException(path + ": guest B received " + got + " of " + BURST + " frames; "
                    + sw.counters(1));
        }
        frames += got;
        return got;
    }

    /**
     * The same operation timed by this thread's CPU time instead of the wall clock, for a loaded
     * machine where JMH's wall-clock figures are noise (being descheduled costs no CPU time; other
     * tenants' cache pollution still counts). Prints the CPU nanoseconds per frame of 5 rounds after
     * 3 warm-up rounds of 200,000 bursts. Run one path per JVM, as JMH's forks do: {@code java
     * --enable-native-access=ALL-UNNAMED -cp cli/target/ringway-cli.jar
     * io.ringway.perf.jmh.SwitchBenchmark zeroCopy} (or {@code mbuf}).
     */
    public static void main(String[] args) throws Exception {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        SwitchBenchmark b = new SwitchBenchmark();
        b.path = args.length > 0 ? args[0] : "zeroCopy";
        b.setUp();
        try {
            int bursts = 200_000;
            for (int round = 0; round < 8; round++) {
                long start = mx.getCurrentThreadCpuTime();
                for (int i = 0; i < bursts; i++) {
                    b.frame();
                }
                double ns = (mx.getCurrentThreadCpuTime() - start) / ((double) bursts * BURST);
                if (round >= 3) {
                    System.out.printf("%s: %.1f ns of CPU per frame (round %d)%n", b.path, ns, round - 2);
                }
            }
        } finally {
            b.tearDown();
        }
    }

    @TearDown
    public void tearDown() throws Exception {
        try {
            long zeroCopy = sw.counters(1).txZeroCopy.get();
            if (frames == 0 || sw.counters(1).tx.get() != frames) {
                throw new IllegalStateException("switch tx " + sw.counters(1).tx.get() + ", frames " + frames);
            }
            if ("zeroCopy".equals(path) != (zeroCopy == frames)) {
                throw new IllegalStateException(path + ": " + zeroCopy + " of " + frames + " frames went zero-copy");
            }
        } finally {
            sw.fuse(false);
            sw.close();
            portA.close();
            portB.close();
            a.close();
            b.close();
            pool.close();
            stats.close();
            arena.close();
            Files.deleteIfExists(statsFile);
        }
    }
}

package io.ringway.perf.jmh;

import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Guest-physical address translation, per lookup: {@link GuestMemory#findGpa} of an 8-byte range,
 * then a read of those 8 bytes at {@link GuestMemory#gpaOffset} in {@link GuestMemory#segment}.
 *
 * <p>Regions are 64 KiB with 1 MiB of guest-physical space between their bases (holes between
 * them, as in a real memory map). Each call takes the next of {@value #ADDRESSES} precomputed
 * addresses, so every method pays the same cursor cost:
 * <ul>
 *   <li>{@code cachedRegion}: every address in the last region (the region hint always hits).
 *   <li>{@code roundRobin}: address {@code i} in region {@code i % regions}, so with more than one
 *       region the hint always misses and each lookup is a binary search (with one region it is the
 *       same as {@code cachedRegion}).
 *   <li>{@code direct}: the peer, no translation: the same 8-byte read at a precomputed offset of
 *       one region's segment.
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
        "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"})
public class GuestMemoryBenchmark {
    static final long REGION_SIZE = 64 * 1024;
    static final long REGION_STRIDE = 1 << 20;
    static final int ADDRESSES = 1024;
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Param({"1", "8"})
    public int regions;

    private Arena arena;
    private GuestMemory memory;
    private long[] cachedGpas;
    private long[] roundRobinGpas;
    private long[] directOffsets;
    private MemorySegment directSegment;
    private int cursor;

    @Setup
    public void setUp() {
        arena = Arena.ofShared();
        List<GuestMemoryRegion> list = new ArrayList<>();
        for (int r = 0; r < regions; r++) {
            MemorySegment seg = arena.allocate(REGION_SIZE, 4096);
            for (long off = 0; off < REGION_SIZE; off += 8) {
                seg.set(LE64, off, r * REGION_STRIDE + off);
            }
            list.add(GuestMemoryRegion.of(r * REGION_STRIDE, seg));
        }
        memory = GuestMemory.of(list);
        cachedGpas = new long[ADDRESSES];
        roundRobinGpas = new long[ADDRESSES];
        directOffsets = new long[ADDRESSES];
        int last = regions - 1;
        for (int i = 0; i < ADDRESSES; i++) {
            // A spread of 8-aligned offsets that stays inside a region.
            long off = (i * 4104L) % (REGION_SIZE - 8) & ~7L;
            cachedGpas[i] = last * REGION_STRIDE + off;
            roundRobinGpas[i] = (i % regions) * REGION_STRIDE + off;
            directOffsets[i] = off;
        }
        directSegment = memory.segment(last);
        // Self-check: each region holds its own guest-physical addresses. Only a few lookups: findGpa's
        // profile is shared by all callers, and a thousand misses here made C2 compile the hit path
        // of cachedRegion 60% slower (8 regions: 6.5 ns instead of 4.0 ns).
        for (int i = 0; i < regions; i++) {
            check(roundRobinGpas[i]);
        }
        check(cachedGpas[0]);
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public long cachedRegion() {
        return read(cachedGpas[cursor++ & (ADDRESSES - 1)]);
    }

    @Benchmark
    public long roundRobin() {
        return read(roundRobinGpas[cursor++ & (ADDRESSES - 1)]);
    }

    @Benchmark
    public long direct() {
        return directSegment.get(LE64, directOffsets[cursor++ & (ADDRESSES - 1)]);
    }

    private void check(long gpa) {
        if (read(gpa) != gpa) {
            throw new IllegalStateException("translation of 0x" + Long.toHexString(gpa) + " is wrong");
        }
    }

    private long read(long gpa) {
        int r = memory.findGpa(gpa, 8);
        if (r < 0) {
            throw new IllegalStateException("0x" + Long.toHexString(gpa) + " is outside guest memory");
        }
        return memory.segment(r).get(LE64, memory.gpaOffset(r, gpa));
    }
}

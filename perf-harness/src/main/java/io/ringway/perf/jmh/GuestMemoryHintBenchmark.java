package io.ringway.perf.jmh;

import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * Two threads (two lcores' queues), each translating addresses in its own region of one
 * GuestMemory: the GuestMemory's shared last-region hint, which both threads overwrite, against
 * a hint each caller keeps (what SplitQueue and PackedQueue do), per lookup.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class GuestMemoryHintBenchmark {
    @State(Scope.Benchmark)
    public static class Mem {
        Arena arena;
        GuestMemory memory;

        @Setup
        public void setUp() {
            arena = Arena.ofShared();
            List<GuestMemoryRegion> list = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                list.add(GuestMemoryRegion.of(r * (1L << 20), arena.allocate(65536, 4096)));
            }
            memory = GuestMemory.of(list);
        }

        @TearDown
        public void tearDown() {
            arena.close();
        }
    }

    @State(Scope.Thread)
    public static class Me {
        long base;
        int cursor;
        int hint;

        @Setup
        public void setUp(ThreadParams t) {
            base = (t.getThreadIndex() & 1) * (1L << 20);
        }
    }

    @Benchmark
    public int sharedHint(Mem m, Me me) {
        return m.memory.findGpa(me.base + ((me.cursor++ & 1023) << 6), 8);
    }

    @Benchmark
    public int ownHint(Mem m, Me me) {
        int r = m.memory.findGpa(me.base + ((me.cursor++ & 1023) << 6), 8, me.hint);
        me.hint = r;
        return r;
    }
}

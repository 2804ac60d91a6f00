package io.ringway.storage.bdev;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bdev contract, run against every backend that stores data. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BlockDeviceTest {
    static final long SIZE = 4L << 20;

    @TempDir
    Path dir;

    final Arena arena = Arena.ofShared();
    final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        arena.close();
    }

    BlockDevice device(String kind, int blockSize) throws IOException {
        BlockDevice d = switch (kind) {
            case "malloc" -> new MallocBlockDevice("m0", SIZE, blockSize, false);
            case "file-preadv" -> FileBlockDevice.open("f0", file(), false, false, blockSize, FileBlockDevice.Engine.PREADV);
            case "file-io_uring" -> FileBlockDevice.open("f0", file(), false, false, blockSize, FileBlockDevice.Engine.IO_URING);
            case "file-direct" -> FileBlockDevice.open("f0", file(), true, false, blockSize, FileBlockDevice.Engine.AUTO);
            case "delay" -> new DelayBlockDevice(new MallocBlockDevice("m0", SIZE, blockSize, false),
                    LatencyDistribution.parse("uniform:10us-200us"));
            default -> throw new IllegalArgumentException(kind);
        };
        open.add(d);
        return d;
    }

    Path file() throws IOException {
        Path p = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        return p;
    }

    IoChannel channel(BlockDevice d, int depth) {
        IoChannel c = d.openChannel(depth, 16);
        open.add(c);
        return c;
    }

    MemorySegment buffer(long size) {
        return arena.allocate(size, 4096);
    }

    static void fill(MemorySegment s, int seed) {
        for (long i = 0; i < s.byteSize(); i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) (seed * 31 + i * 7 + (i >> 9)));
        }
    }

    /** Polls until the request with {@code tag} completes; returns its status. */
    static int await(IoChannel c, int tag) {
        int[] status = {-1};
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (status[0] < 0) {
            c.poll((t, s) -> {
                if (t == tag) {
                    status[0] = s;
                }
            });
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no completion for tag " + tag);
            }
        }
        return status[0];
    }

    static void drain(IoChannel c) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (c.inFlight() > 0) {
            c.poll((t, s) -> assertEquals(BlockStatus.OK, s, "tag " + t));
            if (System.nanoTime() > deadline) {
                throw new AssertionError(c.inFlight() + " requests never completed");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"malloc", "file-preadv", "file-io_uring", "file-direct", "delay"})
    void readAfterWriteReturnsTheWrittenBytes(String kind) throws IOException {
        BlockDevice d = device(kind, 512);
        IoChannel c = channel(d, 8);
        MemorySegment out = buffer(8192);
        fill(out, 3);
        assertEquals(BlockStatus.OK, c.write(4096, SgList.of(out), 1));
        assertEquals(BlockStatus.OK, await(c, 1));
        MemorySegment in = buffer(8192);
        assertEquals(BlockStatus.OK, c.read(4096, SgList.of(in), 2));
        assertEquals(BlockStatus.OK, await(c, 2));
        assertEquals(-1, in.mismatch(out));
    }

    @ParameterizedTest
    @ValueSource(strings = {"malloc", "file-preadv", "file-io_uring", "file-direct", "delay"})
    void scatterGatherListsMapOntoConsecutiveBlocks(String kind) throws IOException {
        BlockDevice d = device(kind, 512);
        IoChannel c = channel(d, 8);
        MemorySegment whole = buffer(3 * 4096);
        fill(whole, 9);
        // Written as one buffer, read back as three pieces of different sizes in a different order of memory.
        assertEquals(BlockStatus.OK, c.write(0, SgList.of(whole), 1));
        assertEquals(BlockStatus.OK, await(c, 1));
        MemorySegment a = buffer(4096);
        MemorySegment b = buffer(8192);
        SgList sg = new SgList(4);
        sg.add(b, 4096, 4096);
        sg.add(a, 0, 4096);
        sg.add(b, 0, 4096);
        assertEquals(BlockStatus.OK, c.read(0, sg, 2));
        assertEquals(BlockStatus.OK, await(c, 2));
        assertEquals(-1, b.asSlice(4096, 4096).mismatch(whole.asSlice(0, 4096)));
        assertEquals(-1, a.mismatch(whole.asSlice(4096, 4096)));
        assertEquals(-1, b.asSlice(0, 4096).mismatch(whole.asSlice(8192, 4096)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"malloc", "file-preadv", "file-io_uring", "delay"})
    void flushCompletesWithOk(String kind) throws IOException {
        BlockDevice d = device(kind, 4096);
        IoChannel c = channel(d, 4);
        MemorySegment out = buffer(4096);
        fill(out, 1);
        assertEquals(BlockStatus.OK, c.write(0, SgList.of(out), 1));
        assertEquals(BlockStatus.OK, await(c, 1));
        assertEquals(BlockStatus.OK, c.flush(2));
        assertEquals(BlockStatus.OK, await(c, 2));
    }

    @ParameterizedTest
    @ValueSource(strings = {"malloc", "file-preadv", "file-io_uring", "delay"})
    void discardAndWriteZeroesReadBackAsZeros(String kind) throws IOException {
        BlockDevice d = device(kind, 512);
        IoChannel c = channel(d, 4);
        MemorySegment out = buffer(64 * 1024);
        fill(out, 5);
        assertEquals(BlockStatus.OK, c.write(0, SgList.of(out), 1));
        assertEquals(BlockStatus.OK, await(c, 1));
        assertEquals(BlockStatus.OK, c.discard(4096, 4096, 2));
        assertEquals(BlockStatus.OK, await(c, 2));
        assertEquals(BlockStatus.OK, c.writeZeroes(16384, 512, 3));
        assertEquals(BlockStatus.OK, await(c, 3));
        MemorySegment in = buffer(64 * 1024);
        assertEquals(BlockStatus.OK, c.read(0, SgList.of(in), 4));
        assertEquals(BlockStatus.OK, await(c, 4));
        MemorySegment expected = buffer(64 * 1024);
        expected.copyFrom(out);
        expected.asSlice(4096, 4096).fill((byte) 0);
        expected.asSlice(16384, 512).fill((byte) 0);
        assertEquals(-1, in.mismatch(expected));
    }

    @ParameterizedTest
    @ValueSource(strings = {"malloc", "file-preadv", "file-io_uring", "delay"})
    void aFullChannelAnswersBusyAndQueuesNothing(String kind) throws IOException {
        BlockDevice d = device(kind, 512);
        IoChannel c = channel(d, 4);
        MemorySegment buf = buffer(512);
        for (int i = 0; i < 4; i++) {
            assertEquals(BlockStatus.OK, c.read(i * 512L, SgList.of(buf), i));
        }
        assertEquals(BlockStatus.BUSY, c.read(0, SgList.of(buf), 99));
        assertEquals(BlockStatus.BUSY, c.flush(99));
        assertEquals(4, c.inFlight());
        drain(c);
        assertEquals(BlockStatus.OK, c.read(0, SgList.of(buf), 5));
        drain(c);
    }

    @Test
    void nullDeviceCompletesEveryRequestAtTheNextPoll() {
        BlockDevice d = new NullBlockDevice("n0", 1L << 30, 512, false);
        open.add(d);
        IoChannel c = channel(d, 32);
        MemorySegment buf = buffer(4096);
        for (int i = 0; i < 32; i++) {
            assertEquals(BlockStatus.OK, c.read(i * 4096L, SgList.of(buf), i));
        }
        assertEquals(BlockStatus.BUSY, c.write(0, SgList.of(buf), 100));
        int[] seen = new int[1];
        assertEquals(32, c.poll((t, s) -> {
            assertEquals(seen[0]++, t);
            assertEquals(BlockStatus.OK, s);
        }));
        assertEquals(0, c.inFlight());
    }

    @Test
    void requestsOutsideTheDeviceOrMisalignedAreRejectedAtSubmit() {
        MallocBlockDevice d = new MallocBlockDevice("m0", SIZE, 4096, false);
        open.add(d);
        IoChannel c = channel(d, 4);
        MemorySegment buf = buffer(4096);
        assertEquals(BlockStatus.OUT_OF_RANGE, c.read(SIZE, SgList.of(buf), 1));
        assertEquals(BlockStatus.OUT_OF_RANGE, c.write(SIZE - 4096 + 4096L * 0 + 4096, SgList.of(buf), 1));
        assertEquals(BlockStatus.OUT_OF_RANGE, c.discard(4096, Long.MAX_VALUE - 4095, 1));
        assertEquals(BlockStatus.MISALIGNED, c.read(512, SgList.of(buf), 1));
        assertEquals(BlockStatus.MISALIGNED, c.read(0, SgList.of(buffer(512)), 1));
        assertEquals(0, c.inFlight());
        assertTrue(d.memory().asSlice(0, 8192).mismatch(MemorySegment.ofArray(new byte[8192])) == -1);
    }

    /** Like SPDK's malloc bdev: every page is there from creation, so no request pays a first-touch fault. */
    @Test
    void aMallocDeviceIsResidentInMemoryFromCreation() throws IOException {
        long size = 32L << 20;
        MallocBlockDevice d = new MallocBlockDevice("m0", size, 4096, false);
        open.add(d);
        long rss = mappingRssBytes(d.memory().address());
        assertTrue(rss >= size, "the mapping has " + rss + " bytes resident, expected all " + size);
        assertEquals(-1, d.memory().asSlice(0, 1 << 20).mismatch(MemorySegment.ofArray(new byte[1 << 20])),
                "a fresh RAM disk reads as zeros");
    }

    /** Rss of the mapping that starts at {@code address}, from /proc/self/smaps. */
    private static long mappingRssBytes(long address) throws IOException {
        String start = Long.toHexString(address) + "-";
        boolean in = false;
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/smaps"))) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                in = line.startsWith(start);
            } else if (in && line.startsWith("Rss:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new AssertionError("no mapping at 0x" + Long.toHexString(address) + " in /proc/self/smaps");
    }

    @Test
    void aMallocDeviceLargerThanTheAvailableMemoryIsRefusedWithTheFigures() {
        long available = io.ringway.runtime.sys.MemoryInfo.available().bytes();
        long tooBig = (available / 4096 + 1) * 4096 * 2;
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new MallocBlockDevice("big", tooBig, 4096, false));
        assertTrue(e.getMessage().contains("malloc bdev big: " + tooBig + " bytes do not fit")
                && e.getMessage().contains("bytes of memory available now"), e.getMessage());
    }

    @Test
    void aReadOnlyDeviceRefusesWrites() {
        MallocBlockDevice d = new MallocBlockDevice("m0", SIZE, 512, true);
        open.add(d);
        IoChannel c = channel(d, 4);
        MemorySegment buf = buffer(512);
        fill(buf, 1);
        assertEquals(BlockStatus.READ_ONLY, c.write(0, SgList.of(buf), 1));
        assertEquals(BlockStatus.READ_ONLY, c.discard(0, 512, 1));
        assertEquals(BlockStatus.READ_ONLY, c.writeZeroes(0, 512, 1));
        assertEquals(0, d.memory().get(ValueLayout.JAVA_BYTE, 1));
    }

    @Test
    void ioUringBatchesManyRequestsIntoOneEnter() throws IOException {
        FileBlockDevice d = FileBlockDevice.open("f0", file(), false, false, 4096, FileBlockDevice.Engine.IO_URING);
        open.add(d);
        IoChannel c = channel(d, 32);
        MemorySegment buf = buffer(32 * 4096);
        fill(buf, 11);
        SgList[] lists = new SgList[32];
        for (int i = 0; i < 32; i++) {
            lists[i] = new SgList(1);
            lists[i].add(buf, i * 4096L, 4096);
            assertEquals(BlockStatus.OK, c.write(i * 4096L, lists[i], i));
        }
        drain(c);
        MemorySegment in = buffer(32 * 4096);
        for (int i = 0; i < 32; i++) {
            lists[i].clear();
            lists[i].add(in, i * 4096L, 4096);
            assertEquals(BlockStatus.OK, c.read(i * 4096L, lists[i], i));
        }
        drain(c);
        assertEquals(-1, in.mismatch(buf));
    }
}

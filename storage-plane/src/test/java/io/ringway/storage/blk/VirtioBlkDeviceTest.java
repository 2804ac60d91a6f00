package io.ringway.storage.blk;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.FileBlockDevice;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** VirtioBlkDevice through the real vhost-user back-end, the Ringway front-end as the driver. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VirtioBlkDeviceTest {
    static final long DISK = 8L << 20;
    static Lcore lcore;

    @TempDir
    Path dir;

    @BeforeAll
    static void startLcore() {
        lcore = Lcore.builder("blk-test").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void stopLcore() {
        lcore.close();
    }

    static void fill(MemorySegment s, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < s.byteSize(); i += 8) {
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong());
        }
    }

    /**
     * Each queue writes its own region with up to 16 requests in flight (sizes 512 B to 64 KiB, data
     * in 1 to 3 descriptors), then reads it back in different request sizes and compares byte for byte,
     * with the driver's copy and with the RAM disk itself.
     */
    @ParameterizedTest(name = "packed={0}, queues={1}")
    @CsvSource({"false, 1", "true, 1", "false, 2", "true, 2"})
    void aPatternWrittenThroughTheQueuesReadsBackByteExact(boolean packed, int queues) {
        try (MallocBlockDevice bdev = new MallocBlockDevice("m0", DISK, 512, false);
             BlkRig rig = new BlkRig(lcore, dir.resolve("blk.sock"), bdev, VirtioBlkDevice.builder(bdev), packed, queues)) {
            assertEquals(packed, VirtioFeatures.has(rig.frontend.features(), VirtioFeatures.RING_PACKED));
            long region = DISK / queues;
            byte[][] expected = new byte[queues][];
            for (int q = 0; q < queues; q++) {
                BlkDriver d = rig.driver(q);
                MemorySegment pattern = MemorySegment.ofArray(new byte[(int) Math.min(region, 2L << 20)]);
                fill(pattern, 42 + q);
                expected[q] = pattern.toArray(ValueLayout.JAVA_BYTE);
                transfer(d, VirtioBlk.T_OUT, q * region, expected[q], 7 + q);
            }
            for (int q = 0; q < queues; q++) {
                BlkDriver d = rig.driver(q);
                byte[] back = new byte[expected[q].length];
                transfer(d, VirtioBlk.T_IN, q * region, back, 13 + q);
                assertTrue(Arrays.equals(expected[q], back), "queue " + q + " read back what it wrote");
                byte[] onDisk = bdev.memory().asSlice(q * region, back.length).toArray(ValueLayout.JAVA_BYTE);
                assertTrue(Arrays.equals(expected[q], onDisk), "queue " + q + " data is on the RAM disk");
            }
            long reqs = rig.device.metrics().stream().mapToLong(BlkMetrics::requests).sum();
            assertTrue(reqs > 0);
            assertEquals(0, rig.device.metrics().stream().mapToLong(BlkMetrics::errors).sum());
        }
    }

    /** Moves {@code buf} to or from the disk at {@code base}, 16 requests in flight, random sizes. */
    static void transfer(BlkDriver d, int type, long base, byte[] buf, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] slotOffset = new int[BlkDriver.SLOTS];
        int[] slotLen = new int[BlkDriver.SLOTS];
        int[] slotOfId = new int[1024];
        int[] freeSlots = new int[BlkDriver.SLOTS];
        int free = 0;
        for (int i = 0; i < BlkDriver.SLOTS; i++) {
            freeSlots[free++] = i;
        }
        int at = 0;
        int inFlight = 0;
        while (at < buf.length || inFlight > 0) {
            while (at < buf.length && free > 0) {
                int slot = freeSlots[--free];
                int len = Math.min(buf.length - at, 512 * (1 + r.nextInt(128)));
                int pieces = 1 + r.nextInt(Math.min(3, len / 512));
                if (type == VirtioBlk.T_OUT) {
                    MemorySegment.copy(buf, at, d.gpa(d.data(slot), len), ValueLayout.JAVA_BYTE, 0, len);
                }
                int id = d.postRequest(slot, type, (base + at) >>> 9, len, pieces, type == VirtioBlk.T_IN);
                slotOfId[id] = slot;
                slotOffset[slot] = at;
                slotLen[slot] = len;
                at += len;
                inFlight++;
            }
            long used = d.awaitUsed();
            int slot = slotOfId[(int) (used >>> 32)];
            assertEquals(VirtioBlk.S_OK, d.statusByte(slot), "status of a request at byte " + slotOffset[slot]);
            int expectedLen = type == VirtioBlk.T_IN ? slotLen[slot] + 1 : 1;
            assertEquals(expectedLen, (int) used, "used length");
            if (type == VirtioBlk.T_IN) {
                MemorySegment.copy(d.gpa(d.data(slot), slotLen[slot]), ValueLayout.JAVA_BYTE, 0, buf, slotOffset[slot], slotLen[slot]);
            }
            freeSlots[free++] = slot;
            inFlight--;
        }
    }

    @Test
    void configSpaceDescribesTheDisk() {
        try (MallocBlockDevice bdev = new MallocBlockDevice("m0", DISK, 4096, false);
             BlkRig rig = new BlkRig(lcore, dir.resolve("cfg.sock"), bdev, VirtioBlkDevice.builder(bdev), false, 2)) {
            ByteBuffer c = ByteBuffer.wrap(rig.frontend.getConfig(0, VirtioBlk.CONFIG_SIZE)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(DISK / 512, c.getLong(VirtioBlk.CFG_CAPACITY));
            assertEquals(4096, c.getInt(VirtioBlk.CFG_BLK_SIZE));
            assertEquals(126, c.getInt(VirtioBlk.CFG_SEG_MAX));
            assertEquals(1 << 20, c.getInt(VirtioBlk.CFG_SIZE_MAX));
            assertEquals(2, c.getShort(VirtioBlk.CFG_NUM_QUEUES));
            assertEquals(1, c.getInt(VirtioBlk.CFG_MAX_DISCARD_SEG));
            assertEquals(1, c.get(VirtioBlk.CFG_WRITEBACK));
            assertEquals(2, rig.frontend.getQueueNum());
            long f = rig.frontend.features();
            for (int bit : new int[] {VirtioBlk.F_SEG_MAX, VirtioBlk.F_SIZE_MAX, VirtioBlk.F_BLK_SIZE, VirtioBlk.F_FLUSH,
                    VirtioBlk.F_MQ, VirtioBlk.F_DISCARD, VirtioBlk.F_WRITE_ZEROES, VirtioBlk.F_CONFIG_WCE,
                    VirtioFeatures.VERSION_1, VirtioFeatures.EVENT_IDX}) {
                assertTrue(VirtioFeatures.has(f, bit), "feature bit " + bit);
            }
            assertFalse(VirtioFeatures.has(f, VirtioBlk.F_RO));
            rig.frontend.setConfig(VirtioBlk.CFG_WRITEBACK, new byte[] {0});
            assertFalse(rig.device.writeback(), "writeback is writable with CONFIG_WCE");
        }
    }

    @Test
    void flushGetIdDiscardAndWriteZeroesWork() {
        try (MallocBlockDevice bdev = new MallocBlockDevice("m0", DISK, 512, false);
             BlkRig rig = new BlkRig(lcore, dir.resolve("ops.sock"), bdev,
                     VirtioBlkDevice.builder(bdev).serial("disk-serial-0123456789"), false, 1)) {
            BlkDriver d = rig.driver(0);
            bdev.memory().asSlice(0, 65536).fill((byte) 0x5a);
            assertEquals(VirtioBlk.S_OK, d.request(VirtioBlk.T_FLUSH, 0, 0, 1, false, 1));
            assertEquals(VirtioBlk.S_OK, d.request(VirtioBlk.T_GET_ID, 0, 20, 1, true, 21));
            assertEquals("disk-serial-01234567", new String(d.gpa(d.data(0), 20).toArray(ValueLayout.JAVA_BYTE),
                    StandardCharsets.US_ASCII));
            dwz(d, 8, 8, 0);
            assertEquals(VirtioBlk.S_OK, d.request(VirtioBlk.T_DISCARD, 0, 16, 1, false, 1));
            dwz(d, 32, 4, VirtioBlk.DWZ_FLAG_UNMAP);
            assertEquals(VirtioBlk.S_OK, d.request(VirtioBlk.T_WRITE_ZEROES, 0, 16, 1, false, 1));
            byte[] disk = bdev.memory().asSlice(0, 65536).toArray(ValueLayout.JAVA_BYTE);
            for (int i = 0; i < disk.length; i++) {
                boolean zero = (i >= 8 * 512 && i < 16 * 512) || (i >= 32 * 512 && i < 36 * 512);
                assertEquals(zero ? 0 : 0x5a, disk[i], "byte " + i);
            }
        }
    }

    /** Writes one discard / write-zeroes segment into slot 0's data area. */
    static void dwz(BlkDriver d, long sector, int sectors, int flags) {
        MemorySegment s = d.gpa(d.data(0), 16);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, sector);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 8, sectors);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 12, flags);
    }

    @Test
    void aFileBackedDiskKeepsWhatWasWrittenAcrossFlush() throws Exception {
        Path img = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(DISK);
        }
        try (FileBlockDevice bdev = FileBlockDevice.open("f0", img, false, false, 512, FileBlockDevice.Engine.AUTO);
             BlkRig rig = new BlkRig(lcore, dir.resolve("file.sock"), bdev, VirtioBlkDevice.builder(bdev), true, 1)) {
            BlkDriver d = rig.driver(0);
            byte[] pattern = new byte[256 * 1024];
            fill(MemorySegment.ofArray(pattern), 7);
            transfer(d, VirtioBlk.T_OUT, 1 << 20, pattern, 1);
            assertEquals(VirtioBlk.S_OK, d.request(VirtioBlk.T_FLUSH, 0, 0, 1, false, 1));
            byte[] back = new byte[pattern.length];
            transfer(d, VirtioBlk.T_IN, 1 << 20, back, 2);
            assertTrue(Arrays.equals(pattern, back));
            try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
                byte[] onDisk = new byte[pattern.length];
                f.seek(1 << 20);
                f.readFully(onDisk);
                assertTrue(Arrays.equals(pattern, onDisk), "the file holds the pattern");
            }
        }
    }
}

package io.ringway.storage.blk;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.MallocBlockDevice;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Hostile requests, one rule each: the right status (IOERR or UNSUPP, or no status when there is no
 * place for one), nothing written out of range, and the queue keeps serving (every test ends with
 * a good write and read on the same queue). Every rule on split and on packed rings.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@ParameterizedClass(name = "packed={0}")
@ValueSource(booleans = {false, true})
class VirtioBlkBadInputTest {
    static final long DISK = 1L << 20;
    static final long SECTORS = DISK / 512;
    static Lcore lcore;

    @TempDir
    Path dir;

    @Parameter
    boolean packed;

    MallocBlockDevice bdev;
    BlkRig rig;
    BlkDriver d;

    @BeforeAll
    static void startLcore() {
        lcore = Lcore.builder("blk-bad").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void stopLcore() {
        lcore.close();
    }

    void open(boolean readOnly) {
        bdev = new MallocBlockDevice("m0", DISK, 512, false);
        bdev.memory().fill((byte) 0x11);
        rig = new BlkRig(lcore, dir.resolve("bad.sock"), bdev, VirtioBlkDevice.builder(bdev).readOnly(readOnly).segMax(8), packed, 1);
        d = rig.driver(0);
    }

    @BeforeEach
    void start() {
        open(false);
    }

    @AfterEach
    void stop() {
        rig.close();
        bdev.close();
    }

    void reopenReadOnly() {
        stop();
        open(true);
    }

    /** The disk still holds 0x11 everywhere (nothing was written). */
    void diskUntouched() {
        MemorySegment disk = bdev.memory();
        for (long i = 0; i < DISK; i += 8) {
            assertEquals(0x1111111111111111L, disk.get(ValueLayout.JAVA_LONG, i), "disk byte " + i);
        }
    }

    /** A good write then read on the same queue: it still serves. */
    void queueStillServes() {
        MemorySegment data = d.gpa(d.data(0), 4096);
        data.fill((byte) 0x77);
        assertEquals(VirtioBlk.S_OK, d.request(VirtioBlk.T_OUT, 8, 4096, 1, false, 1));
        data.fill((byte) 0);
        assertEquals(VirtioBlk.S_OK, d.request(VirtioBlk.T_IN, 8, 4096, 2, true, 4097));
        assertEquals(-1, data.mismatch(MemorySegment.ofArray(new byte[4096]).fill((byte) 0x77)));
    }

    void lastError(BlkRequestError rule) {
        assertEquals(rule, rig.device.metrics().get(0).lastError());
    }

    @Test
    void tooFewDescriptorsIsAnIoError() {
        d.writeHeader(0, VirtioBlk.T_OUT, 0);
        // Only the status descriptor: no header.
        d.post(new long[] {d.status(0)}, new int[] {1}, new boolean[] {true});
        assertEquals(1, (int) d.awaitUsed());
        assertEquals(VirtioBlk.S_IOERR, d.statusByte(0));
        lastError(BlkRequestError.TOO_FEW_DESCRIPTORS);
        diskUntouched();
        queueStillServes();
    }

    @Test
    void aStatusDescriptorThatIsNotWritableGetsNoStatus() {
        d.writeHeader(0, VirtioBlk.T_IN, 0);
        d.post(new long[] {d.header(0), d.status(0)}, new int[] {16, 1}, new boolean[] {false, false});
        assertEquals(0, (int) d.awaitUsed(), "used length 0: nothing written");
        assertEquals(0xff, d.statusByte(0));
        lastError(BlkRequestError.STATUS_NOT_WRITABLE);
        queueStillServes();
    }

    @Test
    void aStatusDescriptorThatIsTooSmallGetsNoStatus() {
        d.writeHeader(0, VirtioBlk.T_IN, 0);
        d.post(new long[] {d.header(0), d.data(0), d.status(0)}, new int[] {16, 512, 0}, new boolean[] {false, true, true});
        assertEquals(0, (int) d.awaitUsed());
        assertEquals(0xff, d.statusByte(0));
        lastError(BlkRequestError.STATUS_TOO_SMALL);
        queueStillServes();
    }

    @Test
    void aSectorBeyondCapacityIsAnIoError() {
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_OUT, SECTORS, 512, 1, false, 1));
        lastError(BlkRequestError.SECTOR_OUT_OF_RANGE);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_IN, SECTORS - 1, 1024, 1, true, 1));
        diskUntouched();
        queueStillServes();
    }

    @Test
    void aRangeThatOverflowsIsAnIoError() {
        // sector + length wraps around 2^64: must not pass an addition-based check.
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_OUT, -1L, 1024, 1, false, 1));
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_OUT, Long.MAX_VALUE >>> 8, 512, 1, false, 1));
        lastError(BlkRequestError.SECTOR_OUT_OF_RANGE);
        diskUntouched();
        queueStillServes();
    }

    @Test
    void aLengthNotAMultipleOf512IsAnIoError() {
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_OUT, 0, 700, 1, false, 1));
        lastError(BlkRequestError.LENGTH_NOT_SECTOR_MULTIPLE);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_IN, 0, 513, 1, true, 1));
        diskUntouched();
        queueStillServes();
    }

    @Test
    void discardWithUnknownFlagsIsUnsupported() {
        VirtioBlkDeviceTest.dwz(d, 0, 8, 0x4);
        assertEquals(VirtioBlk.S_UNSUPP, d.request(VirtioBlk.T_DISCARD, 0, 16, 1, false, 1));
        lastError(BlkRequestError.DWZ_UNKNOWN_FLAGS);
        VirtioBlkDeviceTest.dwz(d, 0, 8, VirtioBlk.DWZ_FLAG_UNMAP);
        assertEquals(VirtioBlk.S_UNSUPP, d.request(VirtioBlk.T_DISCARD, 0, 16, 1, false, 1));
        lastError(BlkRequestError.DISCARD_WITH_UNMAP);
        diskUntouched();
        queueStillServes();
    }

    @Test
    void writeZeroesWithUnknownFlagsIsUnsupported() {
        VirtioBlkDeviceTest.dwz(d, 0, 8, 0x80000000);
        assertEquals(VirtioBlk.S_UNSUPP, d.request(VirtioBlk.T_WRITE_ZEROES, 0, 16, 1, false, 1));
        lastError(BlkRequestError.DWZ_UNKNOWN_FLAGS);
        diskUntouched();
        queueStillServes();
    }

    @Test
    void writeZeroesBeyondCapacityIsAnIoError() {
        VirtioBlkDeviceTest.dwz(d, SECTORS - 4, 8, 0);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_WRITE_ZEROES, 0, 16, 1, false, 1));
        lastError(BlkRequestError.SECTOR_OUT_OF_RANGE);
        diskUntouched();
        queueStillServes();
    }

    @Test
    void discardBeyondCapacityOrWithAnOverflowingRangeIsAnIoError() {
        // A discard zero-fills the RAM disk: diskUntouched() would see any of these executed.
        VirtioBlkDeviceTest.dwz(d, SECTORS - 4, 8, 0);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_DISCARD, 0, 16, 1, false, 1));
        lastError(BlkRequestError.SECTOR_OUT_OF_RANGE);
        VirtioBlkDeviceTest.dwz(d, -4L, 8, 0);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_DISCARD, 0, 16, 1, false, 1));
        lastError(BlkRequestError.SECTOR_OUT_OF_RANGE);
        VirtioBlkDeviceTest.dwz(d, -4L, 8, 0);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_WRITE_ZEROES, 0, 16, 1, false, 1));
        lastError(BlkRequestError.SECTOR_OUT_OF_RANGE);
        diskUntouched();
        queueStillServes();
    }

    @Test
    void discardOrWriteZeroesWithMoreSegmentsThanTheDeviceTakesIsUnsupported() {
        // max_discard_seg and max_write_zeroes_seg are 1: two 16-byte segments.
        VirtioBlkDeviceTest.dwz(d, 0, 8, 0);
        assertEquals(VirtioBlk.S_UNSUPP, d.request(VirtioBlk.T_DISCARD, 0, 32, 1, false, 1));
        lastError(BlkRequestError.DWZ_TOO_MANY_SEGMENTS);
        assertEquals(VirtioBlk.S_UNSUPP, d.request(VirtioBlk.T_WRITE_ZEROES, 0, 32, 1, false, 1));
        diskUntouched();
        queueStillServes();
    }

    @Test
    void discardOrWriteZeroesWithATruncatedSegmentOrTooManySectorsIsAnIoError() {
        VirtioBlkDeviceTest.dwz(d, 0, 8, 0);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_WRITE_ZEROES, 0, 12, 1, false, 1));
        lastError(BlkRequestError.DWZ_MALFORMED);
        // More than max_write_zeroes_sectors (4 Mi sectors here) in one segment.
        VirtioBlkDeviceTest.dwz(d, 0, (1 << 22) + 1, 0);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_WRITE_ZEROES, 0, 16, 1, false, 1));
        lastError(BlkRequestError.DWZ_TOO_LARGE);
        diskUntouched();
        queueStillServes();
    }

    @Test
    void aGetIdBufferTooSmallIsAnIoError() {
        d.gpa(d.data(0), 19).fill((byte) 0xee);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_GET_ID, 0, 19, 1, true, 1));
        lastError(BlkRequestError.GET_ID_BUFFER_TOO_SMALL);
        assertEquals(-1, d.gpa(d.data(0), 19).mismatch(MemorySegment.ofArray(new byte[19]).fill((byte) 0xee)),
                "nothing written into the too-small buffer");
        queueStillServes();
    }

    @Test
    void aWriteToAReadOnlyDeviceIsAnIoError() {
        reopenReadOnly();
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_OUT, 0, 4096, 1, false, 1));
        lastError(BlkRequestError.WRITE_TO_READ_ONLY);
        VirtioBlkDeviceTest.dwz(d, 0, 8, 0);
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_WRITE_ZEROES, 0, 16, 1, false, 1));
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_DISCARD, 0, 16, 1, false, 1));
        diskUntouched();
        // Reads still work.
        assertEquals(VirtioBlk.S_OK, d.request(VirtioBlk.T_IN, 0, 4096, 1, true, 4097));
        assertEquals(VirtioBlk.S_OK, d.request(VirtioBlk.T_FLUSH, 0, 0, 1, false, 1));
    }

    @Test
    void anUnknownRequestTypeIsUnsupported() {
        assertEquals(VirtioBlk.S_UNSUPP, d.request(99, 0, 0, 1, false, 1));
        assertEquals(VirtioBlk.S_UNSUPP, d.request(VirtioBlk.T_SECURE_ERASE, 0, 16, 1, false, 1));
        lastError(BlkRequestError.UNSUPPORTED_TYPE);
        queueStillServes();
    }

    @Test
    void dataInTheWrongDirectionIsAnIoError() {
        // A read whose data buffer is device-readable: the device may not write there.
        assertEquals(VirtioBlk.S_IOERR, d.request(VirtioBlk.T_IN, 0, 4096, 1, false, 1));
        lastError(BlkRequestError.DATA_WRONG_DIRECTION);
        queueStillServes();
    }

    @Test
    void moreSegmentsThanSegMaxIsAnIoError() {
        // seg_max is 8 here: nine 512-byte data descriptors.
        d.writeHeader(0, VirtioBlk.T_OUT, 0);
        long[] addrs = new long[11];
        int[] lens = new int[11];
        boolean[] w = new boolean[11];
        addrs[0] = d.header(0);
        lens[0] = 16;
        for (int i = 1; i <= 9; i++) {
            addrs[i] = d.data(0) + (i - 1) * 512L;
            lens[i] = 512;
        }
        addrs[10] = d.status(0);
        lens[10] = 1;
        w[10] = true;
        d.post(addrs, lens, w);
        assertEquals(1, (int) d.awaitUsed());
        assertEquals(VirtioBlk.S_IOERR, d.statusByte(0));
        lastError(BlkRequestError.TOO_MANY_SEGMENTS);
        diskUntouched();
        queueStillServes();
    }

    @Test
    void aHeaderSplitAcrossDescriptorsIsAccepted() {
        // virtio 1.2, 2.6.4: no framing assumptions. Header in 3 pieces, status sharing the data descriptor.
        d.writeHeader(0, VirtioBlk.T_IN, 8);
        bdev.memory().asSlice(8 * 512, 512).fill((byte) 0x42);
        long h = d.header(0);
        d.post(new long[] {h, h + 5, h + 12, d.data(0)}, new int[] {5, 7, 4, 513}, new boolean[] {false, false, false, true});
        assertEquals(513, (int) d.awaitUsed());
        assertEquals(VirtioBlk.S_OK, d.gpa(d.data(0) + 512, 1).get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(-1, d.gpa(d.data(0), 512).mismatch(MemorySegment.ofArray(new byte[512]).fill((byte) 0x42)));
        queueStillServes();
    }
}

package io.ringway.storage.bdev;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlockDeviceSpecTest {
    @TempDir
    Path dir;

    @Test
    void sizesAcceptBinarySuffixes() {
        assertEquals(512L << 20, BlockDeviceSpec.parseSize("512M"));
        assertEquals(1L << 30, BlockDeviceSpec.parseSize("1G"));
        assertEquals(4096, BlockDeviceSpec.parseSize("4k"));
        assertEquals(1L << 30, BlockDeviceSpec.parseSize("1GiB".replace("iB", "B")));
        assertEquals(1073741824L, BlockDeviceSpec.parseSize("1073741824"));
    }

    @Test
    void eachKindOpens() {
        try (BlockDevice d = BlockDeviceSpec.open("null:1G", 512, false, null)) {
            assertInstanceOf(NullBlockDevice.class, d);
            assertEquals(1L << 30, d.capacityBytes());
        }
        try (BlockDevice d = BlockDeviceSpec.open("malloc:8M", 4096, false, LatencyDistribution.parse("fixed:10us"))) {
            assertInstanceOf(DelayBlockDevice.class, d);
            assertEquals(2048, d.blockCount());
        }
    }

    @Test
    void aBadSpecNamesTheProblem() {
        assertTrue(message("ram:1G").contains("unknown kind 'ram'"));
        assertTrue(message("malloc").contains("expected malloc:SIZE"));
        assertTrue(message("malloc:1Q").contains("not a number"));
        assertTrue(message("malloc:1000").contains("not a multiple of the block size"));
        assertTrue(message("null:-5M").contains("must be positive"));
        assertTrue(message("file:" + dir.resolve("nope.img")).contains("does not exist"));
        assertTrue(message("file:" + dir + ",fast").contains("unknown file option 'fast'"));
    }

    private static String message(String spec) {
        return assertThrows(IllegalArgumentException.class, () -> BlockDeviceSpec.open(spec, 512, false, null)).getMessage();
    }
}

package io.ringway.runtime.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FileIoPreadTest {
    @Test
    void preadReadsAtTheOffsetWithoutMovingTheFilePosition(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("data");
        Files.write(file, new byte[] {10, 11, 12, 13, 14, 15, 16, 17});
        int fd = LibC.open(file.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8);
            assertEquals(3, FileIo.tryPread(fd, buf, 3, 4));
            assertEquals(14, buf.get(JAVA_BYTE, 0));
            assertEquals(16, buf.get(JAVA_BYTE, 2));
            assertEquals(2, FileIo.tryPread(fd, buf, 8, 6), "short read at the end of the file");
            assertEquals(0, FileIo.tryPread(fd, buf, 8, 8), "0 at the end");
            assertEquals(8, FileIo.tryPread(fd, buf, 8, 0), "the file position did not move");
            assertEquals(-Errno.EBADF, FileIo.tryPread(-1, buf, 8, 0));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FileIo.tryPread(fd, buf, 9, 0));
            assertEquals("pread count 9 outside the buffer of 8 bytes", e.getMessage());
        } finally {
            LibC.close(fd);
        }
    }
}

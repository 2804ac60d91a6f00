package io.ringway.runtime.sys;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LinuxExceptionTest {

    @Test
    void mmapOfAClosedFdNamesTheCallTheFdAndEbadf() {
        int fd = LibC.memfdCreate("closed", LibC.MFD_CLOEXEC);
        LibC.ftruncate(fd, 4096);
        LibC.close(fd);

        LinuxException e = assertThrows(LinuxException.class,
            () -> LibC.mmap(0, 4096, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0));

        assertEquals("mmap", e.call());
        assertEquals(Errno.EBADF, e.errno());
        assertEquals("EBADF", e.errnoName());
        assertTrue(e.argument().startsWith("fd=" + fd + ", length=4096"), e.argument());
        assertTrue(e.getMessage().startsWith("mmap(fd=" + fd + ", length=4096"), e.getMessage());
        assertTrue(e.getMessage().endsWith(") failed: EBADF (Bad file descriptor)"), e.getMessage());
    }

    @Test
    void closeOfAClosedFdIsEbadf() {
        int fd = LibC.memfdCreate("twice", LibC.MFD_CLOEXEC);
        LibC.close(fd);
        LinuxException e = assertThrows(LinuxException.class, () -> LibC.close(fd));
        assertEquals("close(fd=" + fd + ") failed: EBADF (Bad file descriptor)", e.getMessage());
    }

    @Test
    void tryReadReturnsMinusErrnoInsteadOfThrowing() {
        int fd = LibC.memfdCreate("try", LibC.MFD_CLOEXEC);
        LibC.close(fd);
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            assertEquals(-Errno.EBADF, LibC.tryRead(fd, arena.allocate(8), 8));
        }
    }

    @Test
    void errnoNamesComeFromLibc() {
        assertEquals("EAGAIN", Errno.name(Errno.EAGAIN));
        assertEquals("ENOMEM", Errno.name(Errno.ENOMEM));
        assertEquals("Invalid argument", Errno.description(Errno.EINVAL));
    }
}

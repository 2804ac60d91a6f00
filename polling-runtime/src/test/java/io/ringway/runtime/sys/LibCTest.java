package io.ringway.runtime.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class LibCTest {
    @Test
    void geteuidIsTheOwnerOfAFileThisProcessCreates() throws Exception {
        Path f = Files.createTempFile("ringway-euid", ".tmp");
        try {
            assertEquals((int) (Integer) Files.getAttribute(f, "unix:uid"), LibC.geteuid());
        } finally {
            Files.delete(f);
        }
    }

    /** What the child JVM of {@link #downcallHandlesAreMadeOnFirstUseOnly} runs: an eventfd made, signalled and closed. */
    public static final class EventFdOnly {
        public static void main(String[] args) {
            try (EventFd e = EventFd.create(true)) {
                e.signal();
            }
        }
    }

    @Test
    void downcallHandlesAreMadeOnFirstUseOnly() throws Exception {
        Path log = Files.createTempFile("ringway-libc-classes", ".log");
        try {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xlog:class+load=info:file=" + log, "-cp", System.getProperty("java.class.path"),
                EventFdOnly.class.getName()));
            Process p = new ProcessBuilder(cmd).inheritIO().start();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not end: " + cmd);
            assertEquals(0, p.exitValue(), "child JVM exit status");
            // one holder class per handle: LibC$Eventfd, LibC$Write, LibC$Close, and no other
            List<String> holders = Files.readAllLines(log, StandardCharsets.UTF_8).stream()
                .filter(l -> l.contains("io.ringway.runtime.sys.LibC$") && !l.contains("$$Lambda"))
                .map(l -> l.replaceAll(".*io\\.ringway\\.runtime\\.sys\\.LibC\\$(\\w+) .*", "$1")).sorted().toList();
            assertEquals(List.of("Close", "Eventfd", "Write"), holders, "LibC's handle holders loaded by eventfd create/signal/close");
        } finally {
            Files.deleteIfExists(log);
        }
    }

    @Test
    void munmapQuietlyReportsAFailureAsMinusErrnoWhereMunmapThrows() {
        long misaligned = 4096 * 1024L + 1; // munmap(2): EINVAL when the address is not page aligned
        LinuxException e = assertThrows(LinuxException.class, () -> LibC.munmap(MemorySegment.ofAddress(misaligned), 4096));
        assertEquals(Errno.EINVAL, e.errno(), e.getMessage());
        assertEquals(-Errno.EINVAL, LibC.munmapQuietly(misaligned, 4096));
    }

    @Test
    void munmapQuietlyUnmaps() {
        MemorySegment m = LibC.mmap(0, 3 * 4096, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
        try {
            LibC.madvise(m, LibC.MADV_NORMAL); // succeeds on a mapped range
            assertEquals(0, LibC.munmapQuietly(m.address() + 4096, 4096));
            // madvise(2) fails with ENOMEM when part of the range is not mapped: the middle page is a hole now
            // (another thread would have to map one page into exactly that hole in between to hide it)
            LinuxException hole = assertThrows(LinuxException.class, () -> LibC.madvise(m, LibC.MADV_NORMAL));
            assertEquals(Errno.ENOMEM, hole.errno(), hole.getMessage());
        } finally {
            LibC.munmap(m, m.byteSize()); // the outer pages (munmap of a hole is no error)
        }
    }
}

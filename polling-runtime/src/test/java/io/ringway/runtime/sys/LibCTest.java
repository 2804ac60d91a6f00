package io.ringway.runtime.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
}

package io.ringway.runtime.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;

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
}

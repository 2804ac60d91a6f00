package io.ringway.storage.interop;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QemuPeersTest {
    @Test
    void kernelVersionsCompareTheirNumbersAsNumbers() {
        assertEquals("6.1.0-10-amd64", QemuPeers.newestVersion(List.of("6.1.0-9-amd64", "6.1.0-10-amd64", "5.19.0-1-amd64")));
        assertEquals("6.10.0-1-amd64", QemuPeers.newestVersion(List.of("6.9.0-1-amd64", "6.10.0-1-amd64")));
        assertNull(QemuPeers.newestVersion(List.of()));
    }

    @Test
    void theRecipeGetsItsArgumentsAndEnvironmentAndRunsOnlyWhileTheOutputIsMissing(@TempDir Path dir) throws Exception {
        Path recipe = dir.resolve("recipe.sh");
        Path counter = dir.resolve("runs");
        Files.writeString(recipe, "echo run >> " + counter + "\nprintf '%s %s' \"$2\" \"$KVER\" > \"$1\"\n");
        Path out = dir.resolve("out.cpio.gz");

        QemuPeers.buildInitramfs(recipe, out, dir.resolve("log"), Map.of("KVER", "6.1.0-9-amd64"), "fio");
        QemuPeers.buildInitramfs(recipe, out, dir.resolve("log"), Map.of("KVER", "6.1.0-9-amd64"), "fio");

        assertEquals("fio 6.1.0-9-amd64", Files.readString(out));
        assertEquals(1, Files.readAllLines(counter).size(), "the second call reuses the output");
    }

    @Test
    void aFailingRecipeThrowsWithItsLog(@TempDir Path dir) throws Exception {
        Path recipe = dir.resolve("recipe.sh");
        Files.writeString(recipe, "echo 'no busybox here' >&2\nexit 3\n");
        IllegalStateException e = assertThrows(IllegalStateException.class,
            () -> QemuPeers.buildInitramfs(recipe, dir.resolve("out"), dir.resolve("log"), Map.of()));
        assertTrue(e.getMessage().contains("failed (3)") && e.getMessage().contains("no busybox here"), e.getMessage());
    }

    @Test
    void theDigestFollowsFileContents(@TempDir Path dir) throws Exception {
        Path in = Files.createDirectories(dir.resolve("in"));
        Files.writeString(in.resolve("a.sh"), "one");
        String before = QemuPeers.digest("k", in);
        assertEquals(before, QemuPeers.digest("k", in), "stable");
        Files.writeString(in.resolve("a.sh"), "two");
        assertNotEquals(before, QemuPeers.digest("k", in), "a changed input changes the key");
        assertNotEquals(QemuPeers.digest("k", in), QemuPeers.digest("other kernel", in), "so does the extra text");
    }
}

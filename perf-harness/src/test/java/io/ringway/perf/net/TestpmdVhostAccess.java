package io.ringway.perf.net;

import java.nio.file.Path;
import java.util.List;

/** Opens {@link TestpmdVhost#command} to the bench package's tests. */
public final class TestpmdVhostAccess {
    private TestpmdVhostAccess() {
    }

    public static List<String> command(Path socket, String mode, int cpu, String prefix) {
        return TestpmdVhost.command(socket, mode, cpu, prefix);
    }
}

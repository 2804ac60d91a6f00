package io.ringway.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the RPC socket lives by default. */
public final class RpcSocket {
    private RpcSocket() {
    }

    /**
     * {@code /run/ringway/ringway.sock} when /run/ringway exists or can be made (root), else
     * {@code $XDG_RUNTIME_DIR/ringway/ringway.sock}, else {@code /tmp/ringway-UID/ringway.sock}.
     */
    public static Path defaultPath() {
        Path run = Path.of("/run/ringway");
        if (Files.isDirectory(run) ? Files.isWritable(run) : Files.isWritable(run.getParent())) {
            return run.resolve("ringway.sock");
        }
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isBlank() && Files.isDirectory(Path.of(xdg))) {
            return Path.of(xdg, "ringway", "ringway.sock");
        }
        return Path.of("/tmp", "ringway-" + uid(), "ringway.sock");
    }

    static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException e) {
            return -1;
        }
    }
}

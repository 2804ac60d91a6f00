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

    /**
     * Checks that the directory of a socket in a shared place ({@code /tmp/ringway-UID}) belongs to
     * this user and is not open to others, so that nobody else can have prepared it.
     *
     * @throws IllegalStateException naming the directory and what is wrong with it
     */
    public static void checkPrivateDirectory(Path dir) throws IOException {
        int owner = (Integer) Files.getAttribute(dir, "unix:uid", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) Files.getAttribute(dir, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        if (Files.isSymbolicLink(dir) || owner != uid() || (mode & 0077) != 0) {
            throw new IllegalStateException(dir + " is not a private directory of this user (owner uid " + owner + ", mode "
                    + Integer.toOctalString(mode & 0777) + "); remove it or pick another --rpc socket");
        }
    }

    /** The effective uid: the owner of the files and directories this process creates. */
    static int uid() {
        return io.ringway.runtime.sys.LibC.geteuid();
    }
}

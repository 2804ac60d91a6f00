package io.ringway.runtime.mem;

import io.ringway.runtime.sys.EventFd;
import io.ringway.runtime.sys.UnixSocket;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The other process of {@link SharedRegionTest}: connects to the socket named in args[0], receives
 * the region size with a region fd and an eventfd, writes {@link #pattern(long)} into the region
 * and signals the eventfd.
 */
public final class SharedRegionChild {
    private SharedRegionChild() {
    }

    static byte pattern(long offset) {
        return (byte) (offset * 31 + 7);
    }

    public static void main(String[] args) {
        try (UnixSocket socket = UnixSocket.connect(Path.of(args[0])); Arena arena = Arena.ofConfined()) {
            MemorySegment header = arena.allocate(JAVA_LONG);
            int[] fds = new int[2];
            int[] count = new int[1];
            int n = socket.receive(header, fds, count);
            if (n != Long.BYTES || count[0] != 2) {
                throw new IllegalStateException("expected 8 bytes and 2 fds, got " + n + " bytes and " + count[0] + " fds");
            }
            long size = header.get(JAVA_LONG, 0);
            try (SharedRegion region = SharedRegion.map(fds[0], size); EventFd done = EventFd.wrap(fds[1])) {
                MemorySegment memory = region.segment();
                for (long i = 0; i < size; i++) {
                    memory.set(JAVA_BYTE, i, pattern(i));
                }
                done.signal();
            }
        }
    }
}

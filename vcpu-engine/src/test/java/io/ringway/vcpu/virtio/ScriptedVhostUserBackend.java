package io.ringway.vcpu.virtio;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.UnixSocket;
import io.ringway.vhost.protocol.VhostUserMessageDescriptor;
import io.ringway.vhost.protocol.VhostUserRequest;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A vhost-user back-end that follows a script instead of the protocol: it offers VERSION_1 and
 * nothing else (no protocol features, so no REPLY_ACK: only GET_* requests are answered), takes the
 * rest, and misbehaves as {@link Misbehaviour} says. One connection; {@link #close()} ends it.
 */
public final class ScriptedVhostUserBackend implements AutoCloseable {
    /** What goes wrong. */
    public enum Misbehaviour {
        /** GET_VRING_BASE is answered as if it were GET_FEATURES. */
        WRONG_REQUEST_IN_REPLY,
        /** GET_VRING_BASE is answered with a 4-byte payload instead of struct vhost_vring_state (8). */
        WRONG_REPLY_SIZE,
        /** GET_VRING_BASE is never answered. */
        NO_REPLY,
        /** Right after SET_VRING_CALL (the rings run), 12 bytes nobody asked for. */
        STRAY_BYTES_WHILE_RUNNING
    }

    private static final int HEADER = VhostUserMessageDescriptor.HEADER_LENGTH;
    private static final long VERSION_1 = 1L << 32;

    private final UnixSocket listener;
    private final Misbehaviour misbehaviour;
    private final Thread thread;
    private final CountDownLatch ringsRunning = new CountDownLatch(1);
    private volatile UnixSocket connection;

    public ScriptedVhostUserBackend(Path path, Misbehaviour misbehaviour) {
        this.listener = UnixSocket.listen(path, 1);
        this.misbehaviour = misbehaviour;
        this.thread = Thread.ofPlatform().daemon().name("scripted-vhost-user").start(this::serve);
    }

    /** Waits until the front-end started the rings (SET_VRING_CALL of queue 0 arrived). */
    public void awaitRingsRunning() throws InterruptedException {
        assertTrue(ringsRunning.await(10, TimeUnit.SECONDS), "the front-end did not start the rings within 10 s");
    }

    private void serve() {
        try (Arena arena = Arena.ofConfined()) {
            UnixSocket c = listener.accept();
            connection = c;
            MemorySegment in = arena.allocate(HEADER + VhostUserMessageDescriptor.MAX_PAYLOAD_SIZE, 8);
            MemorySegment out = arena.allocate(64, 8);
            int[] fds = new int[UnixSocket.MAX_FDS_PER_MESSAGE];
            int[] count = new int[1];
            while (true) {
                if (!receive(c, in, 0, HEADER, fds, count)) {
                    return;
                }
                int request = in.get(JAVA_INT, 0);
                int size = in.get(JAVA_INT, 8);
                if (size > 0 && !receive(c, in, HEADER, size, fds, count)) {
                    return;
                }
                if (request == VhostUserRequest.GET_FEATURES.code()) {
                    reply(c, out, request, 8, VERSION_1);
                } else if (request == VhostUserRequest.GET_VRING_BASE.code()) {
                    switch (misbehaviour) {
                        case WRONG_REQUEST_IN_REPLY -> reply(c, out, VhostUserRequest.GET_FEATURES.code(), 8, VERSION_1);
                        case WRONG_REPLY_SIZE -> reply(c, out, request, 4, 0);
                        case NO_REPLY -> { }
                        default -> reply(c, out, request, 8, in.get(JAVA_INT, HEADER) & 0xffffffffL);
                    }
                } else if (request == VhostUserRequest.SET_VRING_CALL.code()) {
                    ringsRunning.countDown();
                    if (misbehaviour == Misbehaviour.STRAY_BYTES_WHILE_RUNNING) {
                        out.fill((byte) 0x5a);
                        c.send(out.asSlice(0, HEADER));
                    }
                }
            }
        } catch (RuntimeException e) {
            // the front-end or close() ended the connection
        }
    }

    /** Reads {@code length} bytes at {@code at}; closes any fds that come with them. False at EOF. */
    private static boolean receive(UnixSocket c, MemorySegment in, int at, int length, int[] fds, int[] count) {
        int done = 0;
        while (done < length) {
            int n = c.receive(in.asSlice(at + done, length - done), fds, count);
            for (int i = 0; i < count[0]; i++) {
                LibC.closeQuietly(fds[i]);
            }
            if (n == 0) {
                return false;
            }
            done += n;
        }
        return true;
    }

    private static void reply(UnixSocket c, MemorySegment out, int request, int size, long payload) {
        out.set(JAVA_INT, 0, request);
        out.set(JAVA_INT, 4, VhostUserMessageDescriptor.VERSION | VhostUserMessageDescriptor.FLAG_REPLY);
        out.set(JAVA_INT, 8, size);
        out.set(JAVA_LONG_UNALIGNED, HEADER, payload); // the payload starts at byte 12
        c.send(out.asSlice(0, HEADER + size));
    }

    @Override
    public void close() throws InterruptedException {
        listener.close(); // wakes accept
        UnixSocket c = connection;
        if (c != null) {
            c.close();
        }
        thread.join(10_000);
        c = connection; // accepted after the first look
        if (c != null) {
            c.close();
        }
    }

    // ------------------------------------------------------------------ fd accounting

    /**
     * Open sockets, eventfds, epoll and other anonymous-inode fds of this process: what a device and
     * its transport open (jars the JVM opens lazily are files, not counted).
     */
    public static long countSocketAndEventFds() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.filter(p -> {
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    return target.startsWith("socket:") || target.startsWith("anon_inode:");
                } catch (IOException gone) {
                    return false; // the fd of the listing itself, closed meanwhile
                }
            }).count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String openFdTargets() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.map(p -> {
                try {
                    return p.getFileName() + "->" + Files.readSymbolicLink(p);
                } catch (IOException gone) {
                    return p.getFileName() + "->?";
                }
            }).toList().toString();
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** Asserts the count of {@link #countSocketAndEventFds} comes back to {@code baseline} within 5 s (threads close theirs just after the test sees the end). */
    public static void assertFdsSettleTo(long baseline) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        long now = countSocketAndEventFds();
        while (now != baseline && System.nanoTime() < deadline) {
            Thread.sleep(10);
            now = countSocketAndEventFds();
        }
        assertTrue(now == baseline, "open sockets and anonymous-inode fds: " + now + ", before: " + baseline + "; open now: " + openFdTargets());
    }
}

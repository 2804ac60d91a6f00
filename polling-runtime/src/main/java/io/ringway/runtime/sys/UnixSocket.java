package io.ringway.runtime.sys;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.ringway.runtime.sys.SocketDescriptor.AF_UNIX;
import static io.ringway.runtime.sys.SocketDescriptor.CMSG_DATA_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.CMSG_LEN_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.CMSG_LEVEL_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.CMSG_TYPE_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.IOVEC;
import static io.ringway.runtime.sys.SocketDescriptor.IOV_BASE_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.IOV_LEN_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.MSGHDR;
import static io.ringway.runtime.sys.SocketDescriptor.MSG_CMSG_CLOEXEC;
import static io.ringway.runtime.sys.SocketDescriptor.MSG_CONTROLLEN_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.MSG_CONTROL_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.MSG_IOVLEN_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.MSG_IOV_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.MSG_NOSIGNAL;
import static io.ringway.runtime.sys.SocketDescriptor.SCM_MAX_FD;
import static io.ringway.runtime.sys.SocketDescriptor.SCM_RIGHTS;
import static io.ringway.runtime.sys.SocketDescriptor.SHUT_RDWR;
import static io.ringway.runtime.sys.SocketDescriptor.SOCKADDR_UN;
import static io.ringway.runtime.sys.SocketDescriptor.SOCK_CLOEXEC;
import static io.ringway.runtime.sys.SocketDescriptor.SOCK_STREAM;
import static io.ringway.runtime.sys.SocketDescriptor.SOL_SOCKET;
import static io.ringway.runtime.sys.SocketDescriptor.SO_RCVTIMEO;
import static io.ringway.runtime.sys.SocketDescriptor.SUN_FAMILY_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.SUN_PATH_OFFSET;
import static io.ringway.runtime.sys.SocketDescriptor.SUN_PATH_SIZE;
import static io.ringway.runtime.sys.SocketDescriptor.cmsgAlign;
import static io.ringway.runtime.sys.SocketDescriptor.cmsgLen;
import static io.ringway.runtime.sys.SocketDescriptor.cmsgSpace;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * An AF_UNIX SOCK_STREAM socket (close-on-exec) that can pass file descriptors with SCM_RIGHTS:
 * the transport of the vhost-user protocol.
 *
 * <p>Sends use MSG_NOSIGNAL, so a closed peer is an EPIPE {@link LinuxException} rather than a
 * SIGPIPE. Received fds are close-on-exec (MSG_CMSG_CLOEXEC). These are control-plane calls: they
 * allocate and block.
 */
public final class UnixSocket implements AutoCloseable {
    // downcalls of this class only: made when it is first used, not in LibC's static initialiser (each
    // distinct signature spins classes, which a `vm boot` that never opens a socket should not pay for)
    private static final MethodHandle SOCKET =
        LibC.downcall("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle BIND =
        LibC.downcall("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle LISTEN =
        LibC.downcall("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle ACCEPT4 =
        LibC.downcall("accept4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT =
        LibC.downcall("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SOCKETPAIR =
        LibC.downcall("socketpair", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle SHUTDOWN =
        LibC.downcall("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SETSOCKOPT =
        LibC.downcall("setsockopt", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDMSG =
        LibC.downcall("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECVMSG =
        LibC.downcall("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));

    /** The longest path a socket address can hold: sun_path is 108 bytes including the terminating NUL. */
    public static final int MAX_PATH_BYTES = SUN_PATH_SIZE - 1;
    /** The most fds one message can carry (the kernel's SCM_MAX_FD). */
    public static final int MAX_FDS_PER_MESSAGE = SCM_MAX_FD;

    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final int[] NO_FDS = new int[0];

    private final int fd;
    private final Path listeningPath;
    private final AtomicBoolean closed = new AtomicBoolean();

    private UnixSocket(int fd, Path listeningPath) {
        this.fd = fd;
        this.listeningPath = listeningPath;
    }

    /**
     * Binds and listens on {@code path}. A stale socket file at the path is removed first; any other
     * kind of file is left alone and the call fails. {@link #close()} removes the socket file.
     *
     * @param path    at most {@link #MAX_PATH_BYTES} bytes in UTF-8
     * @param backlog the listen backlog
     */
    public static UnixSocket listen(Path path, int backlog) {
        byte[] pathBytes = pathBytes(path);
        removeStaleSocket(path);
        int fd = socket();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = socketAddress(arena, pathBytes);
            MemorySegment capture = LibC.capture();
            int result = (int) BIND.invokeExact(capture, fd, address, addressLength(pathBytes));
            if (result < 0) {
                throw new LinuxException("bind", "path=" + path, LibC.errno(capture));
            }
            result = (int) LISTEN.invokeExact(capture, fd, backlog);
            if (result < 0) {
                throw new LinuxException("listen", "path=" + path + ", backlog=" + backlog, LibC.errno(capture));
            }
            return new UnixSocket(fd, path);
        } catch (Throwable t) {
            LibC.closeQuietly(fd);
            throw LibC.rethrow(t);
        }
    }

    /**
     * Connects to a listening socket at {@code path}.
     *
     * @param path at most {@link #MAX_PATH_BYTES} bytes in UTF-8
     */
    public static UnixSocket connect(Path path) {
        byte[] pathBytes = pathBytes(path);
        int fd = socket();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = socketAddress(arena, pathBytes);
            MemorySegment capture = LibC.capture();
            int result = (int) CONNECT.invokeExact(capture, fd, address, addressLength(pathBytes));
            if (result < 0) {
                throw new LinuxException("connect", "path=" + path, LibC.errno(capture));
            }
            return new UnixSocket(fd, null);
        } catch (Throwable t) {
            LibC.closeQuietly(fd);
            throw LibC.rethrow(t);
        }
    }

    /** A connected pair of sockets (socketpair), e.g. for a child process or a test. */
    public static UnixSocket[] pair() {
        MemorySegment capture = LibC.capture();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            int result = (int) SOCKETPAIR.invokeExact(capture, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
            if (result < 0) {
                throw new LinuxException("socketpair", "domain=AF_UNIX, type=SOCK_STREAM", LibC.errno(capture));
            }
            return new UnixSocket[] {
                new UnixSocket(fds.getAtIndex(JAVA_INT, 0), null), new UnixSocket(fds.getAtIndex(JAVA_INT, 1), null)};
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** Waits for and accepts one connection on a listening socket. */
    public UnixSocket accept() {
        MemorySegment capture = LibC.capture();
        while (true) {
            int result;
            try {
                result = (int) ACCEPT4.invokeExact(capture, fd, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC);
            } catch (Throwable t) {
                throw LibC.rethrow(t);
            }
            if (result >= 0) {
                return new UnixSocket(result, null);
            }
            int errno = LibC.errno(capture);
            if (errno != Errno.EINTR) {
                throw new LinuxException("accept4", "fd=" + fd + (listeningPath != null ? ", path=" + listeningPath : ""), errno);
            }
        }
    }

    /**
     * Bounds every later receive: one that gets nothing within {@code timeout} fails with an EAGAIN
     * {@link LinuxException} (SO_RCVTIMEO). {@link java.time.Duration#ZERO} waits forever again.
     */
    public void receiveTimeout(java.time.Duration timeout) {
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("receive timeout must not be negative, got " + timeout);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment timeval = arena.allocate(JAVA_LONG, 2);
            timeval.setAtIndex(JAVA_LONG, 0, timeout.getSeconds());
            timeval.setAtIndex(JAVA_LONG, 1, timeout.getNano() / 1000);
            MemorySegment capture = LibC.capture();
            int result = (int) SETSOCKOPT.invokeExact(capture, fd, SOL_SOCKET, SO_RCVTIMEO, timeval, (int) timeval.byteSize());
            if (result < 0) {
                throw new LinuxException("setsockopt", "fd=" + fd + ", SO_RCVTIMEO=" + timeout, LibC.errno(capture));
            }
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** The socket's file descriptor. */
    public int fd() {
        return fd;
    }

    /**
     * Sends all of {@code payload}, with {@code fds} attached to its first byte as SCM_RIGHTS when
     * there are any. Only the first sendmsg carries the fds; later ones send the rest of the payload.
     *
     * @param payload the bytes to send; not empty when fds are attached (a stream socket needs a
     *                byte to carry ancillary data)
     * @param fds     the file descriptors to pass, at most {@link #MAX_FDS_PER_MESSAGE}; they stay open here
     */
    public void send(MemorySegment payload, int[] fds) {
        long length = payload.byteSize();
        if (fds.length > SCM_MAX_FD) {
            throw new IllegalArgumentException("at most " + SCM_MAX_FD + " fds fit in one message, got " + fds.length);
        }
        if (length == 0) {
            if (fds.length > 0) {
                throw new IllegalArgumentException("fds need at least one payload byte to travel with, got an empty payload");
            }
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = payload.isNative() ? payload : arena.allocate(length).copyFrom(payload);
            MemorySegment iov = arena.allocate(IOVEC);
            MemorySegment msg = arena.allocate(MSGHDR);
            msg.set(ADDRESS, MSG_IOV_OFFSET, iov);
            msg.set(JAVA_LONG, MSG_IOVLEN_OFFSET, 1L);
            if (fds.length > 0) {
                long dataBytes = (long) fds.length * Integer.BYTES;
                MemorySegment control = arena.allocate(cmsgSpace(dataBytes), Long.BYTES);
                control.set(JAVA_LONG, CMSG_LEN_OFFSET, cmsgLen(dataBytes));
                control.set(JAVA_INT, CMSG_LEVEL_OFFSET, SOL_SOCKET);
                control.set(JAVA_INT, CMSG_TYPE_OFFSET, SCM_RIGHTS);
                MemorySegment.copy(fds, 0, control, JAVA_INT, CMSG_DATA_OFFSET, fds.length);
                msg.set(ADDRESS, MSG_CONTROL_OFFSET, control);
                msg.set(JAVA_LONG, MSG_CONTROLLEN_OFFSET, control.byteSize());
            }
            long sent = 0;
            while (sent < length) {
                iov.set(ADDRESS, IOV_BASE_OFFSET, data.asSlice(sent));
                iov.set(JAVA_LONG, IOV_LEN_OFFSET, length - sent);
                sent += sendmsg(msg, length - sent, fds.length);
                // The fds went with the first chunk; the rest of the payload goes without them.
                msg.set(ADDRESS, MSG_CONTROL_OFFSET, MemorySegment.NULL);
                msg.set(JAVA_LONG, MSG_CONTROLLEN_OFFSET, 0L);
            }
        }
    }

    /** Sends all of {@code payload} without fds. */
    public void send(MemorySegment payload) {
        send(payload, NO_FDS);
    }

    private long sendmsg(MemorySegment msg, long remaining, int fdCount) {
        MemorySegment capture = LibC.capture();
        while (true) {
            long result;
            try {
                result = (long) SENDMSG.invokeExact(capture, fd, msg, MSG_NOSIGNAL);
            } catch (Throwable t) {
                throw LibC.rethrow(t);
            }
            if (result >= 0) {
                return result;
            }
            int errno = LibC.errno(capture);
            if (errno != Errno.EINTR) {
                throw new LinuxException("sendmsg", "fd=" + fd + ", bytes=" + remaining + ", fds=" + fdCount, errno);
            }
        }
    }

    /**
     * Receives up to {@code buffer.byteSize()} bytes (one recvmsg) and the fds that came with them.
     * At most {@code fdsOut.length} fds are kept; any the peer sent beyond that are closed at once,
     * so none leak. Fds arrive close-on-exec.
     *
     * @param buffer     where the bytes go; not empty
     * @param fdsOut     where the received fds go, in order; may be empty
     * @param fdCountOut {@code fdCountOut[0]} is set to the number of fds stored in fdsOut; may be
     *                   null when fdsOut is empty
     * @return the number of bytes received, 0 on orderly shutdown by the peer
     */
    public int receive(MemorySegment buffer, int[] fdsOut, int[] fdCountOut) {
        long capacity = Math.min(buffer.byteSize(), Integer.MAX_VALUE);
        if (capacity == 0) {
            // recvmsg into 0 bytes returns 0, which would read as end of stream.
            throw new IllegalArgumentException("receive buffer must not be empty");
        }
        if (fdsOut.length > 0 && (fdCountOut == null || fdCountOut.length < 1)) {
            throw new IllegalArgumentException("fdCountOut must have room for one count when fdsOut is not empty");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = buffer.isNative() ? buffer : arena.allocate(Math.max(capacity, 1));
            MemorySegment iov = arena.allocate(IOVEC);
            iov.set(ADDRESS, IOV_BASE_OFFSET, data);
            iov.set(JAVA_LONG, IOV_LEN_OFFSET, capacity);
            // Room for the kernel's maximum, so every fd the peer sent is installed here and the
            // surplus can be closed, whatever fdsOut holds.
            MemorySegment control = arena.allocate(cmsgSpace((long) SCM_MAX_FD * Integer.BYTES), Long.BYTES);
            MemorySegment msg = arena.allocate(MSGHDR);
            msg.set(ADDRESS, MSG_IOV_OFFSET, iov);
            msg.set(JAVA_LONG, MSG_IOVLEN_OFFSET, 1L);
            msg.set(ADDRESS, MSG_CONTROL_OFFSET, control);
            msg.set(JAVA_LONG, MSG_CONTROLLEN_OFFSET, control.byteSize());

            long received = recvmsg(msg, capacity);
            int kept = collectFds(control, msg.get(JAVA_LONG, MSG_CONTROLLEN_OFFSET), fdsOut);
            if (fdCountOut != null && fdCountOut.length > 0) {
                fdCountOut[0] = kept;
            }
            if (!buffer.isNative() && received > 0) {
                MemorySegment.copy(data, 0, buffer, 0, received);
            }
            return (int) received;
        }
    }

    private long recvmsg(MemorySegment msg, long capacity) {
        MemorySegment capture = LibC.capture();
        while (true) {
            long result;
            try {
                result = (long) RECVMSG.invokeExact(capture, fd, msg, MSG_CMSG_CLOEXEC);
            } catch (Throwable t) {
                throw LibC.rethrow(t);
            }
            if (result >= 0) {
                return result;
            }
            int errno = LibC.errno(capture);
            if (errno != Errno.EINTR) {
                throw new LinuxException("recvmsg", "fd=" + fd + ", capacity=" + capacity, errno);
            }
        }
    }

    private static int collectFds(MemorySegment control, long controlLength, int[] fdsOut) {
        int kept = 0;
        long offset = 0;
        while (offset + CMSG_DATA_OFFSET <= controlLength) {
            long cmsgLength = control.get(JAVA_LONG, offset + CMSG_LEN_OFFSET);
            if (cmsgLength < CMSG_DATA_OFFSET || offset + cmsgLength > controlLength) {
                break;
            }
            if (control.get(JAVA_INT, offset + CMSG_LEVEL_OFFSET) == SOL_SOCKET
                && control.get(JAVA_INT, offset + CMSG_TYPE_OFFSET) == SCM_RIGHTS) {
                long count = (cmsgLength - CMSG_DATA_OFFSET) / Integer.BYTES;
                for (long i = 0; i < count; i++) {
                    int received = control.get(JAVA_INT, offset + CMSG_DATA_OFFSET + i * Integer.BYTES);
                    if (kept < fdsOut.length) {
                        fdsOut[kept++] = received;
                    } else {
                        LibC.closeQuietly(received);
                    }
                }
            }
            offset += cmsgAlign(cmsgLength);
        }
        return kept;
    }

    /**
     * Receives exactly {@code buffer.byteSize()} bytes; any fds that arrive with them are closed.
     *
     * @throws UncheckedIOException wrapping an {@link EOFException} when the peer closes first
     */
    public void receiveFully(MemorySegment buffer) {
        long length = buffer.byteSize();
        long done = 0;
        while (done < length) {
            int n = receive(buffer.asSlice(done), NO_FDS, null);
            if (n == 0) {
                throw new UncheckedIOException(new EOFException(
                    "unix socket fd=" + fd + ": peer closed after " + done + " of " + length + " bytes"));
            }
            done += n;
        }
    }

    /**
     * Shuts the socket down (waking a thread blocked in accept or receive) and closes it; a listening
     * socket also removes its socket file. Further calls do nothing.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            int ignored = (int) SHUTDOWN.invokeExact(LibC.capture(), fd, SHUT_RDWR);
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
        LibC.close(fd);
        if (listeningPath != null) {
            try {
                removeStaleSocket(listeningPath);
            } catch (RuntimeException somebodyElsesFile) {
                // the path no longer holds a socket: it is not ours to remove
            }
        }
    }

    @Override
    public String toString() {
        return "UnixSocket[fd=" + fd + (listeningPath != null ? ", listening on " + listeningPath : "") + "]";
    }

    private static int socket() {
        MemorySegment capture = LibC.capture();
        int result;
        try {
            result = (int) SOCKET.invokeExact(capture, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
        if (result < 0) {
            throw new LinuxException("socket", "domain=AF_UNIX, type=SOCK_STREAM|SOCK_CLOEXEC", LibC.errno(capture));
        }
        return result;
    }

    private static byte[] pathBytes(Path path) {
        byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_PATH_BYTES) {
            throw new IllegalArgumentException("unix socket path must be at most " + MAX_PATH_BYTES
                + " bytes (sun_path holds " + SUN_PATH_SIZE + " including the terminating NUL), got "
                + bytes.length + " bytes: " + path);
        }
        if (bytes.length == 0) {
            throw new IllegalArgumentException("unix socket path must not be empty");
        }
        for (byte b : bytes) {
            if (b == 0) {
                throw new IllegalArgumentException("unix socket path must not contain NUL: " + path);
            }
        }
        return bytes;
    }

    private static MemorySegment socketAddress(Arena arena, byte[] pathBytes) {
        MemorySegment address = arena.allocate(SOCKADDR_UN);
        address.set(JAVA_SHORT, SUN_FAMILY_OFFSET, (short) AF_UNIX);
        MemorySegment.copy(pathBytes, 0, address, JAVA_BYTE, SUN_PATH_OFFSET, pathBytes.length);
        return address;
    }

    private static int addressLength(byte[] pathBytes) {
        return (int) SUN_PATH_OFFSET + pathBytes.length + 1;
    }

    private static void removeStaleSocket(Path path) {
        try {
            if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if ((mode & S_IFMT) != S_IFSOCK) {
                throw new IllegalArgumentException("cannot listen on " + path + ": it exists and is not a socket");
            }
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove stale socket file " + path, e);
        }
    }
}

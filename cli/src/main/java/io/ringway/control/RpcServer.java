package io.ringway.control;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * The JSON-RPC 2.0 server of {@code ringway serve} on a unix socket: requests and replies are JSON
 * values back to back on the stream (as SPDK's {@code rpc.py} speaks), each reply followed by a
 * newline. Batches (arrays) are answered as arrays; notifications (no {@code id}) get no answer.
 *
 * <p>The socket is made mode 0600 before it appears under its name (bound in a private directory,
 * chmod-ed, then renamed into place). A lock file next to it ({@code SOCK.lock}) is held while the
 * server runs, so a second daemon on the same socket refuses to start instead of stealing it.
 */
public final class RpcServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RpcServer.class.getName());
    /** Largest request accepted, in bytes. */
    public static final int MAX_REQUEST = 1 << 20;
    /** Connections served at once; more are answered with an error and closed. */
    static final int MAX_CONNECTIONS = 16;
    /** A connection silent for this long is closed, so that idle clients cannot hold every slot. */
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);

    private final Path socket;
    private final ControlService service;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final Semaphore slots = new Semaphore(MAX_CONNECTIONS);
    private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
    private final long idleTimeoutMillis;
    private volatile boolean stopping;

    private RpcServer(Path socket, ControlService service, FileChannel lockChannel, FileLock lock, ServerSocketChannel server,
            Duration idleTimeout) {
        this.socket = socket;
        this.idleTimeoutMillis = Math.max(1, idleTimeout.toMillis());
        this.service = service;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.server = server;
        this.acceptor = Thread.ofPlatform().name("rpc-accept").daemon(true).unstarted(this::acceptLoop);
    }

    /**
     * Binds and starts serving.
     *
     * @throws IllegalStateException if another daemon serves {@code socket}, or it cannot be bound
     */
    public static RpcServer start(Path socket, ControlService service) throws IOException {
        return start(socket, service, DEFAULT_IDLE_TIMEOUT);
    }

    /** As {@link #start(Path, ControlService)}, closing connections silent for {@code idleTimeout}. */
    public static RpcServer start(Path socket, ControlService service, Duration idleTimeout) throws IOException {
        Path sock = socket.toAbsolutePath().normalize();
        Path dir = sock.getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        Path lockPath = dir.resolve(sock.getFileName() + ".lock");
        FileChannel lc = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = lc.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null; // held by this very process
        } catch (IOException e) {
            lc.close();
            throw e;
        }
        if (lock == null) {
            lc.close();
            throw new IllegalStateException("another ringway serve is already running on " + sock + " (it holds " + lockPath
                    + "); stop it first or pick another --rpc socket");
        }
        ServerSocketChannel server = null;
        try {
            if (Files.exists(sock)) {
                if (answers(sock)) {
                    throw new IllegalStateException("something already listens on " + sock
                            + " (not a ringway serve holding its lock); pick another --rpc socket");
                }
                Files.delete(sock); // stale: left by a daemon that was killed
            }
            Path priv = Files.createTempDirectory(dir, ".rpc-"); // mode 0700
            try {
                Path tmp = priv.resolve("s");
                server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                server.bind(UnixDomainSocketAddress.of(tmp));
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
                Files.move(tmp, sock, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(priv.resolve("s"));
                Files.deleteIfExists(priv);
            }
        } catch (IOException | RuntimeException e) {
            if (server != null) {
                server.close();
            }
            lock.release();
            lc.close();
            throw e;
        }
        RpcServer s = new RpcServer(sock, service, lc, lock, server, idleTimeout);
        s.acceptor.start();
        return s;
    }

    private static boolean answers(Path sock) {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** @return the socket path */
    public Path socket() {
        return socket;
    }

    private void acceptLoop() {
        while (!stopping) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!stopping) {
                    LOG.log(System.Logger.Level.WARNING, "rpc accept failed: " + e);
                }
                return;
            }
            if (!slots.tryAcquire()) {
                reply(c, error(null, RpcException.INTERNAL_ERROR, "too many RPC connections (at most " + MAX_CONNECTIONS + ")"));
                closeQuietly(c);
                continue;
            }
            open.add(c);
            Thread.ofPlatform().name("rpc-conn").daemon(true).start(() -> {
                try {
                    serve(c);
                } finally {
                    open.remove(c);
                    closeQuietly(c);
                    slots.release();
                }
            });
        }
    }

    private void serve(SocketChannel c) {
        JsonFramer framer = new JsonFramer(MAX_REQUEST);
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        try (Selector selector = Selector.open()) {
            c.configureBlocking(false);
            c.register(selector, SelectionKey.OP_READ);
            while (!stopping) {
                buf.clear();
                int n = c.read(buf);
                if (n < 0) {
                    return;
                }
                if (n == 0) {
                    if (selector.select(idleTimeoutMillis) == 0 && !stopping) {
                        reply(c, error(null, RpcException.INVALID_REQUEST, "connection silent for " + idleTimeoutMillis
                                + " ms" + (framer.midValue() ? " in the middle of a request" : "") + "; closing it"));
                        return;
                    }
                    selector.selectedKeys().clear();
                    continue;
                }
                for (int i = 0; i < n; i++) {
                    String value;
                    try {
                        value = framer.feed(buf.get(i));
                    } catch (JsonFramer.FramingException e) {
                        // The stream cannot be resynchronised: answer and hang up.
                        reply(c, error(null, RpcException.PARSE_ERROR, e.getMessage()));
                        return;
                    }
                    if (value != null) {
                        Object answer = handle(value);
                        if (answer != null) {
                            reply(c, answer);
                        }
                        if (stopping) {
                            return;
                        }
                    }
                }
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    /** Handles one framed value; null when nothing is to be answered (notifications only). */
    Object handle(String text) {
        Object parsed;
        try {
            parsed = Json.parse(text);
        } catch (Json.JsonException e) {
            return error(null, RpcException.PARSE_ERROR, "malformed JSON: " + e.getMessage());
        }
        if (parsed instanceof List<?> batch) {
            if (batch.isEmpty()) {
                return error(null, RpcException.INVALID_REQUEST, "empty batch");
            }
            List<Object> out = new ArrayList<>();
            for (Object r : batch) {
                Object a = handleOne(r);
                if (a != null) {
                    out.add(a);
                }
            }
            return out.isEmpty() ? null : out;
        }
        return handleOne(parsed);
    }

    private Object handleOne(Object request) {
        if (!(request instanceof Map<?, ?> m)) {
            return error(null, RpcException.INVALID_REQUEST, "a request must be an object, got " + Params.kind(request));
        }
        Object id = m.get("id");
        boolean hasId = m.containsKey("id");
        if (id != null && !(id instanceof String) && !(id instanceof Number)) {
            return error(null, RpcException.INVALID_REQUEST, "id must be a string, a number or null, got " + Params.kind(id));
        }
        if (!"2.0".equals(m.get("jsonrpc"))) {
            return error(id, RpcException.INVALID_REQUEST, "jsonrpc must be \"2.0\", got " + Params.kind(m.get("jsonrpc")));
        }
        if (!(m.get("method") instanceof String method)) {
            return error(id, RpcException.INVALID_REQUEST, "method must be a string, got " + Params.kind(m.get("method")));
        }
        for (Object k : m.keySet()) {
            if (!Set.of("jsonrpc", "method", "params", "id").contains(k)) {
                return error(id, RpcException.INVALID_REQUEST, "unknown request member \"" + k + "\"");
            }
        }
        Object params = m.get("params");
        Object result;
        try {
            if (params != null && !(params instanceof Map)) {
                throw RpcException.params(method + ": params must be an object (by-name parameters), got " + Params.kind(params));
            }
            if (stopping) {
                throw new RpcException(RpcException.INTERNAL_ERROR, "the daemon is shutting down");
            }
            result = service.call(method, params);
        } catch (RpcException e) {
            return hasId ? error(id, e.code(), e.getMessage()) : null;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "rpc " + method + " failed", e);
            return hasId ? error(id, RpcException.INTERNAL_ERROR, method + " failed: " + e) : null;
        }
        if (!hasId) {
            return null;
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("jsonrpc", "2.0");
        r.put("id", id);
        r.put("result", result);
        return r;
    }

    static Map<String, Object> error(Object id, int code, String message) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("code", code);
        e.put("message", message);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("jsonrpc", "2.0");
        r.put("id", id);
        r.put("error", e);
        return r;
    }

    /** Writes a reply; a client that reads nothing for 10 s loses it (and its connection, by the caller). */
    private static void reply(SocketChannel c, Object answer) {
        ByteBuffer out = ByteBuffer.wrap((Json.write(answer) + "\n").getBytes(StandardCharsets.UTF_8));
        long deadline = System.nanoTime() + 10_000_000_000L;
        try {
            while (out.hasRemaining() && System.nanoTime() < deadline) {
                if (c.write(out) == 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
                }
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    /** Stops accepting: the socket is removed; requests being handled finish; idle connections are closed. */
    @Override
    public void close() {
        stopping = true;
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot remove " + socket + ": " + e);
        }
        for (SocketChannel c : open) {
            closeQuietly(c);
        }
        try {
            acceptor.join(5000);
            lock.release();
            lockChannel.close();
        } catch (IOException | InterruptedException e) {
            // the lock goes with the process
        }
    }
}

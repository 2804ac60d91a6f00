package io.ringway.control;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/** A JSON-RPC 2.0 client of {@code ringway serve}: one connection, one request at a time. */
public final class RpcClient implements AutoCloseable {
    private static final AtomicLong IDS = new AtomicLong(1);
    private final SocketChannel channel;
    private final Selector selector;
    private final Duration timeout;

    private RpcClient(SocketChannel channel, Selector selector, Duration timeout) {
        this.channel = channel;
        this.selector = selector;
        this.timeout = timeout;
    }

    /** Connects to a daemon's RPC socket. */
    public static RpcClient connect(Path socket, Duration timeout) throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            c.connect(UnixDomainSocketAddress.of(socket));
            c.configureBlocking(false);
            Selector s = Selector.open();
            c.register(s, SelectionKey.OP_READ);
            return new RpcClient(c, s, timeout);
        } catch (IOException e) {
            c.close();
            throw new IOException("cannot connect to " + socket + " (is ringway serve running?): " + e.getMessage(), e);
        }
    }

    /** Calls {@code method} and returns the whole reply object (with {@code result} or {@code error}). */
    public Map<String, Object> call(String method, Map<String, Object> params) throws IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("jsonrpc", "2.0");
        r.put("method", method);
        if (params != null && !params.isEmpty()) {
            r.put("params", params);
        }
        r.put("id", IDS.getAndIncrement());
        @SuppressWarnings("unchecked")
        Map<String, Object> reply = (Map<String, Object>) Json.parse(exchange(Json.write(r)));
        return reply;
    }

    /** Sends raw text (tests send hostile input this way) and returns the next reply, as text. */
    public String exchange(String text) throws IOException {
        ByteBuffer out = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (out.hasRemaining()) {
            channel.write(out);
        }
        return readReply();
    }

    /** Reads the next reply value. */
    public String readReply() throws IOException {
        JsonFramer framer = new JsonFramer(64 << 20);
        ByteBuffer in = ByteBuffer.allocate(1);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            in.clear();
            int n = channel.read(in);
            if (n < 0) {
                throw new IOException("the daemon closed the connection without a reply");
            }
            if (n == 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IOException("no reply within " + timeout.toMillis() + " ms");
                }
                selector.select(Math.max(1, left / 1_000_000));
                selector.selectedKeys().clear();
                continue;
            }
            String v = framer.feed(in.get(0));
            if (v != null) {
                return v;
            }
        }
    }

    @Override
    public void close() throws IOException {
        selector.close();
        channel.close();
    }
}

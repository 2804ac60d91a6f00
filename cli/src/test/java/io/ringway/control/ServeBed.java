package io.ringway.control;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;

/** An in-process daemon for tests: a data plane, its RPC server on {@code dir/rpc.sock}, paths allowed under {@code dir}. */
final class ServeBed implements AutoCloseable {
    final Path dir;
    final DataPlane plane;
    final ControlService service;
    final RpcServer server;

    ServeBed(Path dir, int lcores) throws IOException {
        this.dir = dir;
        int[] cpus = new int[lcores];
        java.util.Arrays.fill(cpus, -1);
        plane = new DataPlane(cpus, null, IdlePolicy.backoff(), List.of(dir), 4096, StatsRegistry.process());
        service = new ControlService(plane, null);
        server = RpcServer.start(dir.resolve("rpc.sock"), service);
    }

    /** RPC parameters from key, value pairs, in order. */
    static Map<String, Object> m(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** Fails unless {@code error} has {@code code} and its message contains {@code part}. */
    static void assertError(Map<String, Object> error, int code, String part) {
        org.junit.jupiter.api.Assertions.assertEquals((long) code, error.get("code"), "code of " + error);
        org.junit.jupiter.api.Assertions.assertTrue(((String) error.get("message")).contains(part),
                "'" + error.get("message") + "' does not say " + part);
    }

    RpcClient client() throws IOException {
        return RpcClient.connect(server.socket(), Duration.ofSeconds(30));
    }

    /** Calls a method and returns its result; fails the test on an error reply. */
    Object ok(String method, Map<String, Object> params) throws IOException {
        try (RpcClient c = client()) {
            Map<String, Object> r = c.call(method, params);
            if (r.containsKey("error")) {
                throw new AssertionError(method + " " + params + " failed: " + r.get("error"));
            }
            return r.get("result");
        }
    }

    /** Calls a method expected to fail; returns the error object. */
    @SuppressWarnings("unchecked")
    Map<String, Object> error(String method, Map<String, Object> params) throws IOException {
        try (RpcClient c = client()) {
            Map<String, Object> r = c.call(method, params);
            if (!r.containsKey("error")) {
                throw new AssertionError(method + " " + params + " succeeded: " + r.get("result"));
            }
            return (Map<String, Object>) r.get("error");
        }
    }

    @Override
    public void close() {
        server.close();
        plane.close();
    }
}

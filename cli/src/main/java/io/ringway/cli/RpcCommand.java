package io.ringway.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.ringway.control.Json;
import io.ringway.control.RpcClient;
import io.ringway.control.RpcSocket;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ringway rpc}: one JSON-RPC call to a running {@code ringway serve}. */
@Command(name = "rpc", mixinStandardHelpOptions = true,
        description = {"Call a method of a running `ringway serve` and print the result (or the error) as JSON;"
                + " exits 1 on an error reply.",
            "Example: ringway rpc bdev_malloc_create --param name=Malloc0 --param size=64M",
            "`ringway rpc rpc_get_methods` lists the methods."})
final class RpcCommand implements java.util.concurrent.Callable<Integer> {
    @Parameters(index = "0", paramLabel = "METHOD", description = "e.g. bdev_get_bdevs, vhost_create_blk_controller.")
    String method;

    @Option(names = "--param", paramLabel = "KEY=VALUE",
            description = "A parameter (repeat). A value that reads as JSON (42, true, null, \"x\", [..]) is taken as such, else as a string.")
    List<String> params = new ArrayList<>();

    @Option(names = "--json", paramLabel = "OBJECT", description = "All parameters as one JSON object.")
    String json;

    @Option(names = "--rpc", paramLabel = "SOCK", description = "RPC socket (default: as ringway serve).")
    Path rpc;

    @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS", description = "Wait this long for the reply (default: ${DEFAULT-VALUE}).")
    int timeout;

    @Override
    public Integer call() throws Exception {
        Map<String, Object> p = new LinkedHashMap<>();
        try {
            if (json != null) {
                if (!(Json.parse(json) instanceof Map<?, ?> m)) {
                    System.err.println("ringway rpc: --json must be a JSON object");
                    return 2;
                }
                m.forEach((k, v) -> p.put((String) k, v));
            }
            for (String kv : params) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    System.err.println("ringway rpc: --param '" + kv + "' is not KEY=VALUE");
                    return 2;
                }
                String v = kv.substring(eq + 1);
                Object value;
                try {
                    value = Json.parse(v);
                } catch (IllegalArgumentException e) {
                    value = v;
                }
                p.put(kv.substring(0, eq), value);
            }
        } catch (IllegalArgumentException e) {
            System.err.println("ringway rpc: --json: " + e.getMessage());
            return 2;
        }
        Path sock = rpc != null ? rpc : RpcSocket.defaultPath();
        Map<String, Object> reply;
        try (RpcClient c = RpcClient.connect(sock, Duration.ofSeconds(timeout))) {
            reply = c.call(method, p);
        } catch (java.io.IOException e) {
            System.err.println("ringway rpc: " + e.getMessage());
            return 3;
        }
        if (reply.containsKey("error")) {
            System.out.println(Json.pretty(reply.get("error")));
            return 1;
        }
        System.out.println(Json.pretty(reply.get("result")));
        return 0;
    }
}

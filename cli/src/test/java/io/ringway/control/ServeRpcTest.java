package io.ringway.control;

import static io.ringway.control.ServeBed.m;
import static io.ringway.control.ServeBed.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.frontend.VhostUserFrontend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The RPC face of {@code ringway serve}: hostile input, the methods' rules, get_config and reload. */
class ServeRpcTest {
    @TempDir
    Path dir;
    ServeBed bed;

    @BeforeEach
    void start() throws IOException {
        bed = new ServeBed(dir, 1);
    }

    @AfterEach
    void stop() {
        bed.close();
    }

    @Test
    void theSocketIsOwnerOnly() throws IOException {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(bed.server.socket())));
    }

    @Test
    void aSecondDaemonOnTheSameSocketRefusesToStart() throws IOException {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> RpcServer.start(bed.server.socket(), bed.service));
        assertTrue(e.getMessage().contains("another ringway serve is already running on " + bed.server.socket()), e.getMessage());
        assertEquals(List.of(), bed.ok("bdev_get_bdevs", Map.of()), "the first daemon still answers");
    }

    @Test
    void aSharedFallbackDirectoryMustBeThisUsersAlone() throws IOException {
        Path mine = Files.createDirectory(dir.resolve("ringway-mine"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        RpcSocket.checkPrivateDirectory(mine);
        Files.setPosixFilePermissions(mine, PosixFilePermissions.fromString("rwxrwxrwx"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> RpcSocket.checkPrivateDirectory(mine));
        assertTrue(e.getMessage().contains("is not a private directory of this user") && e.getMessage().contains("mode 777"),
                e.getMessage());
    }

    @Test
    void aStaleSocketOfAKilledDaemonIsReplaced() throws IOException {
        Path sock = dir.resolve("stale.sock");
        Files.createFile(sock); // left behind, nobody listens
        try (RpcServer s = RpcServer.start(sock, bed.service);
                RpcClient c = RpcClient.connect(sock, Duration.ofSeconds(10))) {
            assertTrue(c.call("rpc_get_methods", null).containsKey("result"));
        }
    }

    @Test
    void malformedJsonGetsAParseErrorAndTheConnectionCarriesOn() throws IOException {
        try (RpcClient c = bed.client()) {
            Map<?, ?> r = (Map<?, ?>) Json.parse(c.exchange("{\"jsonrpc\":\"2.0\",\"method\":bdev_get_bdevs,\"id\":1}"));
            assertError(cast(r.get("error")), RpcException.PARSE_ERROR, "malformed JSON");
            assertTrue(c.call("bdev_get_bdevs", null).containsKey("result"), "same connection, next request");
        }
    }

    @Test
    void aStreamThatIsNotJsonIsAnsweredAndClosedWithoutHarm() throws IOException {
        try (RpcClient c = bed.client()) {
            Map<?, ?> r = (Map<?, ?>) Json.parse(c.exchange("hello\n"));
            assertError(cast(r.get("error")), RpcException.PARSE_ERROR, "must be a JSON object or array");
        }
        assertEquals(List.of(), bed.ok("bdev_get_bdevs", Map.of()));
    }

    @Test
    void tooDeepOrTooLargeRequestsAreRefused() throws IOException {
        try (RpcClient c = bed.client()) {
            String deep = "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":" + "[".repeat(200) + "]".repeat(200) + ",\"id\":1}";
            assertError(cast(((Map<?, ?>) Json.parse(c.exchange(deep))).get("error")), RpcException.PARSE_ERROR, "nested deeper");
        }
        try (RpcClient c = bed.client()) {
            String big = "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"a\":\"" + "x".repeat(RpcServer.MAX_REQUEST) + "\"}}";
            String reply;
            try {
                reply = c.exchange(big);
            } catch (IOException e) {
                reply = c.readReply(); // the daemon answered and hung up while we were still writing
            }
            assertError(cast(((Map<?, ?>) Json.parse(reply)).get("error")), RpcException.PARSE_ERROR, "larger than");
        }
        assertEquals(List.of(), bed.ok("bdev_get_bdevs", Map.of()));
    }

    @Test
    void requestsThatAreNotJsonRpcAreInvalid() throws IOException {
        try (RpcClient c = bed.client()) {
            assertError(cast(((Map<?, ?>) Json.parse(c.exchange("{\"method\":\"stats_get\",\"id\":1}"))).get("error")),
                    RpcException.INVALID_REQUEST, "jsonrpc must be \"2.0\"");
            assertError(cast(((Map<?, ?>) Json.parse(c.exchange("{\"jsonrpc\":\"2.0\",\"method\":7,\"id\":1}"))).get("error")),
                    RpcException.INVALID_REQUEST, "method must be a string");
            assertError(cast(((Map<?, ?>) Json.parse(c.exchange("[]"))).get("error")), RpcException.INVALID_REQUEST, "empty batch");
            assertError(cast(((Map<?, ?>) Json.parse(c.exchange("{\"jsonrpc\":\"2.0\",\"method\":\"stats_get\",\"params\":[1],\"id\":1}")))
                    .get("error")), RpcException.INVALID_PARAMS, "params must be an object");
            // A batch is answered as an array, one reply per request with an id.
            List<?> batch = (List<?>) Json.parse(c.exchange("[{\"jsonrpc\":\"2.0\",\"method\":\"bdev_get_bdevs\",\"id\":1},"
                    + "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":2},{\"jsonrpc\":\"2.0\",\"method\":\"stats_get\"}]"));
            assertEquals(2, batch.size());
        }
    }

    @Test
    void aSilentConnectionIsClosedSoThatIdleClientsCannotHoldEverySlot() throws IOException {
        Path sock = dir.resolve("idle.sock");
        try (RpcServer s = RpcServer.start(sock, bed.service, Duration.ofMillis(300));
                RpcClient idle = RpcClient.connect(sock, Duration.ofSeconds(10));
                RpcClient halfway = RpcClient.connect(sock, Duration.ofSeconds(10))) {
            assertError(cast(((Map<?, ?>) Json.parse(halfway.exchange("{\"jsonrpc\":"))).get("error")),
                    RpcException.INVALID_REQUEST, "in the middle of a request");
            assertError(cast(((Map<?, ?>) Json.parse(idle.readReply())).get("error")), RpcException.INVALID_REQUEST,
                    "connection silent for 300 ms; closing it");
            assertThrows(IOException.class, idle::readReply, "the connection is closed");
        }
    }

    @Test
    void unknownMethodsAreNamed() throws IOException {
        assertError(bed.error("bdev_frobnicate", Map.of()), RpcException.METHOD_NOT_FOUND, "unknown method 'bdev_frobnicate'");
    }

    @Test
    void wrongParameterTypesAreNamed() throws IOException {
        assertError(bed.error("bdev_malloc_create", m("name", "M0", "size", true)), RpcException.INVALID_PARAMS,
                "size must be an integer, got the boolean true");
        assertError(bed.error("bdev_malloc_create", m("name", 5, "size", 4096)), RpcException.INVALID_PARAMS,
                "name must be a string, got the number 5");
        assertError(bed.error("bdev_malloc_create", m("name", "M0", "size", 4096, "sise", 1)), RpcException.INVALID_PARAMS,
                "unknown parameter(s) [sise]");
        assertError(bed.error("bdev_malloc_create", m("name", "../x", "size", 4096)), RpcException.INVALID_PARAMS,
                "is not a name");
        assertError(bed.error("vhost_create_blk_controller", m("ctrlr", "c", "socket", dir.resolve("c").toString(),
                "bdev", "M0", "queues", "two")), RpcException.INVALID_PARAMS, "queues must be an integer");
        assertError(bed.error("bdev_malloc_create", m("name", "M0")), RpcException.INVALID_PARAMS, "missing parameter size");
    }

    @Test
    void sizesOfZeroOrBeyondMemoryAreRefused() throws IOException {
        assertError(bed.error("bdev_malloc_create", m("name", "M0", "size", 0)), RpcException.INVALID_PARAMS, "must be positive");
        assertError(bed.error("bdev_null_create", m("name", "N0", "size", "0")), RpcException.INVALID_PARAMS, "must be positive");
        assertError(bed.error("bdev_malloc_create", m("name", "M0", "size", 1000)), RpcException.INVALID_PARAMS,
                "not a multiple of the block size 512");
        assertError(bed.error("bdev_malloc_create", m("name", "M0", "size", "4096T")), RpcException.INVALID_PARAMS,
                "beyond the memory available");
        assertError(bed.error("bdev_malloc_create", m("name", "M0", "size", "99999999999T")), RpcException.INVALID_PARAMS,
                "too large");
        assertEquals(List.of(), bed.ok("bdev_get_bdevs", Map.of()), "nothing half-made");
    }

    @Test
    void duplicateNamesAreRefused() throws IOException {
        bed.ok("bdev_malloc_create", m("name", "M0", "size", "1M"));
        assertError(bed.error("bdev_null_create", m("name", "M0", "size", "1M")), RpcException.ALREADY_EXISTS,
                "bdev M0 already exists");
        bed.ok("bdev_malloc_create", m("name", "M1", "size", "1M"));
        bed.ok("vhost_create_blk_controller", m("ctrlr", "c0", "socket", dir.resolve("c0.sock").toString(), "bdev", "M0"));
        assertError(bed.error("vhost_create_blk_controller", m("ctrlr", "c0", "socket", dir.resolve("c1.sock").toString(),
                "bdev", "M1")), RpcException.ALREADY_EXISTS, "controller c0 already exists");
        assertError(bed.error("vhost_create_blk_controller", m("ctrlr", "c1", "socket", dir.resolve("c0.sock").toString(),
                "bdev", "M1")), RpcException.ALREADY_EXISTS, "is already used by controller c0");
        assertError(bed.error("vhost_create_blk_controller", m("ctrlr", "c1", "socket", dir.resolve("c1.sock").toString(),
                "bdev", "M0")), RpcException.IN_USE, "bdev M0 is already used by controller c0");
        bed.ok("net_port_create", m("name", "r0", "type", "ring"));
        assertError(bed.error("net_port_create", m("name", "r0", "type", "ring")), RpcException.ALREADY_EXISTS,
                "net port r0 already exists");
    }

    @Test
    void pathsOutsideTheAllowedDirectoriesAreRefused() throws IOException {
        assertError(bed.error("bdev_file_create", m("name", "F0", "path", "/etc/hostname")), RpcException.INVALID_PARAMS,
                "outside the allowed directories");
        assertError(bed.error("bdev_file_create", m("name", "F0", "path", dir.resolve("../../etc/hostname").toString())),
                RpcException.INVALID_PARAMS, "outside the allowed directories");
        Path link = dir.resolve("link");
        Files.createSymbolicLink(link, Path.of("/etc"));
        assertError(bed.error("bdev_file_create", m("name", "F0", "path", link.resolve("hostname").toString())),
                RpcException.INVALID_PARAMS, "outside the allowed directories");
        bed.ok("bdev_malloc_create", m("name", "M0", "size", "1M"));
        assertError(bed.error("vhost_create_blk_controller", m("ctrlr", "c0", "socket", "/etc/c0.sock", "bdev", "M0")),
                RpcException.INVALID_PARAMS, "outside the allowed directories");
        assertError(bed.error("net_port_create", m("name", "p", "type", "vhost-user", "socket", link.resolve("p.sock").toString())),
                RpcException.INVALID_PARAMS, "outside the allowed directories");
        assertError(bed.error("framework_reload", m("file", "/etc/passwd")), RpcException.INVALID_PARAMS,
                "outside the allowed directories");
        assertError(bed.error("bdev_file_create", m("name", "F0", "path", dir.resolve("missing.img").toString())),
                RpcException.INVALID_PARAMS, "does not exist");
    }

    @Test
    void aBdevUnderAControllerCannotBeDeletedAndTheErrorNamesTheController() throws IOException {
        bed.ok("bdev_malloc_create", m("name", "M0", "size", "1M"));
        bed.ok("vhost_create_blk_controller", m("ctrlr", "vhost.0", "socket", dir.resolve("c0.sock").toString(), "bdev", "M0"));
        assertError(bed.error("bdev_delete", m("name", "M0")), RpcException.IN_USE, "in use by controller vhost.0");
        bed.ok("vhost_delete_controller", m("ctrlr", "vhost.0"));
        bed.ok("bdev_delete", m("name", "M0"));
        assertEquals(List.of(), bed.ok("bdev_get_bdevs", Map.of()));
        assertError(bed.error("bdev_delete", m("name", "M0")), RpcException.NOT_FOUND, "bdev M0 does not exist");
    }

    @Test
    void tapParametersAreCheckedBeforeAnythingIsOpened() throws IOException {
        assertError(bed.error("net_port_create", m("name", "tap0123456789abcd", "type", "tap")), RpcException.INVALID_PARAMS,
                "tap name too long");
        assertError(bed.error("net_port_create", m("name", "t:0", "type", "tap")), RpcException.INVALID_PARAMS,
                "invalid character");
        assertError(bed.error("net_port_create", m("name", "t0", "type", "tap", "queues", 2)), RpcException.INVALID_PARAMS,
                "unknown parameter(s) [queues]");
        assertError(bed.error("net_port_create", m("name", "t0", "type", "warp")), RpcException.INVALID_PARAMS,
                "known: vhost-user, tap, ring");
        assertEquals(List.of(), bed.ok("net_get_ports", Map.of()), "nothing was created");
    }

    @Test
    void captureRefusesUnknownPortsSecondCapturesAndDirectoriesOutsideTheAllowedOnes() throws IOException {
        bed.ok("net_port_create", m("name", "r0", "type", "ring"));
        bed.ok("net_port_create", m("name", "r1", "type", "ring"));
        String cap = dir.resolve("cap0").toString();
        assertError(bed.error("capture_start", m("port", "nope", "dir", cap)), RpcException.NOT_FOUND,
                "net port nope does not exist");
        assertError(bed.error("capture_start", m("port", "r0", "dir", "/etc/ringway-capture")), RpcException.INVALID_PARAMS,
                "outside the allowed directories");
        Path link = Files.createSymbolicLink(dir.resolve("out"), Path.of("/etc"));
        assertError(bed.error("capture_start", m("port", "r0", "dir", link.resolve("cap").toString())),
                RpcException.INVALID_PARAMS, "outside the allowed directories");
        assertError(bed.error("capture_start", m("port", "r0", "dir", cap, "direction", "sideways")),
                RpcException.INVALID_PARAMS, "direction must be rx, tx or both, got 'sideways'");
        assertError(bed.error("capture_start", m("port", "r0", "dir", cap, "snap", 0)), RpcException.INVALID_PARAMS,
                "snap must be between 1 and 65535, got 0");
        Files.writeString(dir.resolve("plain"), "x");
        assertError(bed.error("capture_start", m("port", "r0", "dir", dir.resolve("plain").toString())),
                RpcException.INVALID_PARAMS, "exists and is not a directory");
        assertFalse(Files.exists(Path.of(cap)), "no journal was made by the refused requests");

        Map<?, ?> started = (Map<?, ?>) bed.ok("capture_start", m("port", "r0", "dir", cap, "direction", "rx", "snap", 128));
        assertEquals("rx", started.get("direction"));
        assertEquals(128L, started.get("snap"));
        assertError(bed.error("capture_start", m("port", "r0", "dir", dir.resolve("cap1").toString())),
                RpcException.ALREADY_EXISTS, "net port r0 is already captured into " + Path.of(cap).toRealPath());
        assertError(bed.error("capture_start", m("port", "r1", "dir", cap)), RpcException.IN_USE,
                "is already the journal of the capture of r0");
        assertError(bed.error("capture_stop", m("port", "r1")), RpcException.NOT_FOUND, "net port r1 is not being captured");
        assertError(bed.error("capture_stop", m("port", "nope")), RpcException.NOT_FOUND, "net port nope does not exist");

        // Runtime-only: listed by net_get_ports and stats_get, not by the config.
        Map<?, ?> r0 = (Map<?, ?>) ((List<?>) bed.ok("net_get_ports", m("name", "r0"))).get(0);
        assertEquals(Path.of(cap).toRealPath().toString(), r0.get("capture"));
        assertEquals(1, ((List<?>) ((Map<?, ?>) bed.ok("stats_get", Map.of())).get("captures")).size());
        Map<?, ?> config = (Map<?, ?>) bed.ok("framework_get_config", Map.of());
        assertTrue(List.of(ControlService.CONFIG_KEYS).containsAll(config.keySet()), "config members: " + config.keySet());
        assertFalse(Json.write(config).contains("cap0"), "the capture is not in the config: " + config);

        Map<?, ?> stopped = (Map<?, ?>) bed.ok("capture_stop", m("port", "r0"));
        assertEquals(0L, stopped.get("captured"), "nothing polls a port outside the switch: " + stopped);
        assertEquals(true, stopped.get("complete"));
        assertError(bed.error("capture_stop", m("port", "r0")), RpcException.NOT_FOUND, "net port r0 is not being captured");

        // Deleting a captured port stops its capture.
        bed.ok("capture_start", m("port", "r1", "dir", cap));
        bed.ok("net_port_delete", m("name", "r1"));
        assertEquals(List.of(), ((Map<?, ?>) bed.ok("stats_get", Map.of())).get("captures"));
    }

    @Test
    void deletingAControllerWithAConnectedFrontEndDisconnectsIt() throws Exception {
        bed.ok("bdev_malloc_create", m("name", "M0", "size", "1M"));
        Path sock = dir.resolve("c0.sock");
        bed.ok("vhost_create_blk_controller", m("ctrlr", "c0", "socket", sock.toString(), "bdev", "M0"));
        try (VhostUserFrontend f = VhostUserFrontend.connect(sock, Duration.ofSeconds(10))) {
            f.negotiate(~0L, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
            awaitTrue(() -> bed.plane.controllerMap().get("c0").backend().connected(), "controller connected");
            bed.ok("vhost_delete_controller", m("ctrlr", "c0"));
            // The back-end closed the session: the next request finds the connection gone.
            assertThrows(RuntimeException.class, f::getFeatures);
        }
        assertFalse(Files.exists(sock), "the socket file is removed");
        bed.ok("bdev_delete", m("name", "M0"));
    }

    /** Builds one of everything through RPC. */
    private void buildState(Path image) throws IOException {
        bed.ok("bdev_malloc_create", m("name", "Malloc0", "size", "4M", "block_size", 4096));
        bed.ok("bdev_null_create", m("name", "Null0", "size", 1 << 20));
        bed.ok("bdev_file_create", m("name", "File0", "path", image.toString()));
        bed.ok("bdev_delay_create", m("name", "Delay0", "base", "Null0", "latency", "fixed:10us"));
        bed.ok("vhost_create_blk_controller", m("ctrlr", "vhost.0", "socket", dir.resolve("vhost.0").toString(),
                "bdev", "Malloc0", "queues", 2));
        bed.ok("vhost_create_blk_controller", m("ctrlr", "vhost.1", "socket", dir.resolve("vhost.1").toString(),
                "bdev", "Delay0", "readonly", true, "serial", "disk1"));
        bed.ok("net_port_create", m("name", "vhost0", "type", "vhost-user", "socket", dir.resolve("net0").toString()));
        bed.ok("net_port_create", m("name", "ring0", "type", "ring", "queues", 2));
        bed.ok("net_switch_attach", m("port", "vhost0"));
        bed.ok("net_switch_attach", m("port", "ring0"));
    }

    @Test
    void getConfigRoundTrips() throws IOException {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        buildState(image);
        Object config = bed.ok("framework_get_config", Map.of());
        String text = Json.pretty(config);
        Path file = dir.resolve("saved.json");
        Files.writeString(file, text);
        bed.close();

        bed = new ServeBed(dir, 1);
        Map<?, ?> r = (Map<?, ?>) bed.ok("framework_reload", m("file", file.toString()));
        assertEquals(10, ((List<?>) r.get("created")).size(), "created " + r);
        assertEquals(config, bed.ok("framework_get_config", Map.of()), "a saved config recreates the same state");
        // And applying it again changes nothing.
        Map<?, ?> again = (Map<?, ?>) bed.ok("framework_reload", m("file", file.toString()));
        assertEquals(List.of(), again.get("created"));
        assertEquals(List.of(), again.get("deleted"));
    }

    @Test
    void reloadAppliesOnlyTheDifference() throws Exception {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        buildState(image);
        Map<String, Object> config = cast(bed.ok("framework_get_config", Map.of()));
        DataPlane.Controller keptBefore = bed.plane.controllerMap().get("vhost.0");
        DataPlane.NetPort portBefore = bed.plane.portMap().get("vhost0");
        // Drop vhost.1 (and its delay bdev), change File0 to read-only, add Malloc1 + vhost.2.
        List<Object> bdevs = new java.util.ArrayList<>(list(config.get("bdevs")));
        bdevs.removeIf(b -> "Delay0".equals(((Map<?, ?>) b).get("name")));
        for (int i = 0; i < bdevs.size(); i++) {
            Map<String, Object> b = new LinkedHashMap<>(cast(bdevs.get(i)));
            if (b.get("name").equals("File0")) {
                b.put("readonly", true);
                bdevs.set(i, b);
            }
        }
        bdevs.add(m("name", "Malloc1", "type", "malloc", "size", "1M"));
        List<Object> ctrls = new java.util.ArrayList<>(list(config.get("vhost_controllers")));
        ctrls.removeIf(c -> "vhost.1".equals(((Map<?, ?>) c).get("ctrlr")));
        ctrls.add(m("ctrlr", "vhost.2", "socket", dir.resolve("vhost.2").toString(), "bdev", "Malloc1"));
        config.put("bdevs", bdevs);
        config.put("vhost_controllers", ctrls);
        config.put("switch_ports", List.of("vhost0"));
        config.put("lcores", "0");

        Map<?, ?> r = (Map<?, ?>) bed.ok("framework_reload", m("config", config));
        assertEquals(List.of("switch port ring0", "controller vhost.1", "bdev Delay0", "bdev File0"), r.get("deleted"));
        assertEquals(List.of("bdev File0", "bdev Malloc1", "controller vhost.2"), r.get("created"));
        assertTrue(((String) r.get("note")).contains("lcores stay one unpinned lcore"), "note: " + r.get("note"));
        assertSame(keptBefore, bed.plane.controllerMap().get("vhost.0"), "vhost.0 untouched");
        assertSame(portBefore, bed.plane.portMap().get("vhost0"), "vhost0 untouched");
        assertEquals(List.of("vhost0"), bed.plane.switchPortList());
        assertTrue((Boolean) ((Map<?, ?>) ((List<?>) bed.ok("bdev_get_bdevs", m("name", "File0"))).get(0)).get("readonly"));

        // A config that is wrong anywhere changes nothing.
        Map<String, Object> bad = new LinkedHashMap<>(config);
        bad.put("net_ports", List.of(m("name", "x", "type", "warp")));
        assertError(bed.error("framework_reload", m("config", bad)), RpcException.INVALID_PARAMS, "unknown net port type 'warp'");
        assertNotSame(null, bed.plane.portMap().get("vhost0"));
        assertEquals(2, bed.plane.portMap().size());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Object o) {
        return (Map<String, Object>) o;
    }

    private static List<?> list(Object o) {
        return (List<?>) o;
    }

    static void awaitTrue(java.util.function.BooleanSupplier check, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!check.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 15 s: " + what);
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
    }
}

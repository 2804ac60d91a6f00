package io.ringway.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The JSON-RPC methods of {@code ringway serve} over a {@link DataPlane}, and the config file: the
 * same parameters as the create methods, grouped by kind, so that {@code framework_get_config}'s
 * answer, saved to a file, recreates the state it describes.
 *
 * <pre>{@code
 * {
 *   "lcores": "0-1",
 *   "bdevs": [ {"name": "Malloc0", "type": "malloc", "size": 67108864, "block_size": 512, "readonly": false} ],
 *   "vhost_controllers": [ {"ctrlr": "vhost.0", "socket": "/run/ringway/vhost.0", "bdev": "Malloc0", "queues": 1} ],
 *   "net_ports": [ {"name": "vhost0", "type": "vhost-user", "socket": "/run/ringway/net0", "queues": 1},
 *                  {"name": "tap0", "type": "tap"} ],
 *   "switch_ports": ["vhost0", "tap0"]
 * }
 * }</pre>
 *
 * <p>Captures ({@code capture_start}) are runtime-only, as a {@code dpdk-pdump} session is: the config
 * does not list them, a reload leaves a running capture alone unless its port is deleted or
 * recreated (which stops it), and a restarted daemon captures nothing until asked again.
 * {@code stats_get} lists the running captures with their counters; {@code capture_stop} answers with
 * the final ones.
 */
public final class ControlService {
    /** Config file members. */
    static final String[] CONFIG_KEYS = {"lcores", "bdevs", "vhost_controllers", "net_ports", "switch_ports"};

    private final DataPlane plane;
    private volatile Path configFile;

    public ControlService(DataPlane plane, Path configFile) {
        this.plane = Objects.requireNonNull(plane, "plane");
        this.configFile = configFile;
    }

    /** @return the data plane */
    public DataPlane plane() {
        return plane;
    }

    /**
     * Runs one method.
     *
     * @return the JSON-RPC result
     * @throws RpcException with the error to answer
     */
    public Object call(String method, Object rawParams) {
        Params p = Params.of(method, rawParams);
        return switch (method) {
            case "bdev_malloc_create" -> createBdev(method, "malloc", p);
            case "bdev_null_create" -> createBdev(method, "null", p);
            case "bdev_file_create" -> createBdev(method, "file", p);
            case "bdev_delay_create" -> createBdev(method, "delay", p);
            case "bdev_delete" -> {
                plane.deleteBdev(p.only("name").string("name"));
                yield true;
            }
            case "bdev_get_bdevs" -> plane.getBdevs(p.only("name").string("name", null));
            case "vhost_create_blk_controller" -> plane.createController(plane.controllerSpec(p));
            case "vhost_delete_controller" -> {
                plane.deleteController(p.only("ctrlr").string("ctrlr"));
                yield true;
            }
            case "vhost_get_controllers" -> plane.getControllers(p.only("name").string("name", null));
            case "net_port_create" -> plane.createPort(plane.portSpec(p));
            case "net_port_delete" -> {
                plane.deletePort(p.only("name").string("name"));
                yield true;
            }
            case "net_switch_attach" -> {
                plane.attach(p.only("port").string("port"));
                yield true;
            }
            case "net_switch_detach" -> {
                plane.detach(p.only("port").string("port"));
                yield true;
            }
            case "net_get_ports" -> plane.getPorts(p.only("name").string("name", null));
            case "capture_start" -> plane.startCapture(DataPlane.captureSpec(p));
            case "capture_stop" -> plane.stopCapture(p.only("port").string("port"));
            case "stats_get" -> {
                p.only();
                yield plane.stats();
            }
            case "framework_get_config" -> {
                p.only();
                yield plane.config();
            }
            case "framework_reload" -> {
                p.only("config", "file");
                if (p.has("config")) {
                    yield reload(Params.of("config", rawMember(rawParams, "config")));
                }
                // A file named by a client is read only from where the daemon may read backing files.
                yield reloadFile(p.has("file") ? plane.allowedExisting("framework_reload: file", Path.of(p.string("file"))) : null);
            }
            case "rpc_get_methods" -> {
                p.only();
                yield List.of(METHODS);
            }
            default -> throw new RpcException(RpcException.METHOD_NOT_FOUND, "unknown method '"
                    + (method.length() > 64 ? method.substring(0, 64) + "..." : method) + "' (rpc_get_methods lists them)");
        };
    }

    static final String[] METHODS = {"bdev_malloc_create", "bdev_null_create", "bdev_file_create", "bdev_delay_create",
        "bdev_delete", "bdev_get_bdevs", "vhost_create_blk_controller", "vhost_delete_controller", "vhost_get_controllers",
        "net_port_create", "net_port_delete", "net_switch_attach", "net_switch_detach", "net_get_ports", "capture_start",
        "capture_stop", "stats_get", "framework_get_config", "framework_reload", "rpc_get_methods"};

    private static Object rawMember(Object params, String key) {
        return ((Map<?, ?>) params).get(key);
    }

    private Object createBdev(String method, String type, Params p) {
        return plane.createBdev(plane.bdevSpec(method, type, p));
    }

    /** What a config file asks for, parsed and checked before anything changes. */
    record Desired(String lcores, List<DataPlane.BdevSpec> bdevs, List<DataPlane.ControllerSpec> controllers,
            List<DataPlane.PortSpec> ports, List<String> switchPorts) {
    }

    Desired parseConfig(Params c) {
        c.only(CONFIG_KEYS);
        String lcores = c.has("lcores") ? c.string("lcores") : null;
        List<DataPlane.BdevSpec> bdevs = new ArrayList<>();
        Set<String> names = new HashSet<>();
        int i = 0;
        for (Object o : c.has("bdevs") ? c.list("bdevs") : List.of()) {
            Params e = Params.of("bdevs[" + i + "]", o);
            DataPlane.BdevSpec s = plane.bdevSpec("bdevs[" + i++ + "]", e.string("type"), e);
            if (!names.add(s.name())) {
                throw RpcException.params("config: bdev " + s.name() + " appears twice");
            }
            bdevs.add(s);
        }
        List<DataPlane.ControllerSpec> ctrls = new ArrayList<>();
        names.clear();
        i = 0;
        for (Object o : c.has("vhost_controllers") ? c.list("vhost_controllers") : List.of()) {
            DataPlane.ControllerSpec s = plane.controllerSpec(Params.of("vhost_controllers[" + i++ + "]", o));
            if (!names.add(s.name())) {
                throw RpcException.params("config: controller " + s.name() + " appears twice");
            }
            ctrls.add(s);
        }
        List<DataPlane.PortSpec> ports = new ArrayList<>();
        names.clear();
        i = 0;
        for (Object o : c.has("net_ports") ? c.list("net_ports") : List.of()) {
            DataPlane.PortSpec s = plane.portSpec(Params.of("net_ports[" + i++ + "]", o));
            if (!names.add(s.name())) {
                throw RpcException.params("config: net port " + s.name() + " appears twice");
            }
            ports.add(s);
        }
        List<String> sw = new ArrayList<>();
        for (Object o : c.has("switch_ports") ? c.list("switch_ports") : List.of()) {
            if (!(o instanceof String s) || !names.contains(s)) {
                throw RpcException.params("config: switch_ports entry " + Params.kind(o) + " is not a net port of the config");
            }
            if (sw.contains(s)) {
                throw RpcException.params("config: switch_ports lists " + s + " twice");
            }
            sw.add(s);
        }
        return new Desired(lcores, bdevs, ctrls, ports, sw);
    }

    /** Reads and applies the config file given at start (or {@code file}). */
    public Map<String, Object> reloadFile(Path file) {
        Path f = file != null ? file : configFile;
        if (f == null) {
            throw RpcException.params("framework_reload: no config file (start with --config or pass file or config)");
        }
        Object parsed;
        try {
            String text = Files.readString(f);
            if (text.length() > RpcServer.MAX_REQUEST) {
                throw RpcException.params("config " + f + " is larger than " + RpcServer.MAX_REQUEST + " bytes");
            }
            parsed = Json.parse(text);
        } catch (IOException e) {
            throw RpcException.params("cannot read config " + f + ": " + e.getMessage());
        } catch (Json.JsonException e) {
            throw new RpcException(RpcException.PARSE_ERROR, "config " + f + " is not valid JSON: " + e.getMessage());
        }
        Map<String, Object> r = reload(Params.of("config " + f, parsed));
        if (file != null) {
            configFile = file;
        }
        return r;
    }

    /**
     * Applies a config as a diff against the running state: what is gone or changed is deleted, what
     * is new or changed is created, the rest is not touched (its front-ends stay connected). A
     * controller whose bdev is recreated is recreated too. The whole config is checked before the
     * first change.
     *
     * @return the names created, deleted and left alone
     */
    public synchronized Map<String, Object> reload(Params config) {
        Desired d = parseConfig(config);
        // The lcores are fixed for the daemon's life (and --lcores overrides the file's): a different
        // list is reported, not applied, and the devices are reconciled all the same.
        Object running = plane.config().get("lcores");
        String lcoresNote = d.lcores() != null && !d.lcores().equals(running)
                ? "lcores stay " + (running == null ? "one unpinned lcore" : running) + " (the config asks for " + d.lcores()
                        + "; they change only at a restart)" : null;
        List<String> created = new ArrayList<>();
        List<String> deleted = new ArrayList<>();
        List<String> unchanged = new ArrayList<>();

        Map<String, DataPlane.Bdev> bdevs = plane.bdevMap();
        Map<String, DataPlane.Controller> ctrls = plane.controllerMap();
        Map<String, DataPlane.NetPort> ports = plane.portMap();
        Map<String, DataPlane.BdevSpec> wantB = new LinkedHashMap<>();
        d.bdevs().forEach(s -> wantB.put(s.name(), s));
        Map<String, DataPlane.ControllerSpec> wantC = new LinkedHashMap<>();
        d.controllers().forEach(s -> wantC.put(s.name(), s));
        Map<String, DataPlane.PortSpec> wantP = new LinkedHashMap<>();
        d.ports().forEach(s -> wantP.put(s.name(), s));

        // Bdevs to drop: gone or changed, and delay bdevs over those (to a fixed point).
        Set<String> dropB = new HashSet<>();
        for (DataPlane.Bdev b : bdevs.values()) {
            if (!b.spec().equals(wantB.get(b.spec().name()))) {
                dropB.add(b.spec().name());
            }
        }
        boolean grew = true;
        while (grew) {
            grew = false;
            for (DataPlane.Bdev b : bdevs.values()) {
                if (b.spec().base() != null && dropB.contains(b.spec().base()) && dropB.add(b.spec().name())) {
                    grew = true;
                }
            }
        }
        Set<String> dropC = new HashSet<>();
        for (DataPlane.Controller c : ctrls.values()) {
            if (!c.spec().equals(wantC.get(c.spec().name())) || dropB.contains(c.spec().bdev())) {
                dropC.add(c.spec().name());
            }
        }
        Set<String> dropP = new HashSet<>();
        for (DataPlane.NetPort p : ports.values()) {
            if (!p.spec().equals(wantP.get(p.spec().name()))) {
                dropP.add(p.spec().name());
            }
        }
        // Switch: detach what is not wanted (or is being recreated).
        for (String s : plane.switchPortList()) {
            if (!d.switchPorts().contains(s) || dropP.contains(s)) {
                plane.detach(s);
                deleted.add("switch port " + s);
            }
        }
        for (String n : dropP) {
            plane.deletePort(n);
            deleted.add("net port " + n);
        }
        for (String n : dropC) {
            plane.deleteController(n);
            deleted.add("controller " + n);
        }
        List<String> bOrder = new ArrayList<>(bdevs.keySet());
        java.util.Collections.reverse(bOrder);
        for (String n : bOrder) {
            if (dropB.contains(n)) {
                plane.deleteBdev(n);
                deleted.add("bdev " + n);
            }
        }
        for (DataPlane.BdevSpec s : d.bdevs()) {
            if (bdevs.containsKey(s.name()) && !dropB.contains(s.name())) {
                unchanged.add("bdev " + s.name());
            } else {
                plane.createBdev(s);
                created.add("bdev " + s.name());
            }
        }
        for (DataPlane.ControllerSpec s : d.controllers()) {
            if (ctrls.containsKey(s.name()) && !dropC.contains(s.name())) {
                unchanged.add("controller " + s.name());
            } else {
                plane.createController(s);
                created.add("controller " + s.name());
            }
        }
        for (DataPlane.PortSpec s : d.ports()) {
            if (ports.containsKey(s.name()) && !dropP.contains(s.name())) {
                unchanged.add("net port " + s.name());
            } else {
                plane.createPort(s);
                created.add("net port " + s.name());
            }
        }
        List<String> attached = plane.switchPortList();
        for (String s : d.switchPorts()) {
            if (!attached.contains(s)) {
                plane.attach(s);
                created.add("switch port " + s);
            }
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("created", created);
        r.put("deleted", deleted);
        r.put("unchanged", unchanged);
        if (lcoresNote != null) {
            r.put("note", lcoresNote);
        }
        return r;
    }
}

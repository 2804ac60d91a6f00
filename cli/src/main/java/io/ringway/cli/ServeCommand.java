package io.ringway.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import io.ringway.control.ControlService;
import io.ringway.control.DataPlane;
import io.ringway.control.Json;
import io.ringway.control.RpcException;
import io.ringway.control.RpcServer;
import io.ringway.control.RpcSocket;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/** {@code ringway serve}: the long-running data-plane daemon, managed over JSON-RPC. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run one data-plane daemon owning the lcores, bdevs, vhost-user-blk controllers, net ports (vhost-user,"
                + " tap, ring) and the switch; create and delete them at run time with `ringway rpc` (JSON-RPC 2.0 on a unix socket).",
            "capture_start/capture_stop mirror a port into a capture journal (`ringway capture export DIR --pcap FILE`);"
                + " captures are runtime-only: framework_get_config does not list them.",
            "SIGTERM/SIGINT: stop taking RPCs, disconnect the front-ends, exit 0. SIGHUP: re-read --config and apply it as a diff."})
final class ServeCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "JSON config to create at start (framework_get_config prints one).")
    Path config;

    @Option(names = "--rpc", paramLabel = "SOCK",
            description = "RPC socket (default /run/ringway/ringway.sock, else $XDG_RUNTIME_DIR/ringway/, else /tmp/ringway-UID/).")
    Path rpc;

    @Option(names = "--lcores", paramLabel = "LIST", description = "CPUs, one lcore each, e.g. 0-1 (default: the config's, else one unpinned lcore).")
    String lcores;

    @Option(names = "--idle", defaultValue = "backoff", paramLabel = "POLICY", description = "busy, backoff or adaptive (default: ${DEFAULT-VALUE}).")
    String idle;

    @Option(names = "--mbufs", defaultValue = "16384", paramLabel = "N", description = "Packet buffers for the net ports (default: ${DEFAULT-VALUE}).")
    int mbufs;

    @Option(names = "--allow-dir", paramLabel = "DIR",
            description = "Directory under which sockets, backing files and capture journals may be (repeat; default: the RPC socket's directory,"
                    + " $XDG_RUNTIME_DIR, /tmp, /dev/shm).")
    List<Path> allowDirs = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Path sock = rpc != null ? rpc : RpcSocket.defaultPath();
        Map<String, Object> configMap = null;
        if (config != null) {
            try {
                if (!(Json.parse(Files.readString(config)) instanceof Map<?, ?> m)) {
                    System.err.println("ringway serve: " + config + ": a config must be a JSON object");
                    return 2;
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> typed = (Map<String, Object>) m;
                configMap = typed;
            } catch (java.io.IOException | IllegalArgumentException e) {
                System.err.println("ringway serve: cannot read config " + config + ": " + e.getMessage());
                return 2;
            }
        }
        String cpuList = lcores != null ? lcores
                : configMap != null && configMap.get("lcores") instanceof String s ? s : null;
        int[] cpus;
        IdlePolicy policy;
        try {
            cpus = NetCommand.parseCpus(cpuList);
            policy = IdlePolicy.parse(idle);
        } catch (IllegalArgumentException e) {
            System.err.println("ringway serve: " + e.getMessage());
            return 2;
        }
        List<Path> dirs = new ArrayList<>(allowDirs);
        if (dirs.isEmpty()) {
            dirs.add(sock.toAbsolutePath().getParent());
            String xdg = System.getenv("XDG_RUNTIME_DIR");
            for (String d : new String[] {xdg, "/tmp", "/dev/shm"}) {
                if (d != null && Files.isDirectory(Path.of(d))) {
                    dirs.add(Path.of(d));
                }
            }
        }
        RpcServer server;
        ControlService service;
        DataPlane plane;
        try {
            if (!Files.isDirectory(sock.toAbsolutePath().getParent())) {
                Files.createDirectories(sock.toAbsolutePath().getParent(), java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                        java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
            }
            if (rpc == null && sock.getParent().getFileName().toString().startsWith("ringway-")) {
                RpcSocket.checkPrivateDirectory(sock.getParent());
            }
            plane = new DataPlane(cpus, cpuList, policy, dirs, mbufs, StatsRegistry.process());
        } catch (IllegalArgumentException | IllegalStateException | java.io.IOException e) {
            System.err.println("ringway serve: " + e.getMessage());
            return 2;
        }
        service = new ControlService(plane, config);
        try {
            server = RpcServer.start(sock, service);
        } catch (IllegalStateException | java.io.IOException e) {
            plane.close();
            System.err.println("ringway serve: " + e.getMessage());
            return 2;
        }
        if (configMap != null) {
            try {
                Map<String, Object> r = service.call("framework_reload", Map.of("config", configMap)) instanceof Map<?, ?> m
                        ? cast(m) : Map.of();
                System.out.println("ringway serve: config " + config + ": created " + r.get("created"));
            } catch (RpcException e) {
                server.close();
                plane.close();
                System.err.println("ringway serve: config " + config + ": " + e.getMessage());
                return 2;
            }
        }
        System.out.printf("ringway serve: %d lcore(s)%s, RPC on %s, paths allowed under %s%n", cpus.length,
                cpuList == null ? " (unpinned)" : " on CPUs " + cpuList, server.socket(), plane.allowedDirs());
        System.out.flush();

        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean stopping = new AtomicBoolean();
        Runnable shutdown = () -> {
            if (!stopping.compareAndSet(false, true)) {
                return;
            }
            System.out.println("ringway serve: stopping: no more RPCs, disconnecting front-ends");
            server.close();
            plane.close();
            System.out.println("ringway serve: stopped");
            System.out.flush();
            stopped.countDown();
        };
        sun.misc.SignalHandler onStop = sig -> Thread.ofPlatform().name("serve-stop").start(shutdown);
        Signal.handle(new Signal("TERM"), onStop);
        Signal.handle(new Signal("INT"), onStop);
        Signal.handle(new Signal("HUP"), sig -> Thread.ofPlatform().name("serve-reload").start(() -> {
            try {
                System.out.println("ringway serve: SIGHUP: " + Json.write(service.reloadFile(null)));
            } catch (RpcException e) {
                System.out.println("ringway serve: SIGHUP: reload failed: " + e.getMessage());
            }
            System.out.flush();
        }));
        stopped.await();
        return 0;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) {
        return (Map<String, Object>) m;
    }
}

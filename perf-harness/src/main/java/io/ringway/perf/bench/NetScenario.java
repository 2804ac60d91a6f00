package io.ringway.perf.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import org.HdrHistogram.Histogram;

import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.perf.net.NetLoadGenerator;
import io.ringway.perf.net.NetLoadGenerator.Role;
import io.ringway.perf.net.TestpmdVhost;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.runtime.sys.Cpu;

/**
 * vhost-user-net end to end, 64-byte frames: Ringway's {@code VirtioNetDevice} (a
 * {@link ForwardingEngine} with one busy-polling lcore on CPU 0, co-located stream, as
 * {@code ringway net --lcores 0 --idle busy}) driven over a unix socket by {@link NetLoadGenerator}
 * (a polling virtio-net driver on the Ringway front-end, pinned to CPU 1) in the three roles of
 * issue 4's race: client tx into a back-end in rxonly, back-end txonly into the client, and a
 * macswap loop (client io with tx-first); Mpps per role, plus the macswap round trip.
 *
 * <p>With {@code --vs dpdk} the same client drives {@code dpdk-testpmd --vdev net_vhost0} (both its
 * lcores on CPU 0) in the same role, in turns DPDK, Ringway, DPDK for every role and repeat, so a
 * change of machine state between turns shows up as a spread of the DPDK samples; the
 * core-to-core round trip is probed before every repeat and reported with the results (this
 * machine flips between a fast and a slow state, see CoreToCoreProbe).
 */
public final class NetScenario implements Scenario {
    static final int BACKEND_CPU = 0;
    static final int CLIENT_CPU = 1;
    static final int FRAME = 64;
    static final String RINGWAY = "ringway";
    static final String DPDK = "dpdk";

    private final boolean vsDpdk;

    public NetScenario() {
        this(false);
    }

    /** @param vsDpdk also run every role against DPDK's vhost PMD (testpmd), in turns with Ringway */
    public NetScenario(boolean vsDpdk) {
        this.vsDpdk = vsDpdk;
    }

    @Override
    public String name() {
        return "net";
    }

    @Override
    public String description() {
        return "vhost-user-net, 64-byte frames, one queue pair, split rings: client tx -> back-end rxonly, back-end txonly -> client,"
                + " macswap loop (client io, tx-first burst of 32); back-end CPU 0, client (Ringway front-end) CPU 1"
                + (vsDpdk ? ", vs dpdk-testpmd's vhost PMD in turns (DPDK, Ringway, DPDK)" : "")
                + "; Mpps (higher is better), round trip us (lower is better)";
    }

    /** The measurement id of {@code target}'s throughput in {@code role}, e.g. "ringway rxonly Mpps". */
    static String mppsKey(String target, Role role) {
        return target + " " + role.backendMode() + " Mpps";
    }

    /** The id of {@code target}'s macswap round trip at percentile {@code p} ("p50", "p99"). */
    static String roundTripKey(String target, String p) {
        return target + " macswap round trip " + p + " us";
    }

    static final String C2C_KEY = "c2c round trip CPU0<->CPU1 ns";

    @Override
    public List<Comparison> comparisons() {
        if (!vsDpdk) {
            return List.of();
        }
        String peer = "DPDK vhost PMD (testpmd)";
        return List.of(
                new Comparison("client tx -> back-end rxonly, 64 B", mppsKey(RINGWAY, Role.SEND), mppsKey(DPDK, Role.SEND), peer),
                new Comparison("back-end txonly -> client rx, 64 B", mppsKey(RINGWAY, Role.RECEIVE), mppsKey(DPDK, Role.RECEIVE), peer),
                new Comparison("macswap loop, 64 B", mppsKey(RINGWAY, Role.LOOP), mppsKey(DPDK, Role.LOOP), peer),
                new Comparison("macswap loop round trip p50", roundTripKey(RINGWAY, "p50"), roundTripKey(DPDK, "p50"), peer),
                new Comparison("macswap loop round trip p99", roundTripKey(RINGWAY, "p99"), roundTripKey(DPDK, "p99"), peer));
    }

    @Override
    public Optional<Scenario> against(String peer) {
        return peer.equals("dpdk") ? Optional.of(new NetScenario(true)) : Optional.empty();
    }

    /** A back-end under test, listening on a socket until closed. */
    private interface Target extends AutoCloseable {
        @Override
        void close();

        /** What the back-end printed lately, appended to a failure's message; empty if nothing. */
        default String diagnostics() {
            return "";
        }
    }

    @Override
    public ScenarioResult run(Settings settings) throws Exception {
        BitSet allowed = Cpu.currentThreadAffinity();
        boolean pin = allowed.get(BACKEND_CPU) && allowed.get(CLIENT_CPU);
        if (!pin) {
            System.out.println("  net: CPUs 0 and 1 are not both available: back-end and client unpinned, back-end lcore in backoff mode");
        }
        boolean dpdk = false;
        if (vsDpdk) {
            String why = TestpmdVhost.unavailableReason();
            if (why != null) {
                System.out.println("  net: " + why + "; running Ringway alone");
            } else {
                dpdk = true;
            }
        }
        List<String> targets = dpdk ? List.of(RINGWAY, DPDK) : List.of(RINGWAY);
        double seconds = settings.durationSeconds();
        double warmup = Math.min(0.3, seconds / 2);
        Map<String, List<Double>> samples = new LinkedHashMap<>();
        Map<String, String> units = new LinkedHashMap<>();
        for (String t : targets) {
            for (Role role : Role.values()) {
                put(samples, units, mppsKey(t, role), "Mpps");
            }
            put(samples, units, roundTripKey(t, "p50"), "us");
            put(samples, units, roundTripKey(t, "p99"), "us");
        }
        if (dpdk) {
            put(samples, units, C2C_KEY, "ns");
        }
        Map<String, Histogram> loops = new LinkedHashMap<>();
        List<String> failures = new ArrayList<>();
        targets.forEach(t -> loops.put(t, new Histogram(1, 60_000_000_000L, 3)));
        Path dir = Files.createTempDirectory("ringway-bench-net");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("bench.stats"), 256)) {
            for (int r = 0; r < settings.repeat(); r++) {
                String c2c = "";
                if (dpdk) {
                    CoreToCoreProbe.Result probe = CoreToCoreProbe.measure();
                    samples.get(C2C_KEY).add(probe.nanos());
                    c2c = String.format(Locale.ROOT, ", c2c %.0f ns (%s)", probe.nanos(), probe.probe());
                }
                if (!settings.quiet() || r == 0 || dpdk) {
                    System.out.printf(Locale.ROOT, "  net: repeat %d/%d: roles rxonly, txonly, macswap; %s; %.1f s (+%.2f s warm-up) each%s%s%n",
                            r + 1, settings.repeat(), dpdk ? "turns DPDK, Ringway, DPDK" : "Ringway", seconds, warmup,
                            r == 0 ? ", after an unrecorded JIT warm-up" : "", c2c);
                }
                for (Role role : Role.values()) {
                    List<String> turns = dpdk ? List.of(DPDK, RINGWAY, DPDK) : List.of(RINGWAY);
                    for (int turn = 0; turn < turns.size(); turn++) {
                        String t = turns.get(turn);
                        Path socket = dir.resolve(t + "-" + role.backendMode() + ".sock");
                        Files.deleteIfExists(socket);
                        try (Target target = t.equals(DPDK) ? startDpdk(socket, role, pin) : startRingway(socket, role, pin, stats)) {
                            try {
                                if (r == 0 && turn < 2) {
                                    // A fresh JVM: let the JIT compile the client (and Ringway's back-end) first; not recorded.
                                    NetLoadGenerator.run(new NetLoadGenerator.Options(socket, role, FRAME, Math.max(0.5, warmup), 0,
                                            pin ? CLIENT_CPU : -1));
                                }
                                NetLoadGenerator.Result res = NetLoadGenerator.run(new NetLoadGenerator.Options(socket, role, FRAME,
                                        seconds, warmup, pin ? CLIENT_CPU : -1));
                                if (!settings.quiet() || dpdk) {
                                    System.out.printf("  net: %s %s: %s%n", t, role.backendMode(), res);
                                }
                                record(samples, loops, t, role, res);
                            } catch (RuntimeException e) {
                                throw new IllegalStateException(e.getMessage() + target.diagnostics(), e);
                            }
                        } catch (RuntimeException | IOException e) {
                            // One failed turn (a peer that would not start or stalled) loses its sample, not the run.
                            String what = t + " " + role.backendMode() + " turn of repeat " + (r + 1) + " failed: " + e.getMessage();
                            System.out.println("  net: " + what);
                            failures.add(what);
                        }
                    }
                }
            }
        } finally {
            BlkScenario.deleteQuietly(dir);
        }
        Map<String, Measurement> measurements = new LinkedHashMap<>();
        samples.forEach((k, v) -> {
            if (!v.isEmpty()) {
                measurements.put(k, new Measurement(k, units.get(k), v.stream().mapToDouble(Double::doubleValue).toArray()));
            }
        });
        List<LatencySeries> latencies = new ArrayList<>();
        latencies.add(LatencySeries.of("Ringway, macswap loop round trip, 64 B", true, loops.get(RINGWAY)));
        if (loops.containsKey(DPDK)) {
            latencies.add(LatencySeries.of("DPDK vhost PMD (testpmd), macswap loop round trip, 64 B", false, loops.get(DPDK)));
        }
        String note = failures.isEmpty() ? null : failures.size() + " turn(s) failed and have no sample: " + String.join("; ", failures);
        return new ScenarioResult(measurements, latencies, note);
    }

    private static void record(Map<String, List<Double>> samples, Map<String, Histogram> loops, String t, Role role,
            NetLoadGenerator.Result res) {
        samples.get(mppsKey(t, role)).add(res.mpps());
        if (role == Role.LOOP) {
            Histogram h = res.roundTrip();
            loops.get(t).add(h);
            if (h.getTotalCount() > 0) {
                samples.get(roundTripKey(t, "p50")).add(h.getValueAtPercentile(50) / 1e3);
                samples.get(roundTripKey(t, "p99")).add(h.getValueAtPercentile(99) / 1e3);
            }
        }
    }

    private static void put(Map<String, List<Double>> samples, Map<String, String> units, String key, String unit) {
        samples.put(key, new ArrayList<>());
        units.put(key, unit);
    }

    /** Ringway in this JVM: {@code ringway net --mode M --lcores 0 --idle busy} listening on {@code socket}. */
    static Target startRingway(Path socket, Role role, boolean pin, StatsRegistry stats) {
        ForwardingEngine.Config config = new ForwardingEngine.Config(List.of(socket), false, 1,
                ForwardingMode.parse(role.backendMode()), new int[] {pin ? BACKEND_CPU : -1},
                pin ? IdlePolicy.parse("busy") : IdlePolicy.parse("backoff"), FRAME, 16384, true, true, stats);
        ForwardingEngine engine = ForwardingEngine.start(config);
        return engine::close;
    }

    /** testpmd's vhost PMD on CPU 0 in {@code role}'s back-end mode. */
    static Target startDpdk(Path socket, Role role, boolean pin) throws IOException {
        TestpmdVhost t = TestpmdVhost.start(socket, role.backendMode(), pin ? BACKEND_CPU : 0);
        return new Target() {
            @Override
            public void close() {
                t.close();
            }

            @Override
            public String diagnostics() {
                String out = t.output().strip();
                return "; dpdk-testpmd's last output:\n" + out.substring(Math.max(0, out.length() - 2000));
            }
        };
    }
}

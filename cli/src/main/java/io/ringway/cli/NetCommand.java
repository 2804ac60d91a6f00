package io.ringway.cli;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.device.VirtioNetMetrics;
import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.net.l2switch.SwitchPortCounters;
import io.ringway.net.port.Port;
import io.ringway.net.port.PortCounters;
import io.ringway.net.port.TapException;
import io.ringway.net.port.TapPort;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** {@code ringway net}: a vhost-user-net back-end with testpmd-style forwarding. */
@Command(name = "net", mixinStandardHelpOptions = true,
        description = "Serve vhost-user-net devices and forward packets between them, as dpdk-testpmd's forwarding"
                + " modes do. Prints rx/tx Mpps per port every second and totals on SIGINT/SIGTERM; the counters are"
                + " visible in `ringway stats` while it runs.",
        footer = {"", "Modes: rxonly (count and free), txonly (send UDP frames of --txpkts bytes), io (port 2i <-> 2i+1,"
                + " or a single port to itself), macswap (swap MACs, send back out the same port), switch (an L2"
                + " learning switch over every port: MAC table with ageing, flooding of unknown and broadcast).",
                "", "Tap ports (--port tap:NAME) join after the vhost-user ports: in switch mode they are switch ports,"
                + " in io mode port 2i and 2i+1 of the combined list forward to each other (one socket and one tap: the"
                + " guest and the host's tap). --capture DIR mirrors the vhost-user ports' rx and tx into a journal;"
                + " `ringway capture export DIR --pcap FILE` turns it into a pcap."})
final class NetCommand implements Callable<Integer> {
    @Option(names = "--socket", required = true, paramLabel = "PATH",
            description = "vhost-user socket, one port each (repeat for more ports).")
    List<Path> sockets = new ArrayList<>();

    @Option(names = "--client", description = "Connect to sockets the front-end listens on (QEMU server=on) instead of listening.")
    boolean client;

    @Option(names = "--queues", paramLabel = "N", description = "Queue pairs per port (default: ${DEFAULT-VALUE}).")
    int queues = 1;

    @Option(names = "--mode", paramLabel = "MODE", description = "rxonly, txonly, io, macswap or switch (default: ${DEFAULT-VALUE}).")
    String mode = "io";

    @Option(names = "--lcores", paramLabel = "LIST",
            description = "CPUs for the data-plane threads, e.g. 0 or 0,1 or 0-1. With --queues 1 the first serves the"
                    + " vhost-user queues and the others the forwarding streams; with several queue pairs, pair k of every"
                    + " port and its streams run on the k-th CPU modulo their number (default: one unpinned lcore).")
    String lcores;

    @Option(names = "--idle", paramLabel = "POLICY", description = "busy, backoff or adaptive (default: ${DEFAULT-VALUE}).")
    String idle = "backoff";

    @Option(names = "--txpkts", paramLabel = "BYTES", description = "txonly frame length (default: ${DEFAULT-VALUE}).")
    int txPacketLength = 64;

    @Option(names = "--mbufs", paramLabel = "N", description = "Packet buffers in the pool (default: ${DEFAULT-VALUE}).")
    int mbufs = 16384;

    @Option(names = "--no-mergeable", description = "Do not offer VIRTIO_NET_F_MRG_RXBUF.")
    boolean noMergeable;

    @Option(names = "--no-packed", description = "Do not offer VIRTIO_F_RING_PACKED.")
    boolean noPacked;

    @Option(names = "--mac-table", paramLabel = "N",
            description = "Switch mode: MAC table entries, a power of 2 (default: ${DEFAULT-VALUE}).")
    int macTable = L2Switch.DEFAULT_MAC_TABLE_CAPACITY;

    @Option(names = "--mac-age", paramLabel = "SECONDS",
            description = "Switch mode: forget an address not seen for this long (default: ${DEFAULT-VALUE}).")
    long macAge = L2Switch.DEFAULT_AGE.toSeconds();

    @Option(names = "--port", paramLabel = "tap:NAME",
            description = "Also serve a tap device NAME (created, removed at exit; needs CAP_NET_ADMIN); repeat for more.")
    List<String> extraPorts = new ArrayList<>();

    @Option(names = "--capture", paramLabel = "DIR",
            description = "Mirror the vhost-user ports' rx and tx into a capture journal in DIR (dropped, never"
                    + " waited for, when the writer falls behind: see `capture net: dropped` in `ringway stats`).")
    Path capture;

    @Option(names = "--capture-snap", paramLabel = "BYTES",
            description = "Most bytes --capture keeps per packet (default: ${DEFAULT-VALUE}, whole packets).")
    int captureSnap = io.ringway.net.capture.CaptureJournal.DEFAULT_SNAP_LENGTH;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "Stop after this many seconds (default: run until a signal).")
    int duration;

    static int[] parseCpus(String list) {
        if (list == null || list.isBlank()) {
            return new int[] {-1};
        }
        List<Integer> cpus = new ArrayList<>();
        for (String part : list.split(",")) {
            String p = part.trim();
            int dash = p.indexOf('-', 1);
            if (dash > 0) {
                int from = Integer.parseInt(p.substring(0, dash));
                int to = Integer.parseInt(p.substring(dash + 1));
                if (to < from) {
                    throw new IllegalArgumentException("bad CPU range " + p);
                }
                for (int c = from; c <= to; c++) {
                    cpus.add(c);
                }
            } else {
                cpus.add(Integer.parseInt(p));
            }
        }
        return cpus.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public Integer call() throws Exception {
        ForwardingEngine.Config config = new ForwardingEngine.Config(sockets, client, queues, ForwardingMode.parse(mode),
                parseCpus(lcores), IdlePolicy.parse(idle), txPacketLength, mbufs, !noMergeable, !noPacked,
                StatsRegistry.process(), macTable, Duration.ofSeconds(macAge));
        List<String> taps = new ArrayList<>();
        for (String p : extraPorts) {
            if (!p.startsWith("tap:") || p.length() == 4) {
                throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                        "--port " + p + ": expected tap:NAME (the only extra port kind)");
            }
            taps.add(p.substring(4));
        }
        ForwardingEngine engine;
        try {
            engine = ForwardingEngine.start(config, new ForwardingEngine.Attachments(taps, capture, captureSnap));
        } catch (TapException | IllegalArgumentException | java.io.UncheckedIOException e) {
            System.err.println("ringway net: " + e.getMessage());
            return 1;
        }
        long started = System.nanoTime();
        CountDownLatch done = new CountDownLatch(1);
        AtomicBoolean finished = new AtomicBoolean();
        Runnable finish = () -> {
            if (finished.compareAndSet(false, true)) {
                printTotals(engine, System.nanoTime() - started);
                engine.close();
            }
        };
        Thread hook = Thread.ofPlatform().unstarted(() -> {
            done.countDown();
            finish.run();
        });
        Runtime.getRuntime().addShutdownHook(hook);
        System.out.printf("ringway net: %s, %d port(s) %s, %d queue pair(s), lcores %s, idle %s%n", mode,
                sockets.size(), client ? "connecting to" : "listening on", queues,
                lcores == null ? "1 unpinned" : lcores, idle);
        for (int i = 0; i < sockets.size(); i++) {
            System.out.printf("  %s: %s%n", engine.ports().get(i).name(), sockets.get(i));
        }
        for (TapPort tap : engine.taps()) {
            System.out.printf("  %s: tap device%n", tap.name());
        }
        if (capture != null) {
            System.out.printf("  capture of the vhost-user ports: %s%n", capture);
        }
        List<Port> ports = new ArrayList<>(engine.ports());
        ports.addAll(engine.taps());
        long[] lastRx = new long[ports.size()];
        long[] lastTx = new long[ports.size()];
        long last = System.nanoTime();
        long end = duration > 0 ? started + TimeUnit.SECONDS.toNanos(duration) : Long.MAX_VALUE;
        while (!done.await(1, TimeUnit.SECONDS)) {
            long now = System.nanoTime();
            double secs = (now - last) / 1e9;
            last = now;
            StringBuilder line = new StringBuilder(String.format("%6.0fs", (now - started) / 1e9));
            for (int i = 0; i < ports.size(); i++) {
                PortCounters c = ports.get(i).counters();
                long rx = c.rxPackets.get();
                long tx = c.txPackets.get();
                boolean down = ports.get(i) instanceof VhostUserPort v && !v.device().isActive();
                line.append(String.format("  %s%s rx %7.3f Mpps tx %7.3f Mpps", ports.get(i).name(), down ? " (down)" : "", (rx - lastRx[i]) / secs / 1e6,
                        (tx - lastTx[i]) / secs / 1e6));
                lastRx[i] = rx;
                lastTx[i] = tx;
            }
            System.out.println(line);
            if (now >= end) {
                break;
            }
        }
        if (done.getCount() > 0) {
            Runtime.getRuntime().removeShutdownHook(hook);
            finish.run();
        }
        return 0;
    }

    private static void printTotals(ForwardingEngine engine, long nanos) {
        double secs = nanos / 1e9;
        System.out.printf("%nringway net: totals after %.1f s%n", secs);
        for (VhostUserPort port : engine.ports()) {
            PortCounters c = port.counters();
            VirtioNetDevice d = port.device();
            VirtioNetMetrics m = d.metrics();
            System.out.printf("  %s: rx %,d pkts (%,d B, %.3f Mpps avg), tx %,d pkts (%,d B, %.3f Mpps avg), tx dropped %,d%n",
                    port.name(), c.rxPackets.get(), c.rxBytes.get(), c.rxPackets.get() / secs / 1e6, c.txPackets.get(),
                    c.txBytes.get(), c.txPackets.get() / secs / 1e6, c.txDrops.get());
            System.out.printf("  %s device: guest tx %,d, guest rx %,d, dropped: short header %,d, empty %,d, oversize %,d,"
                            + " no buffer %,d, rx buffer too small %,d, reset %,d%n", port.name(), m.txPackets.get(),
                    m.rxPackets.get(), m.txDropShortHeader.get(), m.txDropEmpty.get(), m.txDropOversize.get(),
                    m.txDropNoBuffer.get(), m.rxDropBufferTooSmall.get(), m.rxDropReset.get());
        }
        for (TapPort tap : engine.taps()) {
            System.out.printf("  %s: %s, io errors %,d%n", tap.name(), tap.counters(), tap.ioErrors());
        }
        if (engine.capture() != null) {
            System.out.printf("  capture: captured %,d, dropped (ring full) %,d, written %,d to %s%n",
                    engine.capture().captured(), engine.capture().dropped(), engine.capture().written(),
                    engine.capture().dir());
        }
        L2Switch sw = engine.l2switch();
        if (sw != null) {
            for (int i = 0; i < sw.ports().size(); i++) {
                SwitchPortCounters c = sw.counters(i);
                System.out.printf("  switch %s: rx %,d, tx %,d (zero-copy %,d), flooded %,d, learned %,d, dropped %,d, tx dropped %,d%n",
                        sw.ports().get(i).name(), c.rx.get(), c.tx.get(), c.txZeroCopy.get(), c.flooded.get(),
                        c.learned.get(), c.dropped.get(), c.txDropped.get());
            }
            System.out.printf("  switch: MAC moves %,d, not learned (table full) %,d%n", sw.macMoves(), sw.macTableFull());
        }
        System.out.flush();
    }
}

package io.ringway.vcpu.net;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.forward.ForwardingStream;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.TapPort;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.poll.Poller;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.virtio.VirtioDevice;

/**
 * The network devices of one VM, built from its {@code --net} arguments ({@link NicSpec}), in
 * order; the virtio transport (virtio-pci) serves each {@link Nic#device()}.
 *
 * <ul>
 *   <li>{@code switch} and {@code tap:NAME}: an in-process {@link VirtioNetDevice} (one queue pair and
 *       the control queue) whose queues the transport processes on this VM's net {@link #lcore()},
 *       with a port behind it on the same lcore, so no packet crosses threads:
 *       <ul>
 *         <li>{@code tap:NAME}: a {@link TapPort} and two io {@link ForwardingStream}s (guest to tap,
 *             tap to guest). The tap is created down; bring it up and address it on the host
 *             ({@code ip link set NAME up; ip addr add ...}) to reach the guest.</li>
 *         <li>{@code switch}: one {@link L2Switch} (learning, flooding) over every {@code switch} NIC of
 *             this VM. It connects a VM's own NICs on one L2 segment without an outside process: a
 *             guest with several NICs (bonding and failover, routing between its interfaces, multi-NIC
 *             driver tests). Guests in different VMs meet on a switch in another process instead:
 *             {@code ringway net --mode switch} and {@code --net vhost:SOCK}.</li>
 *       </ul></li>
 *   <li>{@code vhost:SOCK}: a {@link VhostUserNetDevice}: the back-end on SOCK serves the rings
 *       (memory and eventfds handed over through the front-end); this process keeps the
 *       configuration space (the MAC).</li>
 * </ul>
 *
 * The net lcore sleeps in epoll when idle (adaptive): the transport's kick eventfds wake it, and a
 * tap is looked at least every {@value #TAP_POLL_MILLIS} ms (a tap fd cannot be a wake-up source:
 * the lcore reads a woken fd as an eventfd, which would eat a frame).
 */
public final class GuestNics implements AutoCloseable {
    /** Packet buffers shared by the VM's in-process NICs, their ports and the switch. */
    static final int MBUFS = 4096;
    static final int CACHE = 256;
    /** Largest queue the devices accept (Linux asks for the maximum it reads). */
    public static final int MAX_QUEUE_SIZE = 256;
    static final int TAP_POLL_MILLIS = 2;
    private static final long COMMAND_TIMEOUT_SECONDS = 10;

    /**
     * One NIC.
     *
     * @param spec   what it was built from
     * @param name   its name in counters and logs ({@code vm-net0} ...)
     * @param device what the transport serves: a {@link VirtioNetDevice} or a {@link VhostUserNetDevice}
     * @param port   the port over an in-process device (null for vhost)
     */
    public record Nic(NicSpec spec, String name, VirtioDevice device, VhostUserPort port) {
        /** @return true when the device runs here (its queues on {@link GuestNics#lcore()}) */
        public boolean inProcess() {
            return port != null;
        }
    }

    private final StatsRegistry stats;
    private final List<Nic> nics = new ArrayList<>();
    private final List<TapPort> taps = new ArrayList<>();
    private final List<ForwardingStream> streams = new ArrayList<>();
    private final List<Poller> pollers = new ArrayList<>();
    private Mempool pool;
    private Mempool.Cache cache;
    private Lcore lcore;
    private L2Switch l2switch;

    private GuestNics(StatsRegistry stats) {
        this.stats = stats;
    }

    /**
     * Builds the NICs and starts the in-process ports; vhost-user back-ends are connected (each
     * waited for up to 10 s).
     *
     * @param specs    the NICs, in the order the guest will see them (PCI slot order)
     * @param lcoreCpu CPU of the net lcore (-1: unpinned)
     * @param stats    registry for the counters
     * @throws IllegalArgumentException naming a bad argument (two NICs with one MAC or one tap name)
     * @throws io.ringway.net.port.TapException if a tap cannot be created (the reason in it)
     */
    public static GuestNics create(List<NicSpec> specs, int lcoreCpu, StatsRegistry stats) {
        checkDistinct(specs);
        GuestNics g = new GuestNics(stats);
        try {
            g.build(specs, lcoreCpu);
        } catch (RuntimeException e) {
            g.close();
            throw e;
        }
        return g;
    }

    private static void checkDistinct(List<NicSpec> specs) {
        for (int i = 0; i < specs.size(); i++) {
            for (int j = 0; j < i; j++) {
                NicSpec a = specs.get(i);
                NicSpec b = specs.get(j);
                if (java.util.Arrays.equals(a.mac(), b.mac())) {
                    throw new IllegalArgumentException("--net: NICs " + j + " and " + i + " both have MAC " + a.macText());
                }
                if (a.kind() == NicSpec.Kind.TAP && b.kind() == NicSpec.Kind.TAP && a.target().equals(b.target())) {
                    throw new IllegalArgumentException("--net: NICs " + j + " and " + i + " both want tap " + a.target());
                }
            }
        }
    }

    private void build(List<NicSpec> specs, int lcoreCpu) {
        boolean anyLocal = specs.stream().anyMatch(s -> s.kind() != NicSpec.Kind.VHOST);
        boolean anyTap = specs.stream().anyMatch(s -> s.kind() == NicSpec.Kind.TAP);
        if (anyLocal) {
            pool = Mbuf.createPool(MBUFS);
            cache = pool.createCache(CACHE);
            IdlePolicy idle = anyTap ? new IdlePolicy.AdaptiveInterrupt(TimeUnit.MICROSECONDS.toNanos(50), TAP_POLL_MILLIS)
                : IdlePolicy.adaptive();
            lcore = Lcore.builder("vm-net").cpu(lcoreCpu).idlePolicy(idle).stats(stats).start();
        }
        List<VhostUserPort> switchPorts = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            NicSpec spec = specs.get(i);
            String name = "vm-net" + i;
            if (spec.kind() == NicSpec.Kind.VHOST) {
                nics.add(new Nic(spec, name, VhostUserNetDevice.connect(spec.socket(), spec.mac(), MAX_QUEUE_SIZE), null));
                continue;
            }
            VirtioNetDevice device = VirtioNetDevice.builder(pool).name(name).queuePairs(1).maxQueueSize(MAX_QUEUE_SIZE)
                .mac(spec.mac()).portId(i).cache(cache).stats(stats).build();
            VhostUserPort port;
            try {
                port = new VhostUserPort(name, device, stats);
            } catch (RuntimeException e) {
                device.close();
                throw e;
            }
            nics.add(new Nic(spec, name, device, port));
            if (spec.kind() == NicSpec.Kind.SWITCH) {
                switchPorts.add(port);
            } else {
                TapPort tap = TapPort.open(spec.target(), pool, stats, specs.size() + taps.size());
                taps.add(tap);
                streams.add(new ForwardingStream(ForwardingMode.IO, port, 0, tap, 0, null, cache));
                streams.add(new ForwardingStream(ForwardingMode.IO, tap, 0, port, 0, null, cache));
            }
        }
        pollers.addAll(streams);
        if (!switchPorts.isEmpty()) {
            l2switch = L2Switch.builder(stats).name("vm-switch").ports(switchPorts).cache(cache).build();
            pollers.add(l2switch);
        }
        for (Poller p : pollers) {
            await(lcore.addPoller(p), "add " + p.name());
        }
    }

    private void await(CompletableFuture<Void> f, String what) {
        try {
            f.get(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("net lcore did not " + what + ": " + e, e);
        }
    }

    /** @return the NICs, in the order given */
    public List<Nic> nics() {
        return List.copyOf(nics);
    }

    /** @return the lcore that serves the in-process devices' queues and their ports, or null when every NIC is vhost */
    public Lcore lcore() {
        return lcore;
    }

    /** @return the switch of the {@code switch} NICs, or null */
    public L2Switch l2switch() {
        return l2switch;
    }

    /** @return the taps, in NIC order */
    public List<TapPort> taps() {
        return List.copyOf(taps);
    }

    /** One line per NIC (frames each way) and one for the switch, for the end of a run. */
    public List<String> report() {
        List<String> lines = new ArrayList<>();
        int t = 0;
        for (Nic n : nics) {
            StringBuilder sb = new StringBuilder(n.name()).append(' ').append(n.spec().macText()).append(' ');
            switch (n.spec().kind()) {
                case VHOST -> sb.append("vhost:").append(n.spec().target()).append(" (counters in the back-end)");
                case SWITCH, TAP -> {
                    VirtioNetDevice d = (VirtioNetDevice) n.device();
                    sb.append(n.spec().kind() == NicSpec.Kind.TAP ? "tap:" + n.spec().target() : "switch")
                        .append(": guest sent ").append(d.metrics().txPackets.get())
                        .append(", guest received ").append(d.metrics().rxPackets.get());
                    if (n.spec().kind() == NicSpec.Kind.TAP) {
                        TapPort tap = taps.get(t++);
                        sb.append("; tap ").append(tap.counters());
                    }
                }
            }
            lines.add(sb.toString());
        }
        if (l2switch != null) {
            for (int i = 0; i < l2switch.ports().size(); i++) {
                lines.add("vm-switch port " + l2switch.ports().get(i).name() + ": " + l2switch.counters(i));
            }
        }
        return lines;
    }

    /**
     * Stops the ports and the lcore, then frees devices, taps, buffers and counters. Close the
     * transports serving the devices first.
     */
    @Override
    public void close() {
        if (lcore != null) {
            for (Poller p : pollers) {
                try {
                    lcore.removePoller(p).get(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
                } catch (Exception e) {
                    // the lcore is gone: nothing runs the poller either way
                }
            }
            lcore.close();
        }
        streams.forEach(ForwardingStream::close);
        if (l2switch != null) {
            l2switch.close();
        }
        for (Nic n : nics) {
            if (n.device() instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    // closing a device frees memory and counters; nothing to report
                }
            }
            if (n.port() != null) {
                n.port().close();
            }
        }
        taps.forEach(TapPort::close);
        if (cache != null) {
            cache.close();
        }
        if (pool != null) {
            pool.close();
        }
    }
}

package io.ringway.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.HdrHistogram.Histogram;

import io.ringway.perf.blk.BlkLoadGenerator;
import io.ringway.perf.net.NetLoadGenerator;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.bdev.BlockDeviceSpec;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmUnavailableException;
import io.ringway.vcpu.workload.BlkDriverProgram;
import io.ringway.vcpu.workload.BlkDriverWorkload;
import io.ringway.vcpu.workload.DriverLoop;
import io.ringway.vcpu.workload.NetLoopProgram;
import io.ringway.vcpu.workload.NetLoopWorkload;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringway vm run}: a named micro-guest workload against Ringway devices. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run a named micro-guest workload: a CPL-3 guest drives a Ringway device over virtio-mmio, kicks",
            "through an ioeventfd (no exit), completions through an irqfd; the device has its own lcore.",
            "Guests: blk-driver (write a pattern, read it back, compare; one request in flight);",
            "net-loop (send a frame, get it back through a net device in loopback, compare; one frame in flight).",
            "Prints requests/s and latency percentiles from the guest's rdtsc, the exits, and the KVM flavour;",
            "--vs host also drives the same kind of device from the host-side vhost-user frontend."})
final class VmRunCommand implements Callable<Integer> {
    @Option(names = "--guest", required = true, paramLabel = "NAME", description = "Workload: blk-driver or net-loop.")
    String guest;

    @Option(names = "--cpus", paramLabel = "N", description = "vCPUs: blk-driver 1 to 8 (one queue each), net-loop 1 (default: ${DEFAULT-VALUE}).")
    int cpus = 1;

    @Option(names = "--memory", paramLabel = "SIZE", description = "Guest memory, e.g. 16M (default: ${DEFAULT-VALUE}).")
    String memory = "16M";

    @Option(names = "--hugepages", description = "Back guest memory with 2 MiB huge pages.")
    boolean hugepages;

    @Option(names = "--blk", paramLabel = "BDEV-SPEC", description = "Block device: malloc:SIZE, null:SIZE, file:PATH[,direct] (in this process) or vhost:SOCK"
        + " (a vhost-user-blk back-end: ringway blk, qemu-storage-daemon; kicks and interrupts bypass this process) (default: malloc:16M).")
    List<String> blk = new ArrayList<>();

    @Option(names = "--net", paramLabel = "NET-SPEC", description = "Net device for net-loop: loop (a Ringway virtio-net device in loopback in this process; the default)"
        + " or vhost:SOCK (a vhost-user-net back-end that sends every frame back unchanged on the same port, e.g. ringway net --mode io"
        + " with one socket; kicks and interrupts bypass this process).")
    List<String> net = new ArrayList<>();

    @Option(names = "--requests", paramLabel = "N", description = "Requests to run (default: run for --duration).")
    long requests;

    @Option(names = "--duration", paramLabel = "S", description = "Seconds to run when --requests is not given (default: ${DEFAULT-VALUE}).")
    double duration = 5;

    @Option(names = "--bs", paramLabel = "BYTES", description = "Bytes per request: blk-driver a power of 2 in [512, 8192] (default 512);"
        + " net-loop the frame length, a multiple of 8 in [64, 1512] (default 64).")
    Integer bs;

    @Option(names = "--idle", paramLabel = "POLICY", description = "Device lcore idle policy: busy, backoff, adaptive (default: ${DEFAULT-VALUE}).")
    String idle = "adaptive";

    private static final boolean TWO_CPUS = Runtime.getRuntime().availableProcessors() >= 2;

    // Apart by default: unpinned, the kick wakes the lcore on the vCPU's own CPU (wake-affine), it
    // spins there for its idle time while the vCPU waits, then sleeps: one sleep per request.
    @Option(names = "--lcore-cpu", paramLabel = "CPU", description = "Pin the device lcore to this CPU; -1: unpinned (default: 1 with two CPUs or more).")
    int lcoreCpu = TWO_CPUS ? 1 : -1;

    @Option(names = "--vcpu-cpu", paramLabel = "CPU", description = "Pin the vCPU thread to this CPU; -1: unpinned (default: 0 with two CPUs or more).")
    int vcpuCpu = TWO_CPUS ? 0 : -1;

    @Option(names = "--no-interrupts", description = "The guest sets VRING_AVAIL_F_NO_INTERRUPT: completions raise no irqfd (it polls anyway).")
    boolean noInterrupts;

    @Option(names = "--no-verify", description = "Do not compare read data in the guest (implied for null bdevs).")
    boolean noVerify;

    @Option(names = "--vs", paramLabel = "host", description = "Also run the host-side frontend (vhost-user, qd 1, 50%% reads, its driver on the vCPU's CPU) on the same kind of bdev"
        + " (with --blk vhost:SOCK: against the same back-end, after the guest); for net-loop, one frame in flight against a loopback virtio-net device"
        + " (or the --net vhost:SOCK back-end).")
    String vs;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
    Path json;

    @Override
    public Integer call() throws IOException {
        boolean isNet = guest.equals("net-loop");
        if (!isNet && !guest.equals("blk-driver")) {
            System.err.println("unknown guest '" + guest + "' (known: blk-driver, net-loop)");
            return 2;
        }
        if (cpus != 1 && (isNet || vs != null || (!blk.isEmpty() && blk.get(0).startsWith("vhost:")))) {
            System.err.println("--cpus " + cpus + ": several vCPUs run only the blk-driver guest on an in-process bdev, without --vs");
            return 2;
        }
        if (isNet ? !blk.isEmpty() : !net.isEmpty()) {
            System.err.println(isNet ? "--blk: the net-loop guest drives one net device" : "--net: the blk-driver guest drives one block device");
            return 2;
        }
        if (blk.size() > 1 || net.size() > 1) {
            System.err.println("--blk/--net given more than once: a driver-loop guest drives one device");
            return 2;
        }
        if (!net.isEmpty() && !net.get(0).equals("loop") && !(net.get(0).startsWith("vhost:") && net.get(0).length() > 6)) {
            System.err.println("--net " + net.get(0) + ": expected loop or vhost:SOCK");
            return 2;
        }
        if (vs != null && !vs.equals("host")) {
            System.err.println("--vs " + vs + ": only 'host' (the host-side vhost-user frontend)");
            return 2;
        }
        if (bs == null) {
            bs = isNet ? 64 : 512;
        }
        if (duration <= 0 || duration > 3600) {
            System.err.println("--duration must be in (0, 3600] seconds, got " + duration);
            return 2;
        }
        String spec = isNet ? (net.isEmpty() ? "loop" : net.get(0)) : blk.isEmpty() ? "malloc:16M" : blk.get(0);
        DriverLoop.Options o;
        IdlePolicy policy;
        long memoryBytes;
        try {
            policy = IdlePolicy.parse(idle);
            if (isNet) {
                NetLoopProgram.checkFrameBytes(bs);
            } else {
                BlkDriverProgram.checkDataBytes(bs);
            }
            memoryBytes = BlockDeviceSpec.parseSize(memory);
            boolean verify = !noVerify && !spec.startsWith("null:");
            o = new DriverLoop.Options(requests, requests > 0 ? 0 : (long) (duration * 1000), memoryBytes, bs, verify,
                policy, lcoreCpu, vcpuCpu, 5_000, hugepages, !noInterrupts);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 2;
        }

        if (cpus != 1) {
            return VmRunSmp.run(cpus, spec, o, memoryBytes, idle, json); // one queue per vCPU of one multi-queue device
        }
        DriverLoop.Result r;
        String hostCheck = null;
        String bdevDescription;
        boolean vhost = spec.startsWith("vhost:");
        try (Kvm kvm = Kvm.open(); BlockDevice bdev = isNet || vhost ? null : BlockDeviceSpec.open(spec, 512, false, null)) {
            if (vhost) {
                bdevDescription = "the vhost-user back-end at " + spec.substring(6);
                r = isNet ? NetLoopWorkload.runVhost(kvm, Path.of(spec.substring(6)), o)
                    : BlkDriverWorkload.runVhost(kvm, Path.of(spec.substring(6)), o);
            } else if (bdev == null) {
                bdevDescription = null;
                r = NetLoopWorkload.run(kvm, o);
            } else {
                bdevDescription = bdev.describe();
                r = BlkDriverWorkload.run(kvm, bdev, o);
                if (bdev instanceof MallocBlockDevice m && o.verify()) {
                    hostCheck = BlkDriverWorkload.checkDiskContents(m.memory(), r);
                }
            }
        } catch (KvmUnavailableException e) {
            System.err.println(e.getMessage());
            return 2;
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 2;
        } catch (Exception e) {
            System.err.println("vm run failed: " + e.getMessage());
            return 1;
        }

        Histogram g = r.guestNanos();
        System.out.printf(Locale.ROOT, "KVM flavour: %s; guest %s at CPL 3 on 1 vCPU (native under PVM), %d MiB%s;"
                + " device %s over virtio-mmio, lcore idle %s%n",
            r.flavour(), guest, memoryBytes >> 20, hugepages ? " hugepages" : "",
            isNet ? (vhost ? "virtio-net on " + bdevDescription : "virtio-net in loopback") : "virtio-blk on " + bdevDescription, vhost ? "(the back-end's)" : idle);
        System.out.printf(Locale.ROOT, "guest driver loop: %,d %s of %d B in %.2f s: %,.0f %s/s (host wall %.2f s)%n",
            r.completed(), isNet ? "frames" : "requests", bs, r.guestSeconds(), r.requestsPerSecond(),
            isNet ? "round trips" : "requests", r.hostSeconds());
        System.out.printf(Locale.ROOT, "  latency (guest rdtsc, TSC %s kHz): p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us%n",
            r.tscKhz() > 0 ? Long.toString(r.tscKhz()) : "unknown, 1 GHz assumed",
            us(g, 50), us(g, 90), us(g, 99), us(g, 99.9), g.getMaxValue() / 1e3);
        System.out.printf(Locale.ROOT, "  exits: %d MMIO to userspace (negotiation: %d register accesses); %,d kicks through the ioeventfd,"
                + " %d reached userspace; %s%n",
            r.mmioExits(), r.negotiationMmioAccesses(), r.kicks(), r.notifyExits(),
            vhost ? "completions signalled by the back-end straight into the irqfd (not counted here)"
                : String.format(Locale.ROOT, "%,d irqfd interrupts", r.interrupts()));
        if (r.lcoreSleeps() >= 0) {
            System.out.printf(Locale.ROOT, "  device lcore: %,d sleeps in epoll on the kick for %,d requests (idle %s)%n",
                r.lcoreSleeps(), r.completed(), idle);
        }
        if (o.verify()) {
            System.out.println("  data: every " + (isNet ? "frame received" : "read") + " compared in the guest" + (hostCheck == null && !isNet && spec.startsWith("malloc:")
                ? "; bdev contents checked by the host: ok" : hostCheck != null ? "; HOST CHECK FAILED: " + hostCheck : ""));
        }
        BlkLoadGenerator.Result host = null;
        if (vs != null && isNet) {
            if (!compareNetHost(r, vhost ? Path.of(spec.substring(6)) : null)) {
                return 1;
            }
        } else if (vs != null) {
            double seconds = Math.max(1, Math.min(20, r.guestSeconds()));
            try {
                host = vhost ? BlkLoadGenerator.run(new BlkLoadGenerator.Options(Path.of(spec.substring(6)), 1, 1, bs, "randrw", 50,
                    seconds, 0.2, hugepages, false, vcpuCpu, null)) : hostFrontend(spec, seconds);
            } catch (RuntimeException e) {
                System.err.println("host frontend run failed: " + e.getMessage());
                return 1;
            }
            System.out.printf(Locale.ROOT, "host frontend (vhost-user, %s, qd 1, 50%% reads, %d B): %,.0f requests/s;"
                    + " p50 %.1f us  p99 %.1f us  p99.9 %.1f us%n",
                vhost ? "the same back-end" : "a back-end in this process", bs, host.iops(), us(host.latency(), 50), us(host.latency(), 99), us(host.latency(), 99.9));
            System.out.printf(Locale.ROOT, "guest driver loop / host frontend: %.2f (requests/s)%n", r.requestsPerSecond() / host.iops());
        }
        if (json != null) {
            writeJson(r, host, spec);
            System.out.println("results: " + json);
        }
        if (r.error() != null || hostCheck != null) {
            System.err.println("FAILED: " + (r.error() != null ? r.error() : "host check: " + hostCheck));
            return 1;
        }
        return 0;
    }

    /** net-loop --vs host: the host-side frontend, one frame in flight, then guest/host; false if it failed. */
    private boolean compareNetHost(DriverLoop.Result r, Path vhostSocket) {
        double seconds = Math.max(1, Math.min(20, r.guestSeconds()));
        NetLoadGenerator.Result host;
        try {
            host = vhostSocket != null ? NetLoopHostFrontend.against(vhostSocket, bs, seconds, vcpuCpu)
                : NetLoopHostFrontend.inProcess(bs, seconds, idle, lcoreCpu, vcpuCpu);
        } catch (RuntimeException e) {
            System.err.println("host frontend run failed: " + e.getMessage());
            return false;
        }
        double perSecond = host.packets() / host.seconds();
        System.out.printf(Locale.ROOT, "host frontend (vhost-user, %s, 1 frame in flight, %d B): %,.0f round trips/s;"
                + " p50 %.1f us  p99 %.1f us  p99.9 %.1f us%n",
            vhostSocket != null ? "the same back-end" : "a loopback virtio-net device in this process", bs, perSecond,
            us(host.roundTrip(), 50), us(host.roundTrip(), 99), us(host.roundTrip(), 99.9));
        System.out.printf(Locale.ROOT, "guest driver loop / host frontend: %.2f (round trips/s)%n", r.requestsPerSecond() / perSecond);
        return true;
    }

    private static double us(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1e3;
    }

    /** The same kind of device in this process behind a vhost-user backend, driven by BlkLoadGenerator at qd 1. */
    private BlkLoadGenerator.Result hostFrontend(String spec, double seconds) {
        try (BlockDevice bdev = BlockDeviceSpec.open(spec, 512, false, null);
             VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).name("vm-run-host").build()) {
            return NetLoopHostFrontend.serve(device, idle, lcoreCpu, socket -> BlkLoadGenerator.run(
                new BlkLoadGenerator.Options(socket, 1, 1, bs, "randrw", 50, seconds, 0.2, hugepages, false, vcpuCpu, null)));
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e.getMessage(), e);
        }
    }

    private void writeJson(DriverLoop.Result r, BlkLoadGenerator.Result host, String spec) throws IOException {
        Histogram g = r.guestNanos();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "{\n  \"kvm_flavour\": \"%s\",\n  \"guest\": \"%s\",\n  \"guest_cpl\": 3,\n"
                + "  \"bdev\": \"%s\",\n  \"bs\": %d,\n  \"idle\": \"%s\",\n  \"requests\": %d,\n  \"seconds\": %.3f,\n"
                + "  \"requests_per_s\": %.1f,\n  \"guest_p50_ns\": %d,\n  \"guest_p99_ns\": %d,\n  \"guest_p999_ns\": %d,\n"
                + "  \"mmio_exits\": %d,\n  \"kicks\": %d,\n  \"notify_exits\": %d,\n  \"interrupts\": %d,\n  \"tsc_khz\": %d",
            r.flavour().name(), guest, guest.equals("net-loop") && !spec.startsWith("vhost:") ? "none" : spec.replace("\"", "\\\""), bs, idle, r.completed(), r.guestSeconds(), r.requestsPerSecond(),
            g.getValueAtPercentile(50), g.getValueAtPercentile(99), g.getValueAtPercentile(99.9),
            r.mmioExits(), r.kicks(), r.notifyExits(), r.interrupts(), r.tscKhz()));
        if (host != null) {
            sb.append(String.format(Locale.ROOT, ",\n  \"host_frontend_requests_per_s\": %.1f,\n  \"host_frontend_p50_ns\": %d,\n"
                    + "  \"host_frontend_p99_ns\": %d,\n  \"guest_vs_host\": %.3f",
                host.iops(), host.latency().getValueAtPercentile(50), host.latency().getValueAtPercentile(99),
                r.requestsPerSecond() / host.iops()));
        }
        sb.append(",\n  \"error\": ").append(r.error() == null ? "null" : "\"" + r.error().replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"");
        sb.append("\n}\n");
        Path parent = json.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(json, sb);
    }
}

package io.ringway.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vcpu.kvm.Kvm;

import picocli.CommandLine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code ringway vm run} rejects what it cannot run with one line naming the problem, before touching
 * KVM; and runs the net-loop guest against a vhost-user-net back-end.
 */
class VmRunCommandTest {
    private record Outcome(int code, String err) {
    }

    private static Outcome run(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = new CommandLine(new VmCommand()).execute(args);
            return new Outcome(code, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void anUnknownGuestIsNamed() {
        Outcome o = run("run", "--guest", "linux");
        assertEquals(2, o.code());
        assertEquals("unknown guest 'linux' (known: blk-driver, net-loop)", o.err().strip());
    }

    @Test
    void moreThanOneVcpuIsRefusedForNetLoopAndVhostAndVsHost() {
        String why = "several vCPUs run only the blk-driver guest on an in-process bdev, without --vs";
        assertEquals(new Outcome(2, "--cpus 2: " + why), strip(run("run", "--guest", "net-loop", "--cpus", "2")));
        assertEquals(new Outcome(2, "--cpus 2: " + why), strip(run("run", "--guest", "blk-driver", "--cpus", "2", "--blk", "vhost:/x.sock")));
        assertEquals(new Outcome(2, "--cpus 2: " + why), strip(run("run", "--guest", "blk-driver", "--cpus", "2", "--vs", "host")));
    }

    private static Outcome strip(Outcome o) {
        return new Outcome(o.code(), o.err().strip());
    }

    @Test
    void theBlkDriverGuestRunsOnTwoVcpusOneQueueEach() {
        String reason = Kvm.unavailableReason();
        assumeTrue(reason == null, () -> "skipped, needs /dev/kvm: " + reason);
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        Outcome o;
        try {
            o = run("run", "--guest", "blk-driver", "--cpus", "2", "--requests", "2000", "--blk", "malloc:1M");
        } finally {
            System.setOut(oldOut);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, o.code(), o.err() + text);
        assertTrue(text.contains("total: 4,000 requests of 512 B"), text);
        assertTrue(text.contains("vCPU 0 (queue 0, blocks from 0): 2,000 requests"), text);
        assertTrue(text.contains("vCPU 1 (queue 1, blocks from 1,024): 2,000 requests"), text);
        assertTrue(text.contains("0 kicks reached userspace"), text);
        assertTrue(text.contains("checked by the host: ok"), text);
        assertEquals(new Outcome(2, "the blk-driver guest runs on 1 to 8 vCPUs, got 9"),
            strip(run("run", "--guest", "blk-driver", "--cpus", "9", "--requests", "10")));
    }

    @Test
    void aNetDeviceOtherThanLoopOrVhostIsRefused() {
        Outcome o = run("run", "--guest", "net-loop", "--net", "tap:x");
        assertEquals(2, o.code());
        assertEquals("--net tap:x: expected loop or vhost:SOCK", o.err().strip());
        assertEquals("--net vhost:: expected loop or vhost:SOCK", run("run", "--guest", "net-loop", "--net", "vhost:").err().strip());
    }

    @Test
    void theNetLoopGuestRunsAgainstRingwayNetInIoModeOverVhostUser(@TempDir Path dir) {
        String reason = Kvm.unavailableReason();
        assumeTrue(reason == null, () -> "skipped, needs /dev/kvm: " + reason);
        Path socket = dir.resolve("net.sock");
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("net.stats"), 512);
             ForwardingEngine engine = ForwardingEngine.start(ForwardingEngine.Config.of(List.of(socket), ForwardingMode.IO, stats))) {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            Outcome o;
            try {
                o = run("run", "--guest", "net-loop", "--net", "vhost:" + socket, "--requests", "2000", "--bs", "256",
                    "--lcore-cpu", "-1", "--vcpu-cpu", "-1");
            } finally {
                System.setOut(oldOut);
            }
            String text = out.toString(StandardCharsets.UTF_8);
            assertEquals(0, o.code(), o.err() + text);
            assertTrue(text.contains("device virtio-net on the vhost-user back-end at " + socket), text);
            assertTrue(text.contains("guest driver loop: 2,000 frames of 256 B"), text);
            assertTrue(text.contains("data: every frame received compared in the guest"), text);
        }
    }

    @Test
    void netLoopVsHostComparesWithTheHostFrontendOnALoopbackDevice() {
        String reason = Kvm.unavailableReason();
        assumeTrue(reason == null, () -> "skipped, needs /dev/kvm: " + reason);
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        Outcome o;
        try {
            o = run("run", "--guest", "net-loop", "--requests", "2000", "--vs", "host", "--lcore-cpu", "-1", "--vcpu-cpu", "-1");
        } finally {
            System.setOut(oldOut);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, o.code(), o.err() + text);
        java.util.regex.Matcher host = java.util.regex.Pattern.compile(
            "host frontend \\(vhost-user, a loopback virtio-net device in this process, 1 frame in flight, 64 B\\): ([0-9,]+) round trips/s").matcher(text);
        assertTrue(host.find(), text);
        assertTrue(Long.parseLong(host.group(1).replace(",", "")) > 0, "host round trips/s: " + text);
        java.util.regex.Matcher ratio = java.util.regex.Pattern.compile("guest driver loop / host frontend: ([0-9.]+) \\(round trips/s\\)").matcher(text);
        assertTrue(ratio.find(), text);
        assertTrue(Double.parseDouble(ratio.group(1)) > 0, text);
    }

    @Test
    void vsOtherThanHostIsRefused() {
        Outcome o = run("run", "--guest", "net-loop", "--vs", "dpdk");
        assertEquals(2, o.code());
        assertEquals("--vs dpdk: only 'host' (the host-side vhost-user frontend)", o.err().strip());
    }

    @Test
    void aBadRequestSizeIsNamedBeforeKvmIsOpened() {
        Outcome o = run("run", "--guest", "blk-driver", "--bs", "1000", "--requests", "10");
        assertEquals(2, o.code());
        assertEquals("data bytes per request must be a power of 2 in [512, 8192], got 1000", o.err().strip());
    }
}

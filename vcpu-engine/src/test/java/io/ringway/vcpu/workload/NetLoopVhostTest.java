package io.ringway.vcpu.workload;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmTestSupport;
import io.ringway.vhost.backend.VhostUserBackend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The net-loop guest against a vhost-user-net back-end ({@code vm run --net vhost:SOCK}): the
 * guest's kicks go to the back-end through the ioeventfd and its completions come back through the
 * irqfd; every frame that comes back is compared by the guest.
 */
class NetLoopVhostTest {
    private static final int FRAMES = 5_000;

    private static void assertLoopedBack(DriverLoop.Result r, int frames) {
        assertNull(r.error(), r.error());
        assertEquals(RunResult.Outcome.FINISHED, r.run().outcome(), r.run().report());
        assertEquals(frames, r.completed(), "frames sent and received back");
        assertEquals(frames, r.kicks());
        assertEquals(r.negotiationMmioAccesses(), r.mmioExits(), "MMIO exits to userspace");
        assertEquals(0, r.notifyExits(), "kicks that reached this process");
    }

    @Test
    void framesComeBackThroughRingwayNetInIoModeOnOnePort(@TempDir Path dir) {
        Path socket = dir.resolve("net.sock");
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             StatsRegistry stats = StatsRegistry.open(dir.resolve("net.stats"), 512);
             ForwardingEngine engine = ForwardingEngine.start(ForwardingEngine.Config.of(List.of(socket), ForwardingMode.IO, stats))) {
            DriverLoop.Result r = NetLoopWorkload.runVhost(kvm, socket, DriverLoop.Options.requests(FRAMES, 128));

            assertLoopedBack(r, FRAMES);
        }
    }

    @Test
    void framesComeBackThroughAVirtioNetDeviceInLoopbackBehindAVhostUserBackend(@TempDir Path dir) {
        Path socket = dir.resolve("net.sock");
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             Mempool pool = Mbuf.createPool(1024);
             VirtioNetDevice device = VirtioNetDevice.builder(pool).name("vhost-net-loop").queuePairs(1).build()) {
            NetLoopWorkload.Loopback loop = new NetLoopWorkload.Loopback(device);
            device.attachLocal(0, loop);
            Lcore lcore = Lcore.builder("vhost-net-loop").idlePolicy(IdlePolicy.adaptive()).start();
            try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).name("vhost-net-loop").listen(socket)) {
                DriverLoop.Result r = NetLoopWorkload.runVhost(kvm, socket, DriverLoop.Options.requests(FRAMES, 1512));

                assertLoopedBack(r, FRAMES);
                assertEquals(0, loop.dropped, "frames the loopback dropped");
            } finally {
                lcore.close();
                loop.close();
            }
        }
    }

    @Test
    void aBackEndThatAltersFramesIsCaughtByTheGuestsCompare(@TempDir Path dir) {
        Path socket = dir.resolve("net.sock");
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             StatsRegistry stats = StatsRegistry.open(dir.resolve("net.stats"), 512);
             ForwardingEngine engine = ForwardingEngine.start(ForwardingEngine.Config.of(List.of(socket), ForwardingMode.MACSWAP, stats))) {
            DriverLoop.Result r = NetLoopWorkload.runVhost(kvm, socket, DriverLoop.Options.requests(100, 64));

            assertEquals(0, r.completed(), "the first frame came back with its MAC addresses swapped");
            assertTrue(r.error() != null && r.error().contains("data read back differs"), "the guest reports the difference: " + r.error());
        }
    }
}

package io.ringway.control;

import static io.ringway.control.ServeBed.m;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.ringway.net.device.VirtioNetMetrics;
import io.ringway.net.interop.Testpmd;
import io.ringway.net.port.Port;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * dpdk-testpmd (virtio-user, txonly) sends into a vhost-user port of the daemon; the switch floods
 * its frames to a ring port whose far end the test drains. Ports are created, attached, detached and
 * deleted over RPC meanwhile (each change rebuilds the switch): the frames keep coming with no gap
 * above the limit of {@link ServeTrafficTest#MAX_GAP_NANOS}, and the device drops nothing as malformed.
 */
class ServeTestpmdTest {
    @TempDir
    Path dir;

    /** Drains a port, recording the longest time between two arrivals. */
    static final class Drain implements Runnable {
        final Port port;
        final AtomicBoolean stop = new AtomicBoolean();
        volatile long received;
        volatile long maxGap;
        /** 0 while nothing changes, 1 while ports come and go: the longest gap of each phase. */
        volatile int phase;
        final long[] phaseMaxGap = new long[2];

        Drain(Port port) {
            this.port = port;
        }

        @Override
        public void run() {
            long[] burst = new long[32];
            long last = 0;
            while (!stop.get()) {
                int n = port.rxBurst(0, burst, 0, burst.length);
                if (n > 0) {
                    long now = System.nanoTime();
                    if (last != 0 && now - last > maxGap) {
                        maxGap = now - last;
                    }
                    int ph = phase;
                    if (last != 0 && now - last > phaseMaxGap[ph]) {
                        phaseMaxGap[ph] = now - last;
                    }
                    last = now;
                    port.pool().freeBulk(null, burst, 0, n);
                    received += n;
                } else {
                    java.util.concurrent.locks.LockSupport.parkNanos(20_000);
                }
            }
        }
    }

    @Test
    void testpmdFramesKeepCrossingTheSwitchWhilePortsComeAndGo() throws Exception {
        Testpmd.assumeAvailable();
        try (ServeBed bed = new ServeBed(dir, 2)) {
            Path net0 = dir.resolve("net0.sock");
            bed.ok("net_port_create", m("name", "vhost0", "type", "vhost-user", "socket", net0.toString()));
            bed.ok("net_port_create", m("name", "r0", "type", "ring"));
            bed.ok("net_switch_attach", m("port", "vhost0"));
            bed.ok("net_switch_attach", m("port", "r0"));
            Drain drain = new Drain(bed.plane.ringPeer("r0"));
            Thread drainThread = Thread.ofPlatform().name("r0-drain").start(drain);
            try (Testpmd t = new Testpmd("net_virtio_user0,path=" + net0 + ",queues=1", 1, dir.resolve("testpmd.log"))) {
                t.send("set fwd txonly");
                t.send("start");
                ServeRpcTest.awaitTrue(() -> drain.received > 1000, "testpmd frames reach r0");
                // A quiet phase first, as long as the changes will take: the gap the machine alone causes.
                TimeUnit.MILLISECONDS.sleep(1500);
                drain.phase = 1;
                long t0 = System.nanoTime();
                for (int round = 0; round < 3; round++) {
                    bed.ok("net_port_create", m("name", "v1", "type", "vhost-user", "socket", dir.resolve("v1.sock").toString()));
                    bed.ok("net_port_create", m("name", "r1", "type", "ring"));
                    bed.ok("net_switch_attach", m("port", "v1"));
                    bed.ok("net_switch_attach", m("port", "r1"));
                    TimeUnit.MILLISECONDS.sleep(200);
                    bed.ok("net_switch_detach", m("port", "r1"));
                    bed.ok("net_port_delete", m("name", "r1"));
                    bed.ok("net_port_delete", m("name", "v1"));
                }
                while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(1)) {
                    TimeUnit.MILLISECONDS.sleep(50);
                }
                Testpmd.PortStats s = t.stop(0);
                drain.stop.set(true);
                drainThread.join(10_000);
                Map<?, ?> vhost0 = (Map<?, ?>) ((List<?>) bed.ok("net_get_ports", m("name", "vhost0"))).get(0);
                System.out.printf("ServeTestpmdTest: testpmd sent %d, vhost0 rx %s, r0 drained %d, max gap %.1f ms without changes,"
                                + " %.1f ms while ports came and went (limit %d ms)%n", s.txPackets(), vhost0.get("rx_packets"),
                        drain.received, drain.phaseMaxGap[0] / 1e6, drain.phaseMaxGap[1] / 1e6,
                        ServeTrafficTest.MAX_GAP_NANOS / 1_000_000);
                assertTrue(s.txPackets() > 0, "testpmd sent nothing");
                assertTrue((Long) vhost0.get("rx_packets") > 0, "vhost0 received nothing");
                assertTrue(drain.received > 1000, "only " + drain.received + " frames crossed the switch");
                assertTrue(drain.maxGap < ServeTrafficTest.MAX_GAP_NANOS, "a gap of " + drain.maxGap / 1_000_000
                        + " ms between frames");
                VirtioNetMetrics mx = bed.plane.portMap().get("vhost0").device().metrics();
                assertEquals(0, mx.txDropShortHeader.get() + mx.txDropEmpty.get() + mx.txDropOversize.get(),
                        "frames from testpmd dropped as malformed");
                assertEquals(List.of("vhost0", "r0"), bed.plane.switchPortList());

                // Deleting the port testpmd is connected to disconnects it; the daemon carries on.
                bed.ok("net_port_delete", m("name", "vhost0"));
                assertEquals(List.of("r0"), bed.plane.switchPortList());
                assertEquals(1, ((List<?>) bed.ok("net_get_ports", Map.of())).size());
            } finally {
                drain.stop.set(true);
                drainThread.join(10_000);
            }
        }
    }
}

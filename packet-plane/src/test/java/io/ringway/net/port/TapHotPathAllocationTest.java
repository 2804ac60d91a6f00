package io.ringway.net.port;

import io.ringway.net.capture.CaptureJournal;
import io.ringway.net.capture.CapturePort;
import io.ringway.net.l2switch.L2Switch;
import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.stats.StatsRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tap receive and send, the switch between two taps and the capture of both allocate nothing per
 * frame: {@code ping -A} (next request as soon as the reply is in) between two namespaces keeps
 * frames flowing while the test thread runs the switch and measures its own allocation. C2 may
 * arrive late on a loaded machine, so the test passes once one round that moved enough frames
 * stayed under a bound far below one object per frame.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TapHotPathAllocationTest {
    private static final int MIN_FRAMES_PER_ROUND = 2000;
    private static final long MAX_BYTES_PER_ROUND = 8 * 1024;

    @TempDir
    Path dir;

    @Test
    void tapsSwitchAndCaptureAllocateNothingPerFrame() throws Exception {
        HostNet.assumeNamespacesAllowed();
        HostNet.pingCommand();
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        String ns1 = HostNet.uniqueName("rwan", 1);
        String ns2 = HostNet.uniqueName("rwan", 2);
        String tap1 = HostNet.uniqueName("rwa", 1);
        String tap2 = HostNet.uniqueName("rwa", 2);
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("a.stats"), 256);
             Mempool pool = Mbuf.createPool(1024);
             HostNet host = new HostNet();
             CaptureJournal capture = CaptureJournal.builder(dir.resolve("capture")).snapLength(128).stats(stats).start()) {
            TapPort a = TapPort.open(tap1, pool, stats, 0);
            TapPort b = TapPort.open(tap2, pool, stats, 1);
            L2Switch sw = L2Switch.builder(stats).port(new CapturePort(a, 0, capture, true, true))
                    .port(new CapturePort(b, 1, capture, true, true)).build();
            Process ping = null;
            try {
                host.addNamespace(ns1);
                host.addNamespace(ns2);
                HostNet.moveAndConfigure(ns1, tap1, "10.213.4.1/24");
                HostNet.moveAndConfigure(ns2, tap2, "10.213.4.2/24");
                String[] p = HostNet.pingCommand();
                ping = new ProcessBuilder("ip", "netns", "exec", ns1, p[0], p[0].endsWith("busybox") ? "ping" : "-n",
                        "-A", "-q", "-w", "100", "10.213.4.2").redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                long best = Long.MAX_VALUE;
                long bestFrames = 0;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                boolean clean = false;
                while (!clean && System.nanoTime() < deadline) {
                    long frames = 0;
                    long before = threads.getCurrentThreadAllocatedBytes();
                    long roundEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
                    while (System.nanoTime() < roundEnd) {
                        frames += sw.doWork();
                    }
                    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
                    if (frames >= MIN_FRAMES_PER_ROUND && allocated < best) {
                        best = allocated;
                        bestFrames = frames;
                    }
                    clean = frames >= MIN_FRAMES_PER_ROUND && allocated <= MAX_BYTES_PER_ROUND;
                }
                assertTrue(clean, "no half-second round switched >= " + MIN_FRAMES_PER_ROUND + " frames within "
                        + MAX_BYTES_PER_ROUND + " B; best " + best + " B over " + bestFrames + " frames (" + a + " / " + b + ")");
                assertTrue(capture.captured() > 0, "the capture saw the frames");
            } finally {
                if (ping != null) {
                    ping.destroy();
                    ping.waitFor(10, TimeUnit.SECONDS);
                }
                sw.close();
                a.close();
                b.close();
            }
        }
    }
}

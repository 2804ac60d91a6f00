package io.ringway.control;

import static io.ringway.control.ServeBed.m;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.Port;
import io.ringway.perf.blk.BlkLoadGenerator;
import io.ringway.runtime.mem.Mempool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Devices come and go while others carry traffic: a blk controller under the load generator and two
 * ring ports through the switch keep going, with no gap above 100 ms and no error, while a second
 * controller (with its own front-end) and more net ports are created, used and deleted over RPC.
 */
class ServeTrafficTest {
    /**
     * The promise: no gap above 100 ms. On a machine whose run queue is longer than its CPU count the
     * scheduler alone leaves threads off-CPU for 100 ms and more, so there the check is 1 s: still
     * far below what a device creation waiting on a busy lcore (10 s command timeout) would cause.
     */
    static final long MAX_GAP_NANOS = TimeUnit.MILLISECONDS.toNanos(overloaded() ? 1000 : 100);

    static boolean overloaded() {
        try {
            double load = Double.parseDouble(java.nio.file.Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
            return load > Runtime.getRuntime().availableProcessors();
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    @TempDir
    Path dir;

    /** Largest time between two consecutive completions; called on the generator's thread only. */
    static final class GapTracker implements BlkLoadGenerator.RequestObserver {
        long last;
        long maxGap;
        long count;

        @Override
        public void completed(long startNanoTime, long latencyNanos) {
            long done = startNanoTime + latencyNanos;
            if (last != 0 && done - last > maxGap) {
                maxGap = done - last;
            }
            last = done;
            count++;
        }
    }

    @Test
    void addingAndRemovingDevicesDoesNotStallTheOthers() throws Exception {
        try (ServeBed bed = new ServeBed(dir, 2)) {
            Path c0 = dir.resolve("c0.sock");
            bed.ok("bdev_malloc_create", m("name", "M0", "size", "64M"));
            bed.ok("vhost_create_blk_controller", m("ctrlr", "c0", "socket", c0.toString(), "bdev", "M0"));
            bed.ok("net_port_create", m("name", "r0", "type", "ring"));
            bed.ok("net_port_create", m("name", "r1", "type", "ring"));
            bed.ok("net_switch_attach", m("port", "r0"));
            bed.ok("net_switch_attach", m("port", "r1"));

            GapTracker blkGaps = new GapTracker();
            CompletableFuture<BlkLoadGenerator.Result> blk = CompletableFuture.supplyAsync(() -> BlkLoadGenerator.run(
                    new BlkLoadGenerator.Options(c0, 1, 8, 4096, "randrw", 50, 6.0, 0.5, false, false, -1, blkGaps)));
            NetTraffic net = new NetTraffic(bed.plane.ringPeer("r0"), bed.plane.ringPeer("r1"));
            Thread netThread = Thread.ofPlatform().name("net-traffic").start(net);
            try {
                ServeRpcTest.awaitTrue(() -> net.received > 100 && blkGaps.count > 100, "traffic flowing");

                // A second controller with its own front-end, then gone again.
                Path c1 = dir.resolve("c1.sock");
                bed.ok("bdev_malloc_create", m("name", "M1", "size", "16M"));
                bed.ok("vhost_create_blk_controller", m("ctrlr", "c1", "socket", c1.toString(), "bdev", "M1"));
                BlkLoadGenerator.Result second = BlkLoadGenerator.run(
                        new BlkLoadGenerator.Options(c1, 1, 4, 4096, "randrw", 50, 1.0, 0.0, false, false));
                assertEquals(0, second.errors(), "second controller: " + second);
                assertTrue(second.requests() > 0, "second controller served nothing");
                bed.ok("vhost_delete_controller", m("ctrlr", "c1"));
                bed.ok("bdev_delete", m("name", "M1"));

                // More ports: a vhost-user one and a ring one, attached to the switch and detached.
                bed.ok("net_port_create", m("name", "v2", "type", "vhost-user", "socket", dir.resolve("v2.sock").toString()));
                bed.ok("net_port_create", m("name", "r2", "type", "ring"));
                bed.ok("net_switch_attach", m("port", "v2"));
                bed.ok("net_switch_attach", m("port", "r2"));
                TimeUnit.MILLISECONDS.sleep(300);
                bed.ok("net_port_delete", m("name", "v2"));
                bed.ok("net_switch_detach", m("port", "r2"));
                bed.ok("net_port_delete", m("name", "r2"));
                assertEquals(List.of("r0", "r1"), bed.plane.switchPortList());

                // Hostile clients meanwhile: each is answered with an error, the traffic goes on.
                try (RpcClient c = bed.client()) {
                    assertTrue(c.exchange("{\"jsonrpc\":\"2.0\",\"method\":}").contains("-32700"));
                    assertTrue(c.exchange("{\"jsonrpc\":\"2.0\",\"method\":\"vhost_delete_controller\",\"params\":"
                            + "{\"ctrlr\":[\"c0\"]},\"id\":1}").contains("-32602"));
                    assertTrue(c.exchange("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_delete\",\"params\":{\"name\":\"M0\"},"
                            + "\"id\":2}").contains("in use by controller c0"));
                }
                try (RpcClient c = bed.client()) {
                    assertTrue(c.exchange("\u0000\u0001garbage").contains("-32700"));
                }
            } finally {
                BlkLoadGenerator.Result first = blk.get(60, TimeUnit.SECONDS);
                net.stop.set(true);
                netThread.join(10_000);
                System.out.printf("ServeTrafficTest: blk max gap %.1f ms over %d completions, net max gap %.1f ms over %d"
                        + " frames, limit %d ms%s%n", blkGaps.maxGap / 1e6, blkGaps.count, net.maxGap / 1e6, net.received,
                        MAX_GAP_NANOS / 1_000_000, overloaded() ? " (machine overloaded: load above the CPU count)" : "");
                assertEquals(0, first.errors(), "first controller: " + first);
                assertTrue(blkGaps.count > 1000, "first controller completed only " + blkGaps.count);
                assertTrue(blkGaps.maxGap < MAX_GAP_NANOS, "first controller: a gap of "
                        + blkGaps.maxGap / 1_000_000 + " ms between completions");
                assertTrue(net.received > 1000, "only " + net.received + " frames crossed the switch");
                assertEquals(0, net.corrupt, "frames corrupted on the way");
                assertTrue(net.maxGap < MAX_GAP_NANOS, "net: a gap of " + net.maxGap / 1_000_000 + " ms between frames");
                Map<?, ?> stats = (Map<?, ?>) bed.ok("stats_get", Map.of());
                Map<?, ?> c0stats = (Map<?, ?>) ((List<?>) stats.get("controllers")).get(0);
                assertEquals("c0", c0stats.get("ctrlr"));
                assertTrue((Long) c0stats.get("requests") >= blkGaps.count, "stats_get: " + c0stats);
                assertEquals(0L, c0stats.get("errors"));
                Map<?, ?> r1stats = (Map<?, ?>) ((List<?>) stats.get("net_ports")).get(1);
                assertEquals("r1", r1stats.get("name"));
                assertTrue((Long) r1stats.get("tx_packets") >= net.received, "stats_get: " + r1stats);
                assertEquals(2, ((List<?>) stats.get("switch")).size());
            }
        }
    }

    /**
     * Host A on r0 and host B on r1 send each other numbered frames through the switch; records the
     * longest time between two frames arriving at B, and frames whose bytes changed.
     */
    static final class NetTraffic implements Runnable {
        static final byte[] A = {0x02, 0, 0, 0, 0, 0x0a};
        static final byte[] B = {0x02, 0, 0, 0, 0, 0x0b};
        final Port a;
        final Port b;
        final AtomicBoolean stop = new AtomicBoolean();
        volatile long received;
        volatile long corrupt;
        volatile long maxGap;

        NetTraffic(Port a, Port b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void run() {
            Mempool pool = a.pool();
            long[] burst = new long[32];
            long last = 0;
            int seq = 0;
            while (!stop.get()) {
                send(pool, b, A, B, seq);     // B announces itself so that the switch learns it
                send(pool, a, B, A, seq++);
                int n;
                while ((n = b.rxBurst(0, burst, 0, burst.length)) > 0) {
                    long now = System.nanoTime();
                    if (last != 0 && now - last > maxGap) {
                        maxGap = now - last;
                    }
                    last = now;
                    for (int i = 0; i < n; i++) {
                        long off = pool.offset(burst[i]);
                        MemorySegment mem = pool.memory();
                        if (Mbuf.length(mem, off) != 60 || mem.get(ValueLayout.JAVA_BYTE, Mbuf.data(off)) != B[0]
                                || mem.get(ValueLayout.JAVA_BYTE, Mbuf.data(off) + 5) != B[5]) {
                            corrupt++;
                        }
                    }
                    pool.freeBulk(null, burst, 0, n);
                    received += n;
                }
                while ((n = a.rxBurst(0, burst, 0, burst.length)) > 0) {
                    pool.freeBulk(null, burst, 0, n);
                }
                java.util.concurrent.locks.LockSupport.parkNanos(20_000);
            }
        }

        /** Sends one 60-byte frame {@code src} to {@code dst} numbered {@code seq} into {@code from} (dropped if the pool or ring is full). */
        static void send(Mempool pool, Port from, byte[] dst, byte[] src, int seq) {
            long h = pool.alloc(null);
            if (h == Mempool.NO_HANDLE) {
                return;
            }
            long off = pool.offset(h);
            MemorySegment mem = pool.memory();
            MemorySegment.copy(dst, 0, mem, ValueLayout.JAVA_BYTE, Mbuf.data(off), 6);
            MemorySegment.copy(src, 0, mem, ValueLayout.JAVA_BYTE, Mbuf.data(off) + 6, 6);
            mem.set(ValueLayout.JAVA_SHORT_UNALIGNED, Mbuf.data(off) + 12, (short) 0x0008);
            mem.set(ValueLayout.JAVA_INT_UNALIGNED, Mbuf.data(off) + 14, seq);
            Mbuf.length(mem, off, 60);
            if (from.txBurst(0, new long[] {h}, 0, 1) != 1) {
                pool.free(null, h);
            }
        }
    }
}

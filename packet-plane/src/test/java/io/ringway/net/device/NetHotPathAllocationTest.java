package io.ringway.net.device;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The device's packet path allocates nothing on the lcore: packets both ways (mergeable, split),
 * measured with the lcore thread's allocation counter. Interpreted and C1 code may allocate, and C2
 * can arrive late on a loaded machine, so the test passes once one round after warm-up stays under
 * the bound; a per-packet allocation would show as megabytes in every round.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class NetHotPathAllocationTest {
    static final int PER_ROUND = 20_000;

    @TempDir
    Path dir;

    @Test
    void packetPathDoesNotAllocateOnTheLcore() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Lcore lcore = Lcore.builder("alloc-test").idlePolicy(IdlePolicy.busySpin()).start();
             NetTestBed bed = new NetTestBed(dir, lcore, 1)) {
            long lcoreThread = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("lcore-alloc-test")).findFirst().orElseThrow().threadId();
            bed.connect(NetTestBed.ALL_NET);
            bed.startQueues(1, 256, false);
            NetDriver tx = bed.tx.get(0);
            NetDriver rx = bed.rx.get(0);
            byte[] frame = NetTestBed.frame(1, 64);
            long[] burst = new long[32];
            long allocated = Long.MAX_VALUE;
            int rounds = 0;
            while (rounds < 30 && allocated >= 64 * 1024) {
                long before = threads.getThreadAllocatedBytes(lcoreThread);
                int sent = 0;
                int got = 0;
                int delivered = 0;
                long deadline = System.currentTimeMillis() + 20_000;
                while (got < PER_ROUND) {
                    boolean posted = false;
                    while (sent < PER_ROUND && tx.postPacket(frame, false) >= 0) {
                        sent++;
                        posted = true;
                    }
                    while (rx.postReceive(2048, 1) >= 0) {
                        posted = true;
                    }
                    if (posted) {
                        tx.publish();
                        rx.publish();
                    }
                    while (tx.pollUsed() != null) {
                        // transmit buffers back
                    }
                    while (rx.pollUsed() != null) {
                        delivered++;
                    }
                    int n = bed.port.rxBurst(0, burst, 0, 32);
                    got += n;
                    // Send back what arrived: the device's receive path runs too.
                    int back = bed.port.txBurst(0, burst, 0, n);
                    bed.pool.freeBulk(bed.cache, burst, back, n - back);
                    assertTrue(System.currentTimeMillis() < deadline, "round " + rounds + ": " + got + " received");
                }
                allocated = threads.getThreadAllocatedBytes(lcoreThread) - before;
                rounds++;
                assertTrue(delivered > 0, "the receive path ran");
            }
            System.out.println("lcore allocation: " + allocated + " bytes in round " + rounds);
            assertTrue(allocated < 64 * 1024, "the lcore allocated " + allocated + " bytes for " + PER_ROUND
                    + " packets each way, after " + rounds + " rounds");
        }
    }
}

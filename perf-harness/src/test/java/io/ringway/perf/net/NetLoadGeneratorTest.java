package io.ringway.perf.net;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.port.PortCounters;
import io.ringway.perf.net.NetLoadGenerator.Role;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;

/**
 * The load generator against Ringway's back-end, unpinned and in backoff so that it shares two
 * loaded cores politely: what the driver counted must agree with the back-end's own port counters.
 * The driver stops with buffers still posted, so the back-end may count up to a ring's worth more.
 */
class NetLoadGeneratorTest {
    @TempDir
    Path dir;

    private NetLoadGenerator.Result runAgainstRingway(Role role, LongSupplierOf counter, long[] backendCount) throws Exception {
        return runAgainstRingway(role, NetLoadGenerator.BURST, counter, backendCount);
    }

    private NetLoadGenerator.Result runAgainstRingway(Role role, int inFlight, LongSupplierOf counter, long[] backendCount) throws Exception {
        Path socket = dir.resolve(role.backendMode() + ".sock");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve(role + ".stats"), 256);
             ForwardingEngine engine = ForwardingEngine.start(new ForwardingEngine.Config(List.of(socket), false, 1,
                     ForwardingMode.parse(role.backendMode()), new int[] {-1}, IdlePolicy.parse("backoff"), 64, 4096, true, true, stats))) {
            NetLoadGenerator.Result r = NetLoadGenerator.run(new NetLoadGenerator.Options(socket, role, 64, 0.3, 0.05, -1), inFlight);
            System.out.println(role + " against Ringway: " + r);
            PortCounters c = engine.ports().get(0).counters();
            LongSupplier backend = () -> counter.of(c);
            // The back-end's counters trail the driver's view by what it had taken but not yet counted.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (backend.getAsLong() < r.total() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            backendCount[0] = backend.getAsLong();
            return r;
        }
    }

    @FunctionalInterface
    private interface LongSupplierOf {
        long of(PortCounters c);
    }

    private static void assertAgrees(NetLoadGenerator.Result r, long backend, String what) {
        assertTrue(r.total() > 0, "no packet moved: " + r);
        assertEquals(0, r.malformed(), "malformed used buffers: " + r);
        assertTrue(backend >= r.total() && backend <= r.total() + NetLoadGenerator.QUEUE_SIZE,
                what + ": back-end counted " + backend + ", driver " + r.total());
        assertTrue(r.packets() <= r.total(), "the measured window is part of the run: " + r);
    }

    @Test
    @Timeout(60)
    void sendCountsWhatTheRxonlyBackEndReceived() throws Exception {
        long[] backend = new long[1];
        NetLoadGenerator.Result r = runAgainstRingway(Role.SEND, c -> c.rxPackets.get(), backend);
        assertAgrees(r, backend[0], "packets the back-end received");
    }

    @Test
    @Timeout(60)
    void receiveCountsWhatTheTxonlyBackEndSent() throws Exception {
        long[] backend = new long[1];
        NetLoadGenerator.Result r = runAgainstRingway(Role.RECEIVE, c -> c.txPackets.get(), backend);
        assertAgrees(r, backend[0], "packets the back-end sent");
    }

    @Test
    @Timeout(60)
    void loopReceivesWhatTheMacswapBackEndSentBackAndRecordsTheRoundTrip() throws Exception {
        long[] backend = new long[1];
        NetLoadGenerator.Result r = runAgainstRingway(Role.LOOP, c -> c.txPackets.get(), backend);
        assertAgrees(r, backend[0], "packets the back-end sent back");
        assertEquals(0, r.noRoom(), "every packet received could be sent back: " + r);
        assertEquals(r.packets(), r.roundTrip().getTotalCount(), "one round trip per packet counted in the window");
    }

    @Test
    @Timeout(60)
    void withOneFrameInFlightTheBackEndNeverSendsMoreThanOneAheadOfTheDriver() throws Exception {
        long[] backend = new long[1];
        NetLoadGenerator.Result r = runAgainstRingway(Role.LOOP, 1, c -> c.txPackets.get(), backend);
        assertTrue(r.total() > 0, "no packet moved: " + r);
        assertEquals(0, r.malformed(), "malformed used buffers: " + r);
        assertTrue(backend[0] >= r.total() && backend[0] <= r.total() + 1,
                "ping-pong: back-end sent " + backend[0] + ", driver received " + r.total());
        assertEquals(r.packets(), r.roundTrip().getTotalCount(), "one round trip per packet counted in the window");
    }

    @Test
    void framesInFlightOutsideOneToABurstAreRefused() {
        NetLoadGenerator.Options o = new NetLoadGenerator.Options(Path.of("/tmp/none.sock"), Role.LOOP, 64, 1, 0, -1);
        assertThrows(IllegalArgumentException.class, () -> NetLoadGenerator.run(o, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NetLoadGenerator.run(o, NetLoadGenerator.BURST + 1));
        assertEquals("frames in flight must be 1..32, got 33", e.getMessage());
    }

    @Test
    void framesTooShortForTheSendTimeOrLargerThanABufferAreRefused() {
        Path s = Path.of("/tmp/none.sock");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new NetLoadGenerator.Options(s, Role.SEND, 42, 1, 0, -1));
        assertTrue(e.getMessage().contains("frame length must be 50..2036"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new NetLoadGenerator.Options(s, Role.SEND, 2037, 1, 0, -1));
        assertThrows(IllegalArgumentException.class, () -> new NetLoadGenerator.Options(s, Role.SEND, 64, 0, 0, -1));
    }
}

package io.ringway.net.l2switch;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.RingPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.stats.StatsRegistry;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * An {@link L2Switch} over ring ports, each with a host end the test drives, and a clock the test
 * moves. Everything runs on the test thread; the test's buffers go through the shared ring (no
 * cache), so {@link Mempool#available()} is exact.
 */
final class SwitchBed implements AutoCloseable {
    static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};

    final StatsRegistry stats;
    final Mempool pool;
    final RingPort[] switchSide;
    final RingPort[] hosts;
    final L2Switch sw;
    long now = 1_000_000_000L;

    SwitchBed(Path dir, int ports, int mbufs, int ringCapacity, int tableCapacity, Duration age) {
        stats = StatsRegistry.open(dir.resolve("switch.stats"), 512);
        pool = Mbuf.createPool(mbufs);
        switchSide = new RingPort[ports];
        hosts = new RingPort[ports];
        for (int i = 0; i < ports; i++) {
            RingPort[] pair = RingPort.pair("sw" + i, "host" + i, 1, ringCapacity, pool, stats);
            switchSide[i] = pair[0];
            hosts[i] = pair[1];
        }
        sw = L2Switch.builder(stats).ports(List.of(switchSide)).macTableCapacity(tableCapacity).age(age)
                .clock(() -> now).build();
    }

    SwitchBed(Path dir, int ports) {
        this(dir, ports, 1024, 256, 64, Duration.ofSeconds(300));
    }

    static byte[] mac(int host) {
        return new byte[] {0x02, 0, 0, 0, 0, (byte) host};
    }

    static byte[] frame(byte[] dst, byte[] src, int seq) {
        byte[] f = new byte[60];
        System.arraycopy(dst, 0, f, 0, 6);
        System.arraycopy(src, 0, f, 6, 6);
        f[12] = 0x08;
        for (int i = 14; i < f.length; i++) {
            f[i] = (byte) (seq + i);
        }
        return f;
    }

    /** Host {@code port} sends {@code frame}; true if its ring took it. */
    boolean send(int port, byte[] frame) {
        long h = pool.alloc(null);
        if (h == Mempool.NO_HANDLE) {
            throw new IllegalStateException("test pool empty");
        }
        long off = pool.offset(h);
        MemorySegment.copy(frame, 0, pool.memory(), ValueLayout.JAVA_BYTE, Mbuf.data(off), frame.length);
        Mbuf.length(pool.memory(), off, frame.length);
        if (hosts[port].txBurst(0, new long[] {h}, 0, 1) == 1) {
            return true;
        }
        pool.free(null, h);
        return false;
    }

    /** Sends a frame from host {@code from} and runs the switch once. */
    void sendAndSwitch(int from, byte[] frame) {
        send(from, frame);
        sw.doWork();
    }

    /** Everything host {@code port} has received since the last call (buffers freed). */
    List<byte[]> received(int port) {
        List<byte[]> frames = new ArrayList<>();
        long[] burst = new long[32];
        int n;
        while ((n = hosts[port].rxBurst(0, burst, 0, burst.length)) > 0) {
            for (int i = 0; i < n; i++) {
                long off = pool.offset(burst[i]);
                frames.add(pool.memory().asSlice(Mbuf.data(off), Mbuf.length(pool.memory(), off))
                        .toArray(ValueLayout.JAVA_BYTE));
            }
            pool.freeBulk(null, burst, 0, n);
        }
        return frames;
    }

    /** Drains every host. */
    void drainAll() {
        for (int i = 0; i < hosts.length; i++) {
            received(i);
        }
    }

    @Override
    public void close() {
        sw.close();
        for (int i = 0; i < hosts.length; i++) {
            switchSide[i].close();
            hosts[i].close();
        }
        pool.close();
        stats.close();
    }
}

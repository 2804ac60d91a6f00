package io.ringway.net.device;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.VhostUserPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.VirtioFeatures;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A Ringway virtio-net back-end ({@link VirtioNetDevice} behind {@link VhostUserBackend}) and a
 * Ringway front-end acting as the guest driver, in one process; the test thread plays the port's
 * consumer and producer.
 */
final class NetTestBed implements AutoCloseable {
    static final int POOL_SIZE = 4096;
    static final long ALL_NET = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
            | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX)
            | VirtioFeatures.mask(VirtioFeatures.INDIRECT_DESC)
            | VirtioFeatures.mask(VirtioNetFeatures.MRG_RXBUF)
            | VirtioFeatures.mask(VirtioNetFeatures.MQ)
            | VirtioFeatures.mask(VirtioNetFeatures.STATUS)
            | VirtioFeatures.mask(VirtioNetFeatures.MTU)
            | VirtioFeatures.mask(VirtioNetFeatures.MAC)
            | VirtioFeatures.mask(VirtioNetFeatures.CTRL_VQ)
            | VirtioFeatures.mask(VirtioNetFeatures.CTRL_RX)
            | VirtioFeatures.mask(VirtioNetFeatures.CTRL_MAC_ADDR);

    final StatsRegistry stats;
    final Mempool pool;
    final VirtioNetDevice device;
    final VhostUserPort port;
    final VhostUserBackend backend;
    final Path socket;
    final Mempool.Cache cache;
    FrontendMemory memory;
    VhostUserFrontend frontend;
    final List<NetDriver> rx = new ArrayList<>();
    final List<NetDriver> tx = new ArrayList<>();
    NetDriver ctrl;

    NetTestBed(Path dir, Lcore lcore, int pairs) {
        this(dir, lcore, VirtioNetDevice.builder(Mbuf.createPool(POOL_SIZE)).queuePairs(pairs));
    }

    NetTestBed(Path dir, Lcore lcore, VirtioNetDevice.Builder builder) {
        this(dir, List.of(lcore), builder);
    }

    /** The device's vrings spread over {@code lcores} (queue pair k on lcore k % n, as the device groups them). */
    NetTestBed(Path dir, List<Lcore> lcores, VirtioNetDevice.Builder builder) {
        stats = StatsRegistry.open(dir.resolve("test.stats"), 1024);
        device = builder.stats(stats).build();
        pool = device.pool();
        cache = pool.createCache(64);
        port = new VhostUserPort("vhost0", device, stats);
        socket = dir.resolve("net.sock");
        backend = VhostUserBackend.builder(device, lcores).name("net-test").listen(socket);
    }

    /** Connects a front-end, negotiates {@code features} and sends the memory table. */
    long connect(long features) {
        memory = FrontendMemory.create("guest", NetDriver.MEMORY_SIZE);
        frontend = VhostUserFrontend.connect(socket, Duration.ofSeconds(5));
        long got = frontend.negotiate(features, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
        frontend.setMemTable(memory);
        return got;
    }

    /** Starts the queue pairs' vrings (and the control vring when {@code withControl}). */
    void startQueues(int pairs, int size, boolean withControl) {
        for (int k = 0; k < pairs; k++) {
            rx.add(new NetDriver(frontend, memory, 2 * k, size));
            tx.add(new NetDriver(frontend, memory, 2 * k + 1, size));
        }
        if (withControl) {
            boolean mq = VirtioFeatures.has(frontend.features(), VirtioNetFeatures.MQ);
            ctrl = new NetDriver(frontend, memory, mq ? 2 * device.maxQueuePairs() : 2, size);
        }
    }

    void disconnect() {
        rx.clear();
        tx.clear();
        ctrl = null;
        frontend.close();
        memory.close();
        frontend = null;
    }

    static byte[] frame(int seed, int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed * 131 + i * 7 + (i >>> 8));
        }
        return b;
    }

    /** An mbuf holding {@code frame}, allocated from the test thread's cache. */
    long mbuf(byte[] frame) {
        long h = pool.alloc(cache);
        if (h == Mempool.NO_HANDLE) {
            throw new AssertionError("pool empty");
        }
        long off = pool.offset(h);
        MemorySegment.copy(frame, 0, pool.memory(), ValueLayout.JAVA_BYTE, Mbuf.data(off), frame.length);
        Mbuf.length(pool.memory(), off, frame.length);
        return h;
    }

    byte[] contents(long handle) {
        long off = pool.offset(handle);
        int len = Mbuf.length(pool.memory(), off);
        return pool.memory().asSlice(Mbuf.data(off), len).toArray(ValueLayout.JAVA_BYTE);
    }

    static void waitFor(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    @Override
    public void close() {
        if (frontend != null) {
            disconnect();
        }
        backend.close();
        cache.close();
        port.close();
        device.close();
        pool.close();
        stats.close();
    }
}

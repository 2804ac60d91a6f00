package io.ringway.vcpu.workload;

import java.nio.file.Path;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.virtio.VhostUserDevice;

/**
 * The {@code net-loop} workload: {@link NetLoopProgram} against a Ringway {@link VirtioNetDevice}
 * whose queue pair 0 is in loopback (what the guest transmits is delivered to its receive queue,
 * inside the device's own queue processing on its lcore), run by {@link DriverLoop}; or
 * ({@link #runVhost}) against any vhost-user-net back-end that sends every frame back unchanged on
 * the same port ({@code ringway net --mode io} with one socket).
 */
public final class NetLoopWorkload {
    private static final int POOL_SIZE = 1024;

    private NetLoopWorkload() {
    }

    /**
     * Guest transmit back to guest receive, on the lcore, without a copy of ours. Public so that the
     * host-side comparison ({@code vm run --guest net-loop --vs host}) serves the same device.
     */
    public static final class Loopback implements VirtioNetDevice.LocalStream, AutoCloseable {
        private final VirtioNetDevice device;
        private final Mempool pool;
        private final Mempool.Cache cache;
        long dropped;

        /** Attach with {@code device.attachLocal(pair, loopback)} before the device is served. */
        public Loopback(VirtioNetDevice device) {
            this.device = device;
            this.pool = device.pool();
            this.cache = pool.createCache(2 * VirtioNetDevice.BURST);
        }

        @Override
        public void fromGuest(int pair, long[] packets, int n) {
            int sent = device.deliverLocal(pair, packets, 0, n);
            if (sent < n) {
                pool.freeBulk(cache, packets, sent, n - sent);
                dropped += n - sent;
            }
        }

        @Override
        public int beforeReceive(int pair) {
            return 0;
        }

        /** Frames dropped because the receive queue had no room. */
        public long dropped() {
            return dropped;
        }

        @Override
        public void close() {
            cache.close();
        }
    }

    /** virtio 1.2, 5.1: device ID 1; receiveq1 and transmitq1. */
    private static final int VIRTIO_NET_ID = 1;
    private static final int QUEUES = 2;
    private static final int MAX_QUEUE_SIZE = 256;

    /**
     * Runs the workload against the vhost-user-net back-end listening on {@code socket}, which must
     * loop every frame back unchanged on the same queue pair (a frame that comes back altered, e.g.
     * by macswap, fails the guest's compare). Kicks reach the back-end through the ioeventfd and its
     * completions reach the guest through the irqfd, neither through this process. The guest
     * acknowledges VERSION_1 only: no mergeable buffers, no offloads, split rings.
     */
    public static DriverLoop.Result runVhost(Kvm kvm, Path socket, DriverLoop.Options o) {
        DriverProgram program = NetLoopProgram.build(MicroGuest.MMIO_BASE, o.dataBytes());
        try (VhostUserDevice device = VhostUserDevice.connect(socket, VIRTIO_NET_ID, QUEUES, MAX_QUEUE_SIZE)) {
            return DriverLoop.run(kvm, device, program, o, 0);
        }
    }

    /**
     * The device the guest drives: one queue pair, no mergeable buffers, split rings (the host-side
     * comparison serves the same kind).
     */
    public static VirtioNetDevice loopbackDevice(Mempool pool, String name) {
        return VirtioNetDevice.builder(pool).name(name).queuePairs(1).mergeableRxBuffers(false).packedRing(false).build();
    }

    /** Mbufs in the loopback device's pool. */
    public static Mempool createPool() {
        return Mbuf.createPool(POOL_SIZE);
    }

    /** Runs the workload with frames of {@code o.dataBytes()} bytes. */
    public static DriverLoop.Result run(Kvm kvm, DriverLoop.Options o) {
        DriverProgram program = NetLoopProgram.build(MicroGuest.MMIO_BASE, o.dataBytes());
        try (Mempool pool = createPool();
             VirtioNetDevice device = loopbackDevice(pool, "vm-net0")) {
            Loopback loop = new Loopback(device);
            try {
                device.attachLocal(0, loop); // before the transport serves the device
                return DriverLoop.run(kvm, device, program, o, 0);
            } finally {
                loop.close();
            }
        }
    }
}

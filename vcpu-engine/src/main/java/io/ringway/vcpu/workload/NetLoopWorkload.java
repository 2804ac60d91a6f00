package io.ringway.vcpu.workload;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;

/**
 * The {@code net-loop} workload: {@link NetLoopProgram} against a Ringway {@link VirtioNetDevice}
 * whose queue pair 0 is in loopback (what the guest transmits is delivered to its receive queue,
 * inside the device's own queue processing on its lcore), run by {@link DriverLoop}.
 */
public final class NetLoopWorkload {
    private static final int POOL_SIZE = 1024;

    private NetLoopWorkload() {
    }

    /** Guest transmit back to guest receive, on the lcore, without a copy of ours. */
    static final class Loopback implements VirtioNetDevice.LocalStream {
        private final VirtioNetDevice device;
        private final Mempool pool;
        private final Mempool.Cache cache;
        long dropped;

        Loopback(VirtioNetDevice device) {
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

        void close() {
            cache.close();
        }
    }

    /** Runs the workload with frames of {@code o.dataBytes()} bytes. */
    public static DriverLoop.Result run(Kvm kvm, DriverLoop.Options o) {
        DriverProgram program = NetLoopProgram.build(MicroGuest.MMIO_BASE, o.dataBytes());
        try (Mempool pool = Mbuf.createPool(POOL_SIZE);
             VirtioNetDevice device = VirtioNetDevice.builder(pool).name("vm-net0").queuePairs(1)
                .mergeableRxBuffers(false).packedRing(false).build()) {
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

package io.ringway.net.device;

import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** virtio-net device behaviour with the Ringway front-end as the guest driver (virtio 1.2, 5.1). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VirtioNetDeviceTest {
    static final long PACKED = VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
    static final long MRG = VirtioFeatures.mask(VirtioNetFeatures.MRG_RXBUF);
    static Lcore lcore;

    @TempDir
    Path dir;

    @BeforeAll
    static void startLcore() {
        lcore = Lcore.builder("net-test").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void stopLcore() {
        lcore.close();
    }

    static long features(boolean packed, boolean mergeable) {
        long f = NetTestBed.ALL_NET | (packed ? PACKED : 0);
        return mergeable ? f : f & ~MRG;
    }

    static int length(int i) {
        return 1 + (i * 37) % 1514;
    }

    /**
     * Guest to device: every packet arrives at the port byte-exact and in order, whatever the
     * chain shape (header in its own descriptor or not); device to guest: every packet lands in
     * the guest's buffers byte-exact behind a zero header, merged over several buffers with
     * MRG_RXBUF (num_buffers), one buffer without.
     */
    @ParameterizedTest(name = "packed={0} mergeable={1} pairs={2}")
    @CsvSource({"false,false,1", "false,true,1", "true,false,1", "true,true,1", "false,true,2", "true,false,2"})
    void trafficBothWaysIsByteExact(boolean packed, boolean mergeable, int pairs) {
        int count = 3000;
        try (NetTestBed bed = new NetTestBed(dir, lcore, pairs)) {
            long got = bed.connect(features(packed, mergeable));
            assertEquals(packed, VirtioFeatures.has(got, VirtioFeatures.RING_PACKED));
            assertEquals(mergeable, VirtioFeatures.has(got, VirtioNetFeatures.MRG_RXBUF));
            bed.startQueues(pairs, 256, false);
            for (int k = 0; k < pairs; k++) {
                guestToDevice(bed, k, count);
                deviceToGuest(bed, k, count, mergeable);
            }
            VirtioNetMetrics m = bed.device.metrics();
            assertEquals((long) count * pairs, m.txPackets.get());
            assertEquals((long) count * pairs, m.rxPackets.get());
            long bytes = 0;
            for (int i = 0; i < count; i++) {
                bytes += length(i);
            }
            assertEquals(bytes * pairs, m.txBytes.get());
            assertEquals(bytes * pairs, m.rxBytes.get());
            assertEquals((long) count * pairs, bed.port.counters().rxPackets.get());
            assertEquals((long) count * pairs, bed.port.counters().txPackets.get());
            assertEquals(0, m.rxDropBufferTooSmall.get() + m.txDropShortHeader.get() + m.txDropOversize.get());
            NetTestBed.waitFor("every buffer back in the pool", () -> bed.pool.available() == NetTestBed.POOL_SIZE);
        }
    }

    private static void guestToDevice(NetTestBed bed, int pair, int count) {
        NetDriver tx = bed.tx.get(pair);
        long[] burst = new long[32];
        int sent = 0;
        int received = 0;
        long deadline = System.currentTimeMillis() + 30_000;
        while (received < count) {
            boolean posted = false;
            while (sent < count && tx.postPacket(NetTestBed.frame(sent, length(sent)), sent % 3 == 0) >= 0) {
                sent++;
                posted = true;
            }
            if (posted) {
                tx.publish();
            }
            while (tx.pollUsed() != null) {
                // the device returns transmit buffers with used length 0
            }
            int n = bed.port.rxBurst(pair, burst, 0, burst.length);
            for (int i = 0; i < n; i++) {
                byte[] want = NetTestBed.frame(received, length(received));
                assertArrayEquals(want, bed.contents(burst[i]), "pair " + pair + " packet " + received);
                assertEquals(pair, bed.pool.memory().get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED,
                        bed.pool.offset(burst[i]) + io.ringway.net.packet.MbufDescriptor.QUEUE_OFFSET));
                received++;
            }
            bed.pool.freeBulk(bed.cache, burst, 0, n);
            assertTrue(System.currentTimeMillis() < deadline, received + " of " + count + " packets arrived");
        }
    }

    private static void deviceToGuest(NetTestBed bed, int pair, int count, boolean mergeable) {
        NetDriver rx = bed.rx.get(pair);
        // Mergeable: 512-byte buffers, so a full frame takes three. Otherwise two 1024-byte pieces per chain.
        int sent = 0;
        int received = 0;
        ArrayDeque<Long> waiting = new ArrayDeque<>();
        long[] one = new long[1];
        long deadline = System.currentTimeMillis() + 30_000;
        while (received < count) {
            boolean posted = false;
            while ((mergeable ? rx.postReceive(512, 1) : rx.postReceive(1024, 2)) >= 0) {
                posted = true;
            }
            if (posted) {
                rx.publish();
            }
            while (sent < count && waiting.size() < 64) {
                waiting.add(bed.mbuf(NetTestBed.frame(sent, length(sent))));
                sent++;
            }
            while (!waiting.isEmpty()) {
                one[0] = waiting.peek();
                if (bed.port.txBurst(pair, one, 0, 1) == 0) {
                    break;
                }
                waiting.poll();
            }
            NetDriver.Used peek;
            while (received < sent - waiting.size()) {
                NetDriver.Received r = rx.receive(10_000);
                byte[] want = NetTestBed.frame(received, length(received));
                assertArrayEquals(want, r.frame(), "pair " + pair + " packet " + received);
                int expectBuffers = mergeable ? (12 + want.length + 511) / 512 : 1;
                assertEquals(expectBuffers, r.numBuffers(), "num_buffers of packet " + received);
                assertArrayEquals(new byte[10], Arrays.copyOf(r.header(), 10),
                        "flags, gso_type, hdr_len, gso_size, csum_* stay zero without offloads");
                received++;
                if (rx.numFree() > rx.size / 2) {
                    break;
                }
            }
            assertTrue(System.currentTimeMillis() < deadline, received + " of " + count + " packets received");
        }
    }

    @Test
    void configSpaceHasMacStatusPairsAndMtu() {
        byte[] mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
        try (NetTestBed bed = new NetTestBed(dir, lcore,
                VirtioNetDevice.builder(Mbuf.createPool(NetTestBed.POOL_SIZE)).queuePairs(3).mac(mac).mtu(1900))) {
            bed.connect(features(false, true));
            byte[] config = bed.frontend.getConfig(0, VirtioNetConfigDescriptor.LENGTH);
            assertArrayEquals(mac, Arrays.copyOf(config, 6));
            assertEquals(VirtioNetConfigDescriptor.S_LINK_UP, config[6] & 0xff, "VIRTIO_NET_S_LINK_UP");
            assertEquals(3, config[8] & 0xff | (config[9] & 0xff) << 8, "max_virtqueue_pairs");
            assertEquals(1900, config[10] & 0xff | (config[11] & 0xff) << 8, "mtu");
            assertEquals(3, bed.frontend.getQueueNum(), "GET_QUEUE_NUM counts queue pairs");
            bed.frontend.netSetMtu(1400);
            assertEquals(1400, bed.device.mtu());
        }
    }

    @Test
    void deviceOffersTheNetFeaturesAndWithholdsOffloads() {
        try (NetTestBed bed = new NetTestBed(dir, lcore, 1)) {
            long offered = bed.device.deviceFeatures();
            for (int bit : new int[] {VirtioFeatures.VERSION_1, VirtioFeatures.EVENT_IDX, VirtioFeatures.RING_PACKED,
                    VirtioNetFeatures.MRG_RXBUF, VirtioNetFeatures.MQ, VirtioNetFeatures.STATUS, VirtioNetFeatures.MTU,
                    VirtioNetFeatures.MAC, VirtioNetFeatures.CTRL_VQ}) {
                assertTrue(VirtioFeatures.has(offered, bit), "offers bit " + bit);
            }
            for (int bit : new int[] {VirtioNetFeatures.CSUM, VirtioNetFeatures.GUEST_CSUM, VirtioNetFeatures.GUEST_TSO4,
                    VirtioNetFeatures.HOST_TSO4, VirtioNetFeatures.CTRL_VLAN, VirtioNetFeatures.GUEST_ANNOUNCE}) {
                assertTrue(!VirtioFeatures.has(offered, bit), "does not offer bit " + bit);
            }
            assertEquals(3, bed.device.queueCount(), "one pair and the control queue");
        }
    }
}

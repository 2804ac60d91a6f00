package io.ringway.net.device;

import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryRegion;
import io.ringway.vhost.virtio.SplitQueue;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link VirtioNetDevice#receiveDirect} on a device driven directly (no vhost-user session): the
 * rules a switch relies on when it writes frames from another device's buffers.
 */
class ReceiveDirectTest {
    private static final long FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
            | VirtioFeatures.mask(VirtioNetFeatures.MRG_RXBUF);
    private static final int HDR = VirtioNetHeaderDescriptor.LENGTH;

    @TempDir
    Path dir;

    /** A device with its receiveq and transmitq activated over one region of memory, split rings of 16. */
    private static final class Bed implements AutoCloseable {
        final Arena arena = Arena.ofShared();
        final MemorySegment ram = arena.allocate(1 << 20, 4096);
        final GuestMemory memory = GuestMemory.of(GuestMemoryRegion.of(0, ram));
        final Mempool pool = Mbuf.createPool(64);
        final DriverSplitQueue rx = new DriverSplitQueue(memory, 16, 0x1000, 0x2000, 0x3000, FEATURES);
        final DriverSplitQueue tx = new DriverSplitQueue(memory, 16, 0x4000, 0x5000, 0x6000, FEATURES);
        final VirtioNetDevice device;

        Bed(StatsRegistry stats) {
            device = VirtioNetDevice.builder(pool).stats(stats).build();
            SplitQueue rq = new SplitQueue(16);
            rq.activate(memory, rx.config(FEATURES));
            SplitQueue tq = new SplitQueue(16);
            tq.activate(memory, tx.config(FEATURES));
            device.activate(FEATURES, memory, List.of(rq, tq));
        }

        void postReceive(long addr, int len) {
            rx.add(new long[] {addr}, new int[] {len}, new boolean[] {true}, 1);
            rx.publish();
        }

        @Override
        public void close() {
            device.close();
            pool.close();
            arena.close();
        }
    }

    /** Not polled on this lcore (the back-end never said so): nothing is written, the frame must take packet buffers. */
    @Test
    void aReceiveqNotPolledHereIsNeverWritten() throws Exception {
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("s.stats"), 256); Bed bed = new Bed(stats)) {
            VirtioNetDevice d = bed.device;
            bed.postReceive(0x10000, 2048);
            MemorySegment frame = bed.arena.allocate(64);
            assertEquals(-1, d.receiveDirect(0, frame, 0, 64), "vring not polled here");
            d.vringPolling(0, true);
            assertEquals(1, d.receiveDirect(0, frame, 0, 64), "polled: written");
            d.publishDirect(0);
            assertEquals(HDR + 64, (int) bed.rx.pollUsed());
            d.vringPolling(0, false);
            bed.postReceive(0x10000, 2048);
            assertEquals(-1, d.receiveDirect(0, frame, 0, 64), "its poller stopped");
        }
    }

    /**
     * With MRG_RXBUF a receive buffer too small for the frame is kept as the first buffer of the
     * next (merged) packet, which then comes as a packet buffer. If the memory table changes first,
     * the kept buffer is returned empty and no packet buffer is freed or counted (none was waiting);
     * the queue goes on.
     */
    @Test
    void aKeptBufferWithNoPacketWaitingIsReturnedOnAMemoryTableChange() throws Exception {
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("s.stats"), 256); Bed bed = new Bed(stats)) {
            VirtioNetDevice d = bed.device;
            d.vringPolling(0, true);
            bed.postReceive(0x10000, 16);
            MemorySegment frame = bed.arena.allocate(64);
            for (int i = 0; i < 64; i++) {
                frame.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 5 + 1));
            }
            assertEquals(-1, d.receiveDirect(0, frame, 0, 64), "16 bytes cannot hold header + frame: kept");
            d.publishDirect(0);
            d.memoryTableChanged(bed.memory, new int[] {0, 1});
            assertEquals(0, d.metrics().rxDropReset.get(), "no packet was waiting, none dropped");
            assertEquals(0, (int) bed.rx.pollUsed(), "the kept buffer comes back empty");
            bed.postReceive(0x20000, 2048);
            assertEquals(1, d.receiveDirect(0, frame, 0, 64), "the queue goes on");
            d.publishDirect(0);
            assertEquals(HDR + 64, (int) bed.rx.pollUsed());
            assertArrayEquals(frame.toArray(ValueLayout.JAVA_BYTE),
                    bed.ram.asSlice(0x20000 + HDR, 64).toArray(ValueLayout.JAVA_BYTE));
        }
    }
}

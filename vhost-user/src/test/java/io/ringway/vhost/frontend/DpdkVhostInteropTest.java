package io.ringway.vhost.frontend;

import io.ringway.runtime.sys.EventFd;
import io.ringway.vhost.protocol.VhostUserProtocolFeature;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ringway's front-end against DPDK's vhost PMD ({@code dpdk-testpmd --vdev net_vhost0,...} in rxonly
 * mode): negotiation, memory table, two vrings, and 10000 packets on the guest TX queue (vring 1)
 * consumed by testpmd. Skips when dpdk-testpmd or hugepages are missing.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DpdkVhostInteropTest {
    static final Path TESTPMD = Path.of("/usr/bin/dpdk-testpmd");
    static final int NET_HDR = 12; // virtio_net_hdr with num_buffers (VERSION_1)
    static final int FRAME = 60;

    @TempDir
    Path dir;

    static long hugepages() {
        try {
            return Long.parseLong(Files.readString(Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")).trim());
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }

    @Test
    void frontendSendsPacketsToDpdkVhostPmd() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(TESTPMD), "dpdk-testpmd is not installed (apt-get install dpdk)");
        Assumptions.assumeTrue(hugepages() > 0, "no hugepages for dpdk-testpmd: echo 512 > /proc/sys/vm/nr_hugepages");
        Assumptions.assumeTrue(Files.isDirectory(Path.of("/dev/hugepages")),
                "hugetlbfs is not mounted: mount -t hugetlbfs none /dev/hugepages");
        Path socket = dir.resolve("vhost-net.sock");
        String prefix = "ringway" + ProcessHandle.current().pid();
        Process testpmd = new ProcessBuilder(TESTPMD.toString(), "--no-pci", "--single-file-segments",
                "--iova-mode=va", "--huge-dir=/dev/hugepages", "--file-prefix=" + prefix, "-l", "0-1", "-m", "256",
                "--vdev", "net_vhost0,iface=" + socket + ",queues=1", "--", "--forward-mode=rxonly")
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("testpmd.log").toFile())
                .start(); // stdin stays open: testpmd runs until it closes
        try (FrontendMemory mem = FrontendMemory.create("guest", 16L << 20);
             EventFd kick0 = EventFd.create(true); EventFd call0 = EventFd.create(true);
             EventFd kick1 = EventFd.create(true); EventFd call1 = EventFd.create(true)) {
            VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(30));
            try {
                long wanted = VirtioFeatures.mask(VirtioFeatures.VERSION_1) | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);
                long features = f.negotiate(wanted, VhostUserProtocolFeature.maskOf(EnumSet.of(
                        VhostUserProtocolFeature.MQ, VhostUserProtocolFeature.REPLY_ACK)));
                assertEquals(wanted, features & wanted, "DPDK offers VERSION_1 and EVENT_IDX");
                f.setMemTable(mem);
                GuestMemory g = mem.guestMemory();
                DriverSplitQueue rx = new DriverSplitQueue(g, 256, 0x10_0000, 0x14_0000, 0x18_0000, features);
                DriverSplitQueue tx = new DriverSplitQueue(g, 256, 0x20_0000, 0x24_0000, 0x28_0000, features);
                f.startVring(0, mem, rx.config(features), 0, kick0.fd(), call0.fd());
                f.startVring(1, mem, tx.config(features), 0, kick1.fd(), call1.fd());

                long[] addr = new long[1];
                int[] len = {NET_HDR + FRAME};
                boolean[] writable = {false};
                int total = 10_000;
                int sent = 0;
                int done = 0;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (done < total) {
                    boolean posted = false;
                    while (sent < total && tx.numFree() > 0) {
                        long buffer = 0x80_0000L + (long) (sent % 256) * 128;
                        MemorySegment packet = g.sliceGpa(buffer, NET_HDR + FRAME);
                        packet.fill((byte) 0);
                        for (int i = 0; i < 6; i++) {
                            packet.set(ValueLayout.JAVA_BYTE, NET_HDR + i, (byte) 0xff); // broadcast
                        }
                        packet.set(ValueLayout.JAVA_BYTE, NET_HDR + 12, (byte) 0x88);
                        packet.set(ValueLayout.JAVA_BYTE, NET_HDR + 13, (byte) 0xb5); // local experimental ethertype
                        packet.set(ValueLayout.JAVA_INT_UNALIGNED, NET_HDR + 14, sent);
                        addr[0] = buffer;
                        if (tx.add(addr, len, writable, 1) < 0) {
                            break;
                        }
                        sent++;
                        posted = true;
                    }
                    if (posted) {
                        tx.publish();
                        if (tx.needsKick()) {
                            kick1.signal();
                        }
                    }
                    while (tx.pollUsed() >= 0) {
                        done++;
                    }
                    assertTrue(System.nanoTime() < deadline, "testpmd consumed " + done + " of " + total + " packets");
                    Thread.onSpinWait();
                }
                f.stopVring(0);
                int base = f.stopVring(1);
                assertEquals(total & 0xffff, base, "DPDK's GET_VRING_BASE is the next available index");
            } finally {
                f.close();
            }
        } finally {
            testpmd.getOutputStream().close();
            if (!testpmd.waitFor(20, TimeUnit.SECONDS)) {
                testpmd.destroyForcibly();
                testpmd.waitFor(10, TimeUnit.SECONDS);
            }
            // DPDK leaves its hugepage files behind (--huge-unlink refuses --single-file-segments).
            try (var files = Files.newDirectoryStream(Path.of("/dev/hugepages"), prefix + "map_*")) {
                for (Path f : files) {
                    Files.deleteIfExists(f);
                }
            }
        }
        String log = Files.readString(dir.resolve("testpmd.log"));
        assertTrue(log.contains("RX-packets: 10000") || log.contains("RX-packets:10000") || log.contains("10000"),
                "testpmd counted the packets:\n" + log);
    }
}

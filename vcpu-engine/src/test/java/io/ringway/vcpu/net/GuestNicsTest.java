package io.ringway.vcpu.net;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.net.device.VirtioNetFeatures;
import io.ringway.net.device.VirtioNetHeaderDescriptor;
import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.l2switch.MacTable;
import io.ringway.net.port.HostNet;
import io.ringway.runtime.poll.Poller;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryRegion;
import io.ringway.vhost.virtio.SplitQueue;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The NICs {@code vm boot --net} builds, without KVM: the in-process devices are activated on split
 * queues in test memory and processed on the net lcore by a stand-in for the transport.
 */
class GuestNicsTest {
    private static final String MAC_A = "52:54:00:31:00:0a";
    private static final String MAC_B = "52:54:00:31:00:0b";
    private static final long FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1) | VirtioFeatures.mask(VirtioNetFeatures.MAC);
    private static final int QSIZE = 64;

    @TempDir
    Path dir;
    StatsRegistry stats;
    Arena arena;

    @BeforeEach
    void setUp() {
        stats = StatsRegistry.open(dir.resolve("t.stats"), 512);
        arena = Arena.ofShared();
    }

    @AfterEach
    void tearDown() {
        arena.close();
        stats.close();
    }

    private static List<NicSpec> specs(String... args) {
        List<NicSpec> out = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            out.add(NicSpec.parse(args[i], i, 4242));
        }
        return out;
    }

    @Test
    void switchNicsJoinOneSwitchAndEachDeviceShowsItsOwnMac() {
        try (GuestNics g = GuestNics.create(specs("switch,mac=" + MAC_A, "switch,mac=" + MAC_B), -1, stats)) {
            assertEquals(2, g.nics().size());
            assertEquals(2, g.l2switch().ports().size());
            assertTrue(g.lcore().isRunning());
            assertArrayEquals(HexFormat.ofDelimiter(":").parseHex(MAC_A), g.nics().get(0).device().readConfig(0, 6));
            assertArrayEquals(HexFormat.ofDelimiter(":").parseHex(MAC_B), g.nics().get(1).device().readConfig(0, 6));
            assertTrue(VirtioFeatures.has(g.nics().get(0).device().deviceFeatures(), VirtioNetFeatures.MAC));
            assertTrue(g.nics().get(0).inProcess());
        }
    }

    @Test
    void twoNicsWithOneMacAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> GuestNics.create(specs("switch,mac=" + MAC_A, "switch,mac=" + MAC_A), -1, stats));
        assertTrue(e.getMessage().contains(MAC_A), e.getMessage());
    }

    @Test
    void twoNicsOnOneTapAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> GuestNics.create(specs("tap:rwx0", "tap:rwx0"), -1, stats));
        assertTrue(e.getMessage().contains("rwx0"), e.getMessage());
    }

    @Test
    void aFrameFromOneSwitchNicReachesTheOtherAndTheReplyComesBack() throws Exception {
        try (GuestNics g = GuestNics.create(specs("switch,mac=" + MAC_A, "switch,mac=" + MAC_B), -1, stats)) {
            MemorySegment ram = arena.allocate(4 << 20, 4096);
            GuestMemory mem = GuestMemory.of(GuestMemoryRegion.of(0, ram));
            Guest a = new Guest(mem, 0, (VirtioNetDevice) g.nics().get(0).device());
            Guest b = new Guest(mem, 1, (VirtioNetDevice) g.nics().get(1).device());
            Poller transport = new Poller() {
                @Override
                public int doWork() {
                    return a.device.process(0) + a.device.process(1) + b.device.process(0) + b.device.process(1);
                }

                @Override
                public String name() {
                    return "test-transport";
                }
            };
            g.lcore().addPoller(transport).get(10, TimeUnit.SECONDS);
            b.postReceive();
            a.postReceive();
            byte[] toB = frame(MAC_B, MAC_A, 60);
            a.send(toB);
            assertArrayEquals(toB, b.receive(), "B gets A's frame (flooded: B's address was not known yet)");
            byte[] toA = frame(MAC_A, MAC_B, 98);
            b.send(toA);
            assertArrayEquals(toA, a.receive(), "A gets B's reply (forwarded: A's address was learned)");
            g.lcore().removePoller(transport).get(10, TimeUnit.SECONDS);
            assertEquals(0, g.l2switch().macTable().lookup(mac(MAC_A), System.nanoTime()));
            assertEquals(1, g.l2switch().macTable().lookup(mac(MAC_B), System.nanoTime()));
            assertEquals(1, g.l2switch().counters(0).flooded.get());
            assertEquals(0, g.l2switch().counters(1).flooded.get());
            assertEquals(1, g.l2switch().counters(1).tx.get());
            assertEquals(1, g.l2switch().counters(0).tx.get());
            List<String> report = g.report();
            assertTrue(report.get(0).contains("guest sent 1, guest received 1"), report.toString());
        }
    }

    /**
     * A tap NIC in a namespace of the test's own: the host's ping to the guest's address sends an ARP
     * request through the tap to the guest; the guest's ARP reply goes back through it, the host
     * learns the guest's MAC and sends the ICMP echo request, which the guest receives.
     */
    @Test
    void aTapNicCarriesTheHostsArpToTheGuestAndTheGuestsReplyBack() throws Exception {
        HostNet.assumeNamespacesAllowed();
        String tap = HostNet.uniqueName("rwg", 1);
        String ns = HostNet.uniqueName("rwgns", 1);
        try (HostNet host = new HostNet();
             GuestNics g = GuestNics.create(specs("tap:" + tap + ",mac=" + MAC_A), -1, stats)) {
            host.addNamespace(ns);
            HostNet.moveAndConfigure(ns, tap, "10.217.0.1/24");
            MemorySegment ram = arena.allocate(2 << 20, 4096);
            GuestMemory mem = GuestMemory.of(GuestMemoryRegion.of(0, ram));
            Guest a = new Guest(mem, 0, (VirtioNetDevice) g.nics().get(0).device());
            Poller transport = new Poller() {
                @Override
                public int doWork() {
                    return a.device.process(0) + a.device.process(1);
                }

                @Override
                public String name() {
                    return "test-transport";
                }
            };
            g.lcore().addPoller(transport).get(10, TimeUnit.SECONDS);
            List<String> command = new java.util.ArrayList<>(List.of("ip", "netns", "exec", ns));
            command.addAll(List.of(HostNet.pingCommand()));
            command.add("10.217.0.2");
            Process ping = new ProcessBuilder(command).redirectErrorStream(true).start();
            try {
                byte[] arp = null;
                for (int i = 0; i < 5 && arp == null; i++) { // IPv6 router solicitations and the like may come first
                    a.postReceive();
                    byte[] f = a.receive();
                    if ((f[12] & 0xff) == 0x08 && f[13] == 0x06 && f[41] == 2) { // ARP, target 10.217.0.2
                        arp = f;
                    }
                }
                assertTrue(arp != null, "the host's ARP request for 10.217.0.2 reached the guest");
                byte[] hostMac = java.util.Arrays.copyOfRange(arp, 6, 12);
                a.postReceive();
                a.send(arpReply(hostMac));
                byte[] echo = null;
                for (int i = 0; i < 5 && echo == null; i++) {
                    byte[] f = i == 0 ? a.receive() : receiveAgain(a);
                    if (f[12] == 0x08 && f[13] == 0x00 && f[23] == 1) { // IPv4, ICMP
                        echo = f;
                    }
                }
                assertTrue(echo != null, "the host learned the guest's MAC from its ARP reply and sent the echo request");
                assertArrayEquals(HexFormat.ofDelimiter(":").parseHex(MAC_A), java.util.Arrays.copyOfRange(echo, 0, 6));
            } finally {
                ping.destroy();
                ping.waitFor(5, TimeUnit.SECONDS);
            }
            g.lcore().removePoller(transport).get(10, TimeUnit.SECONDS);
            // the tap's view: what it took from the kernel (ARP request, echo request ...) and gave it (the ARP reply)
            assertEquals(1, g.taps().get(0).counters().txPackets.get(), "tap " + g.taps().get(0).counters());
            assertTrue(g.taps().get(0).counters().rxPackets.get() >= 2, "tap " + g.taps().get(0).counters());
        }
    }

    private static byte[] receiveAgain(Guest a) throws InterruptedException {
        a.postReceive();
        return a.receive();
    }

    /** 10.217.0.2 is at MAC_A (RFC 826 reply to the host's 10.217.0.1). */
    private static byte[] arpReply(byte[] hostMac) {
        byte[] f = new byte[60];
        byte[] me = HexFormat.ofDelimiter(":").parseHex(MAC_A);
        System.arraycopy(hostMac, 0, f, 0, 6);
        System.arraycopy(me, 0, f, 6, 6);
        f[12] = 0x08;
        f[13] = 0x06;
        byte[] arp = {0, 1, 8, 0, 6, 4, 0, 2};
        System.arraycopy(arp, 0, f, 14, 8);
        System.arraycopy(me, 0, f, 22, 6);
        System.arraycopy(new byte[] {10, (byte) 217, 0, 2}, 0, f, 28, 4);
        System.arraycopy(hostMac, 0, f, 32, 6);
        System.arraycopy(new byte[] {10, (byte) 217, 0, 1}, 0, f, 38, 4);
        return f;
    }

    @Test
    void aVhostNicKeepsItsMacHereAndOffersNoControlQueue() {
        Path sock = dir.resolve("sw.sock");
        ForwardingEngine.Config config = ForwardingEngine.Config.of(List.of(sock), ForwardingMode.SWITCH, stats);
        try (ForwardingEngine sw = ForwardingEngine.start(config);
             GuestNics g = GuestNics.create(specs("vhost:" + sock + ",mac=" + MAC_A), -1, stats)) {
            GuestNics.Nic nic = g.nics().get(0);
            assertFalse(nic.inProcess());
            assertNull(g.lcore(), "no in-process NIC, no lcore");
            assertArrayEquals(HexFormat.ofDelimiter(":").parseHex(MAC_A), nic.device().readConfig(0, 6));
            long f = nic.device().deviceFeatures();
            assertTrue(VirtioFeatures.has(f, VirtioNetFeatures.MAC));
            assertTrue(VirtioFeatures.has(f, VirtioFeatures.VERSION_1));
            assertFalse(VirtioFeatures.has(f, VirtioNetFeatures.CTRL_VQ), "no control queue behind a vhost-user NIC");
            assertFalse(VirtioFeatures.has(f, VirtioNetFeatures.MQ));
            assertEquals(2, nic.device().queueCount());
            assertTrue(g.report().get(0).contains("vhost:" + sock), g.report().toString());
        }
    }

    @Test
    void aVhostNicWhoseBackEndDiedStopsWithoutThrowingAndRefusesToStartAgain() throws Exception {
        Path sock = dir.resolve("dies.sock");
        ForwardingEngine.Config config = ForwardingEngine.Config.of(List.of(sock), ForwardingMode.SWITCH, stats);
        ForwardingEngine sw = ForwardingEngine.start(config);
        boolean swClosed = false;
        try (GuestNics g = GuestNics.create(specs("vhost:" + sock), -1, stats);
             io.ringway.runtime.mem.SharedRegion ram = io.ringway.runtime.mem.SharedRegion.create("t-guest", 2 << 20);
             io.ringway.runtime.sys.EventFd kick = io.ringway.runtime.sys.EventFd.create(true);
             io.ringway.runtime.sys.EventFd call = io.ringway.runtime.sys.EventFd.create(true)) {
            VhostUserNetDevice nic = (VhostUserNetDevice) g.nics().get(0).device();
            GuestMemory mem = GuestMemory.of(GuestMemoryRegion.of(0, ram.segment()));
            List<io.ringway.vcpu.kvm.Vm.MemorySlot> slots = List.of(new io.ringway.vcpu.kvm.Vm.MemorySlot(0, 0, ram));
            List<io.ringway.vhost.virtio.QueueConfig> rings = List.of(
                new DriverSplitQueue(mem, QSIZE, 0, 0x1000, 0x2000, FEATURES).config(FEATURES),
                new DriverSplitQueue(mem, QSIZE, 0x4000, 0x5000, 0x6000, FEATURES).config(FEATURES));
            int[] kicks = {kick.fd(), kick.fd()};
            int[] calls = {call.fd(), call.fd()};
            nic.start(FEATURES, slots, rings, kicks, calls);
            sw.close(); // the back-end dies with its rings running
            swClosed = true;
            nic.stop(); // the guest resets its NIC: must not throw into the vCPU thread
            assertThrows(RuntimeException.class, () -> nic.start(FEATURES, slots, rings, kicks, calls),
                "rings cannot start on a dead back-end (the transport then refuses the device by name)");
            nic.reset();
        } finally {
            if (!swClosed) {
                sw.close();
            }
        }
    }

    @Test
    void aVhostNicWithoutBackEndFailsNamingTheSocket() {
        Path sock = dir.resolve("nobody.sock");
        RuntimeException e = assertThrows(RuntimeException.class, () -> GuestNics.create(specs("vhost:" + sock), -1, stats));
        assertTrue(String.valueOf(e.getMessage()).contains("nobody.sock"), String.valueOf(e.getMessage()));
    }

    private static long mac(String text) {
        return MacTable.mac(HexFormat.ofDelimiter(":").parseHex(text));
    }

    private static byte[] frame(String dst, String src, int length) {
        byte[] f = new byte[length];
        System.arraycopy(HexFormat.ofDelimiter(":").parseHex(dst), 0, f, 0, 6);
        System.arraycopy(HexFormat.ofDelimiter(":").parseHex(src), 0, f, 6, 6);
        f[12] = 0x08;
        for (int i = 14; i < length; i++) {
            f[i] = (byte) (i * 7);
        }
        return f;
    }

    /** The driver side of one NIC: receiveq and transmitq in test memory (1 MiB per NIC). */
    private static final class Guest {
        final GuestMemory mem;
        final VirtioNetDevice device;
        final DriverSplitQueue rx;
        final DriverSplitQueue tx;
        final long buffers;
        final int header = VirtioNetHeaderDescriptor.length(FEATURES);

        Guest(GuestMemory mem, int index, VirtioNetDevice device) {
            this.mem = mem;
            this.device = device;
            long base = index * 0x10_0000L;
            rx = new DriverSplitQueue(mem, QSIZE, base, base + 0x1000, base + 0x2000, FEATURES);
            tx = new DriverSplitQueue(mem, QSIZE, base + 0x4000, base + 0x5000, base + 0x6000, FEATURES);
            buffers = base + 0x8_0000;
            SplitQueue r = new SplitQueue(QSIZE);
            r.activate(mem, rx.config(FEATURES));
            SplitQueue t = new SplitQueue(QSIZE);
            t.activate(mem, tx.config(FEATURES));
            device.activate(FEATURES, mem, List.<Virtqueue>of(r, t));
        }

        void postReceive() {
            rx.add(new long[] {buffers}, new int[] {2048}, new boolean[] {true}, 1);
            rx.publish();
        }

        void send(byte[] frame) {
            long at = buffers + 0x1000;
            MemorySegment s = mem.sliceGpa(at, header + frame.length);
            s.fill((byte) 0);
            MemorySegment.copy(frame, 0, s, ValueLayout.JAVA_BYTE, header, frame.length);
            tx.add(new long[] {at}, new int[] {header + frame.length}, new boolean[] {false}, 1);
            tx.publish();
        }

        byte[] receive() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            long used;
            while ((used = rx.pollUsed()) < 0) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no frame within 10 s");
                }
                Thread.sleep(1);
            }
            int len = (int) used;
            return mem.sliceGpa(buffers + header, len - header).toArray(ValueLayout.JAVA_BYTE);
        }
    }
}

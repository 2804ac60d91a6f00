package io.ringway.net.device;

import io.ringway.net.forward.ForwardingEngine;
import io.ringway.net.forward.ForwardingMode;
import io.ringway.net.port.HostNet;
import io.ringway.net.port.TapPort;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * io mode between a vhost-user port and a tap ({@code ringway net --mode io --port tap:NAME}): a
 * guest's ARP request goes out of the tap into a namespace of the test's own, and the kernel's ARP
 * reply comes back to the guest.
 */
class IoTapForwardingTest {
    private static final byte[] GUEST_MAC = {0x02, 0x52, 0x57, 0, 0, 0x0a};
    private static final byte[] GUEST_IP = {10, (byte) 213, 5, 2};
    private static final byte[] HOST_IP = {10, (byte) 213, 5, 1};

    @TempDir
    Path dir;

    /** An ARP request (RFC 826) from the guest for {@code target}, padded to 60 bytes. */
    static byte[] arpRequest(byte[] target) {
        ByteBuffer b = ByteBuffer.allocate(60);
        b.put(new byte[] {-1, -1, -1, -1, -1, -1}).put(GUEST_MAC).putShort((short) 0x0806);
        b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.put(GUEST_MAC).put(GUEST_IP).put(new byte[6]).put(target);
        return b.array();
    }

    static boolean isArpReplyTo(byte[] f) {
        if (f.length < 42 || f[12] != 0x08 || f[13] != 0x06 || f[20] != 0 || f[21] != 2) {
            return false;
        }
        for (int i = 0; i < 6; i++) {
            if (f[i] != GUEST_MAC[i]) {
                return false;
            }
        }
        for (int i = 0; i < 4; i++) {
            if (f[28 + i] != HOST_IP[i] || f[38 + i] != GUEST_IP[i]) {
                return false;
            }
        }
        return true;
    }

    @Test
    void guestArpThroughTheTapIsAnsweredByTheNamespace() throws Exception {
        HostNet.assumeNamespacesAllowed();
        String ns = HostNet.uniqueName("rwio", 1);
        String tap = HostNet.uniqueName("rwio", 2);
        Path socket = dir.resolve("io.sock");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("io.stats"), 512);
             HostNet host = new HostNet();
             ForwardingEngine engine = ForwardingEngine.start(new ForwardingEngine.Config(List.of(socket), false, 1,
                     ForwardingMode.IO, new int[] {-1}, IdlePolicy.backoff(), 64, 4096, false, false, stats),
                     new ForwardingEngine.Attachments(List.of(tap), null));
             FrontendMemory mem = FrontendMemory.create("guest", NetDriver.MEMORY_SIZE);
             VhostUserFrontend f = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
            host.addNamespace(ns);
            HostNet.moveAndConfigure(ns, tap, "10.213.5.1/24");
            f.negotiate(NetTestBed.ALL_NET, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
            f.setMemTable(mem);
            NetDriver rx = new NetDriver(f, mem, 0, 256);
            NetDriver tx = new NetDriver(f, mem, 1, 256);
            for (int i = 0; i < 200; i++) {
                assertTrue(rx.postReceive(2048, 1) >= 0);
            }
            rx.publish();
            assertTrue(tx.postPacket(arpRequest(HOST_IP), false) >= 0);
            tx.publish();
            // The guest may also see the namespace's own IPv6 chatter first.
            boolean answered = false;
            for (int i = 0; i < 50 && !answered; i++) {
                answered = isArpReplyTo(rx.receive(10_000).frame());
            }
            assertTrue(answered, "the namespace answered the guest's ARP request through the tap");
            TapPort t = engine.taps().get(0);
            assertEquals(1, t.counters().txPackets.get(), "the ARP request went out of the tap: " + t);
            assertTrue(t.counters().rxPackets.get() >= 1, t.toString());
            assertEquals(1, engine.ports().get(0).counters().rxPackets.get(), "vhost0 took the guest's frame");
            assertTrue(engine.ports().get(0).counters().txPackets.get() >= 1, "the reply left through vhost0");
            assertEquals(0, t.ioErrors(), "no tap read or write failed");
        }
    }
}

package io.ringway.net.port;

import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.LinuxException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** TapPort's error paths, each with the message that names the problem, and its device lifetime. */
class TapPortTest {
    @TempDir
    Path dir;

    private StatsRegistry stats;
    private Mempool pool;

    @BeforeEach
    void setUp() {
        stats = StatsRegistry.open(dir.resolve("tap.stats"), 256);
        pool = Mbuf.createPool(256);
    }

    @AfterEach
    void tearDown() {
        assertEquals(pool.count(), pool.available(), "every buffer back in the pool");
        pool.close();
        stats.close();
    }

    @Test
    void nameLongerThanIfnamsizIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TapPort.open("a-name-of-16-byt", pool, stats, 0));
        assertTrue(e.getMessage().contains("too long") && e.getMessage().contains("16 bytes"), e.getMessage());
    }

    @Test
    void emptyNameAndInvalidCharactersAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> TapPort.open("", pool, stats, 0));
        for (String bad : new String[] {"a/b", "a b", "a:1", "..", "tap\u00e9"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TapPort.open(bad, pool, stats, 0),
                    bad);
            assertTrue(e.getMessage().contains(bad), e.getMessage());
        }
    }

    @Test
    void missingTunDeviceSaysSo() {
        TapException e = assertThrows(TapException.class,
                () -> TapPort.open(dir.resolve("no-tun").toString(), "rwtap0", pool, stats, 0));
        assertEquals(TapException.Reason.NO_TUN_DEVICE, e.reason());
        assertTrue(e.getMessage().startsWith("no " + dir.resolve("no-tun")), e.getMessage());
        assertTrue(e.getMessage().contains("modprobe tun"), e.getMessage());
    }

    @Test
    void missingCapabilityIsNamed() {
        // What TUNSETIFF returns without CAP_NET_ADMIN; a real unprivileged run is not possible as root.
        TapException e = TapException.attachFailed("rwtap0", new LinuxException("ioctl", "fd=3, request=0x400454ca", Errno.EPERM));
        assertEquals(TapException.Reason.NO_PERMISSION, e.reason());
        assertTrue(e.getMessage().contains("CAP_NET_ADMIN"), e.getMessage());
        TapException open = TapException.openFailed("/dev/net/tun", new LinuxException("open", "path=/dev/net/tun", Errno.EACCES));
        assertEquals(TapException.Reason.NO_PERMISSION, open.reason());
    }

    @Test
    void withoutCapNetAdminCreatingATapIsRefusedWithThatReason() throws Exception {
        HostNet.assumeTapAllowed();
        Path setpriv = Path.of("/usr/bin/setpriv");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(setpriv),
                "no setpriv (util-linux) to drop CAP_NET_ADMIN for the child process");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(setpriv.toString(), "--bounding-set", "-net_admin",
                "--inh-caps", "-net_admin", java, "--enable-native-access=ALL-UNNAMED",
                "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                TapOpenProbe.class.getName(), HostNet.uniqueName("rwp", 0)));
        HostNet.Result r = HostNet.exec(120, command.toArray(String[]::new));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("REASON NO_PERMISSION"), r.output());
        assertTrue(r.output().contains("CAP_NET_ADMIN"), r.output());
    }

    @Test
    void secondOpenOfAnAttachedTapIsBusy() {
        HostNet.assumeTapAllowed();
        String name = HostNet.uniqueName("rwb", 0);
        try (TapPort first = TapPort.open(name, pool, stats, 0)) {
            TapException e = assertThrows(TapException.class, () -> TapPort.open(name, pool, stats, 1));
            assertEquals(TapException.Reason.BUSY, e.reason());
            assertTrue(e.getMessage().contains(name) && e.getMessage().contains("busy"), e.getMessage());
            assertTrue(first.fd() >= 0);
        }
    }

    @Test
    void anInterfaceThatIsNotATapIsRefused() {
        HostNet.assumeTapAllowed();
        TapException e = assertThrows(TapException.class, () -> TapPort.open("lo", pool, stats, 0));
        assertEquals(TapException.Reason.NOT_A_TAP, e.reason());
        assertTrue(e.getMessage().contains("lo"), e.getMessage());
    }

    @Test
    void closingRemovesTheDevice() {
        HostNet.assumeTapAllowed();
        String name = HostNet.uniqueName("rwc", 0);
        TapPort tap = TapPort.open(name, pool, stats, 0);
        assertEquals(name, tap.name());
        assertTrue(HostNet.interfaceExists(name), "the tap exists while open");
        tap.close();
        assertFalse(HostNet.interfaceExists(name), "a non-persistent tap goes away with its fd");
        tap.close(); // idempotent
    }

    @Test
    void kernelChosenNumberIsReported() {
        HostNet.assumeTapAllowed();
        try (TapPort tap = TapPort.open("rwk" + ProcessHandle.current().pid() % 10000 + "n%d", pool, stats, 0)) {
            assertFalse(tap.name().contains("%"), tap.name());
            assertTrue(HostNet.interfaceExists(tap.name()), tap.name());
        }
    }

    @Test
    void idleDownTapReceivesNothingAndShortFramesAreDroppedOnSend() {
        HostNet.assumeTapAllowed();
        try (TapPort tap = TapPort.open(HostNet.uniqueName("rwi", 0), pool, stats, 0)) {
            long[] burst = new long[32];
            assertEquals(0, tap.rxBurst(0, burst, 0, 32));
            long h = pool.alloc(null);
            Mbuf.length(pool.memory(), pool.offset(h), 10); // shorter than an Ethernet header
            burst[0] = h;
            assertEquals(1, tap.txBurst(0, burst, 0, 1), "taken (and freed)");
            assertEquals(1, tap.counters().txDrops.get());
            assertEquals(0, tap.counters().txPackets.get());
            assertEquals(0, tap.ioErrors(), "refused before the write");
        }
    }
}

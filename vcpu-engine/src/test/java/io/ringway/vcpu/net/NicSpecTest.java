package io.ringway.vcpu.net;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NicSpecTest {
    @Test
    void switchTapAndVhostParseWithTheirTargets() {
        assertEquals(NicSpec.Kind.SWITCH, NicSpec.parse("switch", 0, 1).kind());
        NicSpec tap = NicSpec.parse("tap:rw0", 1, 1);
        assertEquals(NicSpec.Kind.TAP, tap.kind());
        assertEquals("rw0", tap.target());
        NicSpec vhost = NicSpec.parse("vhost:/tmp/a.sock", 2, 1);
        assertEquals(NicSpec.Kind.VHOST, vhost.kind());
        assertEquals(Path.of("/tmp/a.sock"), vhost.socket());
    }

    @Test
    void macOptionSetsTheAddress() {
        NicSpec s = NicSpec.parse("tap:rw0,mac=52:54:00:12:34:56", 0, 99);
        assertArrayEquals(new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, s.mac());
        assertEquals("52:54:00:12:34:56", s.macText());
        assertEquals("52:54:00:ab:cd:ef", NicSpec.parse("vhost:/s,mac=52:54:00:AB:CD:EF", 0, 1).macText());
    }

    @Test
    void defaultMacIsLocallyAdministeredUnicastFromPidAndIndex() {
        NicSpec a = NicSpec.parse("switch", 0, 0x12_3456);
        NicSpec b = NicSpec.parse("switch", 1, 0x12_3456);
        NicSpec other = NicSpec.parse("switch", 0, 0x12_3457);
        assertEquals("52:54:12:34:56:00", a.macText());
        assertEquals("52:54:12:34:56:01", b.macText());
        assertEquals("52:54:12:34:57:00", other.macText());
        assertEquals(0x02, a.mac()[0] & 0x03, "locally administered (bit 1) and unicast (bit 0 clear)");
    }

    @Test
    void unknownKindIsRefusedNamingTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("loop", 0, 1));
        assertTrue(e.getMessage().contains("switch, tap:NAME or vhost:SOCK"), e.getMessage());
    }

    @Test
    void emptyOrOverlongTapNameIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("tap:", 0, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("tap:0123456789abcdef", 0, 1));
        assertTrue(e.getMessage().contains("1..15"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("tap:a/b", 0, 1));
    }

    @Test
    void vhostWithoutSocketIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("vhost:", 0, 1));
        assertTrue(e.getMessage().contains("socket"), e.getMessage());
    }

    @Test
    void malformedMacIsRefusedWithTheExpectedForm() {
        for (String bad : new String[] {"52:54:00:12:34", "52:54:00:12:34:5g", "525400123456", "52-54-00-12-34-56", "52:54:00:12:34:56:78"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("switch,mac=" + bad, 0, 1), bad);
            assertTrue(e.getMessage().contains("52:54:00:12:34:56"), e.getMessage());
        }
    }

    @Test
    void multicastOrZeroMacIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("switch,mac=01:00:5e:00:00:01", 0, 1));
        assertTrue(e.getMessage().contains("multicast"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("switch,mac=00:00:00:00:00:00", 0, 1));
    }

    @Test
    void unknownOrRepeatedOptionIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("switch,queues=2", 0, 1));
        assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("switch,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02", 0, 1));
    }

    @Test
    void moreThan256NicsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> NicSpec.parse("switch", 256, 1));
    }
}

package io.ringway.net.device;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The control virtqueue (virtio 1.2, 5.1.6.5): one test per command rule. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ControlQueueTest {
    static Lcore lcore;

    @TempDir
    Path dir;

    @BeforeAll
    static void startLcore() {
        lcore = Lcore.builder("ctrl-test").idlePolicy(IdlePolicy.backoff()).start();
    }

    @AfterAll
    static void stopLcore() {
        lcore.close();
    }

    /** Sends one command and returns the ack byte the device wrote. */
    static int command(NetTestBed bed, int cls, int cmd, byte[] data) {
        byte[] content = new byte[2 + data.length];
        content[0] = (byte) cls;
        content[1] = (byte) cmd;
        System.arraycopy(data, 0, content, 2, data.length);
        NetDriver c = bed.ctrl;
        int slot = c.post(new int[] {content.length, 1}, new boolean[] {false, true}, content);
        assertTrue(slot >= 0);
        c.publish();
        NetDriver.Used used = c.awaitUsed(1, 10_000).get(0);
        assertEquals(1, used.len(), "the device writes the one ack byte");
        return c.read(used.slot(), content.length + 1)[content.length];
    }

    static NetTestBed open(Path dir, int pairs, long features) {
        NetTestBed bed = new NetTestBed(dir, lcore, pairs);
        bed.connect(features);
        bed.startQueues(1, 64, true);
        return bed;
    }

    static byte[] macTable(int unicast, int multicast) {
        ByteBuffer b = ByteBuffer.allocate(8 + 6 * (unicast + multicast)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(unicast);
        b.put(new byte[6 * unicast]);
        b.putInt(multicast);
        b.put(new byte[6 * multicast]);
        return b.array();
    }

    @Test
    void rxModeCommandsSetPromiscuousAndAllMulticast() {
        try (NetTestBed bed = open(dir, 1, NetTestBed.ALL_NET)) {
            assertEquals(ControlCommand.OK, command(bed, ControlCommand.CLASS_RX, ControlCommand.RX_PROMISC, new byte[] {1}));
            assertEquals(ControlCommand.OK, command(bed, ControlCommand.CLASS_RX, ControlCommand.RX_ALLMULTI, new byte[] {1}));
            assertTrue(bed.device.promiscuous());
            assertTrue(bed.device.allMulticast());
            assertEquals(ControlCommand.OK, command(bed, ControlCommand.CLASS_RX, ControlCommand.RX_PROMISC, new byte[] {0}));
            assertFalse(bed.device.promiscuous());
            assertEquals(3, bed.device.metrics().ctrlOk.get());
        }
    }

    @Test
    void rxModeCommandWithoutCtrlRxIsErr() {
        try (NetTestBed bed = open(dir, 1, NetTestBed.ALL_NET & ~(1L << VirtioNetFeatures.CTRL_RX))) {
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_RX, ControlCommand.RX_PROMISC, new byte[] {1}));
            assertFalse(bed.device.promiscuous());
        }
    }

    @Test
    void macTableSetAcceptsTablesThatFillTheDataExactly() {
        try (NetTestBed bed = open(dir, 1, NetTestBed.ALL_NET)) {
            assertEquals(ControlCommand.OK, command(bed, ControlCommand.CLASS_MAC, ControlCommand.MAC_TABLE_SET, macTable(1, 2)));
            assertEquals(1, bed.device.unicastFilterEntries());
            assertEquals(2, bed.device.multicastFilterEntries());
            byte[] shortTable = java.util.Arrays.copyOf(macTable(1, 2), 8 + 6 * 3 - 1);
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MAC, ControlCommand.MAC_TABLE_SET, shortTable));
            byte[] trailing = java.util.Arrays.copyOf(macTable(0, 0), 9);
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MAC, ControlCommand.MAC_TABLE_SET, trailing));
            byte[] huge = macTable(0, 0);
            huge[0] = (byte) 0xff;
            huge[3] = (byte) 0x7f;
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MAC, ControlCommand.MAC_TABLE_SET, huge));
        }
    }

    @Test
    void macAddrSetChangesTheMacInConfigSpace() {
        byte[] mac = {0x02, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e};
        try (NetTestBed bed = open(dir, 1, NetTestBed.ALL_NET)) {
            assertEquals(ControlCommand.OK, command(bed, ControlCommand.CLASS_MAC, ControlCommand.MAC_ADDR_SET, mac));
            assertArrayEquals(mac, bed.device.mac());
            assertArrayEquals(mac, java.util.Arrays.copyOf(bed.frontend.getConfig(0, 12), 6));
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MAC, ControlCommand.MAC_ADDR_SET, new byte[5]));
        }
    }

    @Test
    void vqPairsSetWithinMaxVirtqueuePairsIsOk() {
        try (NetTestBed bed = open(dir, 2, NetTestBed.ALL_NET)) {
            assertEquals(ControlCommand.OK, command(bed, ControlCommand.CLASS_MQ, ControlCommand.MQ_VQ_PAIRS_SET, new byte[] {2, 0}));
            assertEquals(2, bed.device.activeQueuePairs());
        }
    }

    @Test
    void vqPairsSetAboveWhatWasNegotiatedIsErr() {
        try (NetTestBed bed = open(dir, 2, NetTestBed.ALL_NET)) {
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MQ, ControlCommand.MQ_VQ_PAIRS_SET, new byte[] {3, 0}));
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MQ, ControlCommand.MQ_VQ_PAIRS_SET, new byte[] {0, 0}));
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MQ, ControlCommand.MQ_VQ_PAIRS_SET, new byte[] {0, (byte) 0x80}));
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MQ, ControlCommand.MQ_VQ_PAIRS_SET, new byte[] {1}));
            assertEquals(1, bed.device.activeQueuePairs());
            assertEquals(4, bed.device.metrics().ctrlErr.get());
        }
    }

    @Test
    void vqPairsSetWithoutMqIsErrAndTheControlQueueIsQueueTwo() {
        try (NetTestBed bed = open(dir, 2, NetTestBed.ALL_NET & ~(1L << VirtioNetFeatures.MQ))) {
            assertEquals(2, bed.ctrl.index);
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MQ, ControlCommand.MQ_VQ_PAIRS_SET, new byte[] {1, 0}));
        }
    }

    @Test
    void unknownClassesAndCommandsAreErr() {
        try (NetTestBed bed = open(dir, 1, NetTestBed.ALL_NET)) {
            assertEquals(ControlCommand.ERR, command(bed, 0x77, 0, new byte[0]));
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_RX, 0x40, new byte[] {1}));
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_VLAN, 0, new byte[2]));
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_ANNOUNCE, ControlCommand.ANNOUNCE_ACK, new byte[0]));
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_GUEST_OFFLOADS, 0, new byte[8]));
            assertEquals(ControlCommand.ERR, command(bed, ControlCommand.CLASS_MAC, 9, new byte[6]));
            assertEquals(6, bed.device.metrics().ctrlErr.get());
        }
    }

    @Test
    void controlChainWithoutAckByteIsDroppedAndCounted() {
        try (NetTestBed bed = open(dir, 1, NetTestBed.ALL_NET)) {
            NetDriver c = bed.ctrl;
            assertTrue(c.post(new int[] {3}, new boolean[] {false}, new byte[] {0, 0, 1}) >= 0);
            c.publish();
            assertEquals(0, c.awaitUsed(1, 10_000).get(0).len());
            assertEquals(1, bed.device.metrics().ctrlDropMalformed.get());
            assertFalse(bed.device.promiscuous());
            // An ack buffer behind a zero-length writable element: the ack lands in the one with room.
            byte[] cmd = {ControlCommand.CLASS_RX, ControlCommand.RX_ALLMULTI, 1};
            int slot = c.post(new int[] {3, 0, 1}, new boolean[] {false, true, true}, cmd);
            c.publish();
            NetDriver.Used u = c.awaitUsed(1, 10_000).get(0);
            assertEquals(slot, u.slot());
            assertEquals(ControlCommand.OK, c.read(slot, 4)[3]);
            // The queue goes on.
            assertEquals(ControlCommand.OK, command(bed, ControlCommand.CLASS_RX, ControlCommand.RX_PROMISC, new byte[] {1}));
        }
    }
}

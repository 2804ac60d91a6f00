package io.ringway.net.device;

import io.ringway.vhost.virtio.DescriptorChain;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The control virtqueue (virtio 1.2, 5.1.6.5): each chain is {@code class, command, data}
 * (device-readable) and one ack byte (device-writable). Answers VIRTIO_NET_OK for the commands
 * Linux and DPDK send at start (RX mode, MAC table and address, MQ VQ_PAIRS_SET) when their
 * feature was negotiated and their data is well formed, and VIRTIO_NET_ERR for everything else.
 * A chain without room for the ack is returned with used length 0 and counted.
 *
 * <p>Lcore-owned; the state it sets is read by the control plane through volatile fields.
 */
final class ControlQueueHandler {
    /** The largest command (header + data) accepted; a MAC table of 340 entries fits. */
    static final int MAX_COMMAND = 4096;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final VirtioNetDevice device;
    private final VirtioNetMetrics metrics;
    private final DescriptorChain chain;
    private final MemorySegment command = Arena.ofAuto().allocate(MAX_COMMAND, 8);
    private final MemorySegment ack = Arena.ofAuto().allocate(1, 1);
    private Virtqueue queue;
    private long features;

    ControlQueueHandler(VirtioNetDevice device, VirtioNetMetrics metrics, int maxQueueSize) {
        this.device = device;
        this.metrics = metrics;
        this.chain = new DescriptorChain(maxQueueSize);
    }

    void activate(Virtqueue queue, long features) {
        this.queue = queue;
        this.features = features;
    }

    void reset() {
        queue = null;
    }

    int process() {
        Virtqueue q = queue;
        if (q == null) {
            return 0;
        }
        int done = 0;
        while (done < VirtioNetDevice.BURST && q.pop(chain)) {
            done++;
            if (chain.writableBytes() < 1) {
                q.pushUsed(chain, 0);
                metrics.ctrlDropMalformed.increment();
                continue;
            }
            int status = execute(chain);
            (status == ControlCommand.OK ? metrics.ctrlOk : metrics.ctrlErr).increment();
            ack.set(ValueLayout.JAVA_BYTE, 0, (byte) status);
            // The ack goes into the first writable element that has room (a zero-length one has none).
            int w = chain.readableCount();
            while (chain.lenUnsigned(w) == 0) {
                w++;
            }
            MemorySegment.copy(ack, 0, chain.segment(w), chain.offset(w), 1);
            q.pushUsed(chain, 1);
        }
        if (done > 0) {
            q.publishUsed();
            q.needsNotification();
        }
        return done;
    }

    private boolean has(int bit) {
        return VirtioFeatures.has(features, bit);
    }

    /** Copies the readable part once (the guest may rewrite it) and runs the command. */
    private int execute(DescriptorChain c) {
        long total = c.readableBytes();
        if (total < 2 || total > MAX_COMMAND) {
            return ControlCommand.ERR;
        }
        long at = 0;
        for (int i = 0; i < c.readableCount(); i++) {
            long l = c.lenUnsigned(i);
            MemorySegment.copy(c.segment(i), c.offset(i), command, at, l);
            at += l;
        }
        int cls = Byte.toUnsignedInt(command.get(ValueLayout.JAVA_BYTE, 0));
        int cmd = Byte.toUnsignedInt(command.get(ValueLayout.JAVA_BYTE, 1));
        int dataLength = (int) total - 2;
        return switch (cls) {
            case ControlCommand.CLASS_RX -> rxMode(cmd, dataLength);
            case ControlCommand.CLASS_MAC -> mac(cmd, dataLength);
            case ControlCommand.CLASS_MQ -> mq(cmd, dataLength);
            default -> ControlCommand.ERR;
        };
    }

    /** virtio 1.2, 5.1.6.5.1: one byte, 0 off, 1 on; PROMISC and ALLMULTI need CTRL_RX. */
    private int rxMode(int cmd, int dataLength) {
        if (!has(VirtioNetFeatures.CTRL_RX) || dataLength != 1 || cmd > ControlCommand.RX_ALLMULTI) {
            return ControlCommand.ERR;
        }
        boolean on = command.get(ValueLayout.JAVA_BYTE, 2) != 0;
        if (cmd == ControlCommand.RX_PROMISC) {
            device.promiscuous = on;
        } else {
            device.allMulticast = on;
        }
        return ControlCommand.OK;
    }

    /**
     * virtio 1.2, 5.1.6.5.2: TABLE_SET carries two tables (unicast, multicast), each a le32 count
     * followed by that many 6-byte addresses, filling the data exactly; ADDR_SET carries 6 bytes
     * and needs CTRL_MAC_ADDR.
     */
    private int mac(int cmd, int dataLength) {
        if (cmd == ControlCommand.MAC_ADDR_SET) {
            if (!has(VirtioNetFeatures.CTRL_MAC_ADDR) || dataLength != 6) {
                return ControlCommand.ERR;
            }
            byte[] mac = new byte[6];
            MemorySegment.copy(command, ValueLayout.JAVA_BYTE, 2, mac, 0, 6);
            device.setMacFromDriver(mac);
            return ControlCommand.OK;
        }
        if (cmd != ControlCommand.MAC_TABLE_SET || !has(VirtioNetFeatures.CTRL_RX)) {
            return ControlCommand.ERR;
        }
        long pos = 2;
        long end = 2L + dataLength;
        int[] entries = new int[2];
        for (int t = 0; t < 2; t++) {
            if (pos + 4 > end) {
                return ControlCommand.ERR;
            }
            long n = Integer.toUnsignedLong(command.get(U32, pos));
            pos += 4;
            if (n * 6 > end - pos) {
                return ControlCommand.ERR;
            }
            entries[t] = (int) n;
            pos += n * 6;
        }
        if (pos != end) {
            return ControlCommand.ERR;
        }
        device.unicastFilterEntries = entries[0];
        device.multicastFilterEntries = entries[1];
        return ControlCommand.OK;
    }

    /** virtio 1.2, 5.1.6.5.5: le16 pairs, 1 .. max_virtqueue_pairs, only with MQ. */
    private int mq(int cmd, int dataLength) {
        if (cmd != ControlCommand.MQ_VQ_PAIRS_SET || !has(VirtioNetFeatures.MQ) || dataLength != 2) {
            return ControlCommand.ERR;
        }
        int pairs = Short.toUnsignedInt(command.get(U16, 2));
        if (pairs < ControlCommand.MQ_VQ_PAIRS_MIN || pairs > device.maxQueuePairs()) {
            return ControlCommand.ERR;
        }
        device.activeQueuePairs = pairs;
        return ControlCommand.OK;
    }
}

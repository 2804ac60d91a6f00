package io.ringway.net.packet;

/**
 * Layout of one packet buffer (DPDK's {@code rte_mbuf} analogue): a {@link io.ringway.runtime.mem.Mempool}
 * element of {@value #BUFFER_SIZE} bytes, a small header followed by the packet bytes.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                     data length (bytes)                       |  0
 *  +-------------------------------+-------------------------------+
 *  |          input port           |          input queue          |  4
 *  +-------------------------------+-------------------------------+
 *  |                       reserved (56 bytes)                     |  8
 *  +---------------------------------------------------------------+
 *  |                 packet data ({@value #DATA_ROOM} bytes)            | 64
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * The packet is the Ethernet frame without the virtio-net header and without a CRC.
 */
public final class MbufDescriptor {
    private MbufDescriptor() {
    }

    /** Bytes per buffer (the mempool element size). */
    public static final int BUFFER_SIZE = 2048;
    /** Offset of the data length, a 32-bit int. */
    public static final int LENGTH_OFFSET = 0;
    /** Offset of the input port id, a 16-bit value. */
    public static final int PORT_OFFSET = 4;
    /** Offset of the input queue, a 16-bit value. */
    public static final int QUEUE_OFFSET = 6;
    /** Offset of the first packet byte (a cache line after the start). */
    public static final int DATA_OFFSET = 64;
    /** The most packet bytes a buffer holds. */
    public static final int DATA_ROOM = BUFFER_SIZE - DATA_OFFSET;
}

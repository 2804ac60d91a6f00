package io.ringway.net.capture;

/**
 * Layout of one captured packet, in the in-memory capture ring and in the Chronicle Queue journal.
 *
 * <p>In the ring (an Agrona {@code ManyToOneRingBuffer} record; its message type is the direction):
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  timestamp, ns since the epoch                |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                            port id                            |  8
 *  +---------------------------------------------------------------+
 *  |                  original length (bytes on the wire)          | 12
 *  +---------------------------------------------------------------+
 *  |             captured bytes (record length - 16)              ...| 16
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * <p>In the journal, one excerpt per packet, little-endian: version byte {@value #VERSION},
 * direction byte, port id (int), timestamp (long), original length (int), captured length (int),
 * captured bytes.
 */
public final class CaptureDescriptor {
    private CaptureDescriptor() {
    }

    /** Direction: the packet arrived at the port ({@code rxBurst}). */
    public static final int RX = 1;
    /** Direction: the packet was handed to the port to send ({@code txBurst}). */
    public static final int TX = 2;

    /** Offset of the timestamp in a ring record. */
    public static final int TIMESTAMP_OFFSET = 0;
    /** Offset of the port id in a ring record. */
    public static final int PORT_OFFSET = 8;
    /** Offset of the original length in a ring record. */
    public static final int ORIGINAL_LENGTH_OFFSET = 12;
    /** Offset of the captured bytes in a ring record. */
    public static final int DATA_OFFSET = 16;

    /** Journal excerpt format version. */
    public static final byte VERSION = 1;

    /** @return {@code "rx"} or {@code "tx"} */
    public static String directionName(int direction) {
        return switch (direction) {
            case RX -> "rx";
            case TX -> "tx";
            default -> "direction " + direction;
        };
    }
}

package io.ringway.net.capture;

/**
 * One captured packet, as read back from a journal.
 *
 * @param timestampNanos when it was captured, ns since the epoch
 * @param port           the port id given to the capture
 * @param direction      {@link CaptureDescriptor#RX} or {@link CaptureDescriptor#TX}
 * @param originalLength the packet's length
 * @param data           the captured bytes: the first {@code min(originalLength, snap length)}
 */
public record CaptureRecord(long timestampNanos, int port, int direction, int originalLength, byte[] data) {
}

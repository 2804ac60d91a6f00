package io.ringway.storage.bdev;

/**
 * Result codes of the block-device layer. A submit call returns {@link #OK} (accepted; a completion
 * follows), {@link #BUSY} (the channel is full: poll, then retry) or a rejection ({@link #OUT_OF_RANGE},
 * {@link #MISALIGNED}, {@link #READ_ONLY}, {@link #UNSUPPORTED}: no completion follows). A completion
 * carries {@link #OK} or {@link #IO_ERROR} / {@link #UNSUPPORTED}. Ints, not an enum, so the hot path
 * returns them without allocating or dereferencing.
 */
public final class BlockStatus {
    /** Submit: accepted. Completion: done. */
    public static final int OK = 0;
    /** Submit: the channel's queue is full; nothing was queued. */
    public static final int BUSY = 1;
    /** Completion: the backend failed the request. */
    public static final int IO_ERROR = 2;
    /** Submit: the range is outside the device (or overflows). */
    public static final int OUT_OF_RANGE = 3;
    /** Submit: offset or length is not a multiple of the block size. */
    public static final int MISALIGNED = 4;
    /** Submit: a write, discard or write-zeroes on a read-only device. */
    public static final int READ_ONLY = 5;
    /** Submit or completion: the backend does not do this kind of request. */
    public static final int UNSUPPORTED = 6;
    /** Submit: the scatter-gather list has more segments than the channel takes. */
    public static final int TOO_MANY_SEGMENTS = 7;

    private BlockStatus() {
    }

    /** @return the constant's name, for messages */
    public static String name(int status) {
        return switch (status) {
            case OK -> "OK";
            case BUSY -> "BUSY";
            case IO_ERROR -> "IO_ERROR";
            case OUT_OF_RANGE -> "OUT_OF_RANGE";
            case MISALIGNED -> "MISALIGNED";
            case READ_ONLY -> "READ_ONLY";
            case UNSUPPORTED -> "UNSUPPORTED";
            case TOO_MANY_SEGMENTS -> "TOO_MANY_SEGMENTS";
            default -> "status " + status;
        };
    }
}

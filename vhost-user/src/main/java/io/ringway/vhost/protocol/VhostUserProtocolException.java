package io.ringway.vhost.protocol;

import java.util.Objects;

/**
 * A message was rejected: it broke {@link #error()}. The connection that sent it should be stopped
 * with {@link #getMessage()} in the log.
 *
 * <p><b>Fd contract:</b> {@link #fdsToClose()} lists every fd that was received with the rejected
 * message. None of them has been used or closed; the caller must close each of them.
 */
public final class VhostUserProtocolException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient VhostUserProtocolError error;
    private final int[] fdsToClose;

    /**
     * A rejection of a message.
     *
     * @param error      the rule that was broken
     * @param fdsToClose every fd received with the message
     */
    public VhostUserProtocolException(VhostUserProtocolError error, int[] fdsToClose) {
        super(error.describe());
        this.error = Objects.requireNonNull(error, "error");
        this.fdsToClose = fdsToClose.clone();
    }

    /** The rule that was broken, with the offending values. */
    public VhostUserProtocolError error() {
        return error;
    }

    /** Every fd received with the rejected message; the caller must close them all. */
    public int[] fdsToClose() {
        return fdsToClose.clone();
    }
}

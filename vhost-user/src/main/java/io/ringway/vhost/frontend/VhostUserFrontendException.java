package io.ringway.vhost.frontend;

import java.io.Serial;

/**
 * The back-end failed a request (a non-zero REPLY_ACK status), sent a reply that does not answer the
 * request, or closed the connection.
 */
public final class VhostUserFrontendException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the request
     */
    public VhostUserFrontendException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, naming the request
     * @param cause   the underlying failure
     */
    public VhostUserFrontendException(String message, Throwable cause) {
        super(message, cause);
    }
}

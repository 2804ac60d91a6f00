package io.ringway.vhost.protocol;

/**
 * Internal carrier of a {@link VhostUserProtocolError} out of the payload readers and rules; the
 * codec turns it into a {@link VhostUserProtocolException} (decode) or an
 * {@link IllegalArgumentException} (encode). Never escapes the package.
 */
final class ProtocolViolation extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient VhostUserProtocolError error;

    ProtocolViolation(VhostUserProtocolError error) {
        super(error.describe(), null, false, false);
        this.error = error;
    }

    VhostUserProtocolError error() {
        return error;
    }
}

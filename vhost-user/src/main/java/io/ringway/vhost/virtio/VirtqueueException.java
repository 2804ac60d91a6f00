package io.ringway.vhost.virtio;

/**
 * Thrown on the control plane (queue activation) when a queue configuration breaks a rule. The
 * queue is left broken with the same {@link VirtqueueError} as its {@code brokenReason()}.
 */
public final class VirtqueueException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient VirtqueueError error;

    /** @param error the broken rule and its values */
    public VirtqueueException(VirtqueueError error) {
        super(error.message());
        this.error = error;
    }

    /** @return the broken rule and its values */
    public VirtqueueError error() {
        return error;
    }
}

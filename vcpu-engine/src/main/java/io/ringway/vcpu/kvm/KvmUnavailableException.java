package io.ringway.vcpu.kvm;

/**
 * KVM cannot be used here, with a one-line reason naming which part is missing: the device node,
 * the permission to open it, the API version, or a capability.
 */
public final class KvmUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public KvmUnavailableException(String message) {
        super(message);
    }
}

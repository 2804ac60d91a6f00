package io.ringway.vcpu.boot;

/**
 * A kernel (or initrd, or command line) that cannot be booted as given. The message is one line that
 * names the file and the rule it breaks, so a command line can print it as it is.
 */
public final class BadKernelException extends RuntimeException {
    public BadKernelException(String message) {
        super(message);
    }
}

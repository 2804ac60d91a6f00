package io.ringway.runtime.sys;

import java.io.Serial;

/**
 * A Linux system call or libc function failed; carries the call, the argument that matters and
 * the errno it failed with.
 *
 * <p>The message reads like {@code mmap(fd=7, length=4096) failed: EBADF (Bad file descriptor)}.
 */
public final class LinuxException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String call;
    private final String argument;
    private final int errno;
    private final String errnoName;

    /**
     * @param call     the function that failed, e.g. {@code "mmap"}
     * @param argument the argument(s) that explain the failure, e.g. {@code "fd=7, length=4096"}
     * @param errno    the errno value captured right after the call
     */
    public LinuxException(String call, String argument, int errno) {
        this(call, argument, errno, Errno.name(errno), Errno.description(errno));
    }

    private LinuxException(String call, String argument, int errno, String errnoName, String description) {
        super(call + "(" + argument + ") failed: " + errnoName + " (" + description + ")");
        this.call = call;
        this.argument = argument;
        this.errno = errno;
        this.errnoName = errnoName;
    }

    /** The function that failed, e.g. {@code "mmap"}. */
    public String call() {
        return call;
    }

    /** The argument(s) that matter for the failure, e.g. {@code "fd=7, length=4096"}. */
    public String argument() {
        return argument;
    }

    /** The errno value, e.g. 9. */
    public int errno() {
        return errno;
    }

    /** The symbolic errno name, e.g. {@code "EBADF"}. */
    public String errnoName() {
        return errnoName;
    }
}

package io.ringway.net.port;

import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.LinuxException;

import java.io.Serial;

/**
 * A tap device could not be opened or created; {@link #reason()} says why, the message says what to
 * do about it, and the cause is the failed call ({@link LinuxException}).
 */
public final class TapException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** Why a tap could not be opened. */
    public enum Reason {
        /** {@code /dev/net/tun} does not exist (tun module not loaded, or no /dev/net in a container). */
        NO_TUN_DEVICE,
        /** The process may not open {@code /dev/net/tun} or lacks CAP_NET_ADMIN to create a tap. */
        NO_PERMISSION,
        /** Another file descriptor (this or another process) has the tap attached. */
        BUSY,
        /** An interface of that name exists and is not a tap (e.g. {@code lo}, or a tun-mode device). */
        NOT_A_TAP,
        /** Any other failure; see the cause. */
        OTHER
    }

    private final Reason reason;

    private TapException(Reason reason, String message, LinuxException cause) {
        super(message, cause);
        this.reason = reason;
    }

    /** @return why the tap could not be opened */
    public Reason reason() {
        return reason;
    }

    /** The failure of {@code open(2)} of the tun clone device at {@code path}. */
    static TapException openFailed(String path, LinuxException cause) {
        return switch (cause.errno()) {
            case Errno.ENOENT -> new TapException(Reason.NO_TUN_DEVICE, "no " + path
                    + ": the tun driver is not available (modprobe tun; in a container, pass the device in)", cause);
            case Errno.EACCES, Errno.EPERM -> new TapException(Reason.NO_PERMISSION, "no permission to open " + path
                    + " (" + cause.errnoName() + "): run as root or give the user access to the device", cause);
            default -> new TapException(Reason.OTHER, "cannot open " + path + ": " + cause.getMessage(), cause);
        };
    }

    /** The failure of the TUNSETIFF ioctl that creates or attaches tap {@code name}. */
    static TapException attachFailed(String name, LinuxException cause) {
        return switch (cause.errno()) {
            case Errno.EPERM, Errno.EACCES -> new TapException(Reason.NO_PERMISSION, "cannot create tap " + name
                    + ": CAP_NET_ADMIN is needed (" + cause.errnoName() + "; run as root or grant cap_net_admin)", cause);
            case Errno.EBUSY -> new TapException(Reason.BUSY, "tap " + name
                    + " is busy: another file descriptor has it attached (another process, or a tap of that name still open)",
                    cause);
            case Errno.EINVAL -> new TapException(Reason.NOT_A_TAP, "cannot attach tap " + name
                    + ": an interface of that name exists and is not a tap device (EINVAL)", cause);
            default -> new TapException(Reason.OTHER, "cannot create tap " + name + ": " + cause.getMessage(), cause);
        };
    }
}

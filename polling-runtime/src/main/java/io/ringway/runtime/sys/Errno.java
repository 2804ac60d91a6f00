package io.ringway.runtime.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * errno values used by Ringway, and their symbolic names and descriptions from libc.
 *
 * <p>Names and descriptions come from glibc's {@code strerrorname_np} and {@code strerrordesc_np}
 * (thread-safe and locale-independent, glibc 2.32+); on an older libc the name falls back to a
 * small table and the description to {@code strerror}.
 */
public final class Errno {
    /** Operation not permitted (e.g. a capability is missing). */
    public static final int EPERM = 1;
    /** No such file or directory. */
    public static final int ENOENT = 2;
    /** Interrupted system call. */
    public static final int EINTR = 4;
    /** Input/output error (e.g. a write to a tap whose interface is down). */
    public static final int EIO = 5;
    /** Bad file descriptor. */
    public static final int EBADF = 9;
    /** Resource temporarily unavailable (EWOULDBLOCK). */
    public static final int EAGAIN = 11;
    /** Cannot allocate memory. */
    public static final int ENOMEM = 12;
    /** Permission denied. */
    public static final int EACCES = 13;
    /** Device or resource busy. */
    public static final int EBUSY = 16;
    /** Invalid argument. */
    public static final int EINVAL = 22;
    /** Broken pipe. */
    public static final int EPIPE = 32;
    /** Operation not supported. */
    public static final int EOPNOTSUPP = 95;

    private static final MethodHandle NAME = find("strerrorname_np");
    private static final MethodHandle DESCRIPTION = find("strerrordesc_np");
    private static final MethodHandle STRERROR = find("strerror");

    private Errno() {
    }

    /** The symbolic name of an errno value, e.g. {@code "EBADF"} for 9. */
    public static String name(int errno) {
        String name = callString(NAME, errno);
        if (name != null) {
            return name;
        }
        return switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EINTR -> "EINTR";
            case EIO -> "EIO";
            case EBADF -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case ENOMEM -> "ENOMEM";
            case EACCES -> "EACCES";
            case EBUSY -> "EBUSY";
            case 14 -> "EFAULT";
            case 17 -> "EEXIST";
            case EINVAL -> "EINVAL";
            case 24 -> "EMFILE";
            case 28 -> "ENOSPC";
            case EPIPE -> "EPIPE";
            case 98 -> "EADDRINUSE";
            case 104 -> "ECONNRESET";
            case 111 -> "ECONNREFUSED";
            default -> "errno " + errno;
        };
    }

    /** The human description of an errno value, e.g. {@code "Bad file descriptor"}. */
    public static String description(int errno) {
        String text = callString(DESCRIPTION, errno);
        if (text == null) {
            text = callString(STRERROR, errno);
        }
        return text != null ? text : "unknown error " + errno;
    }

    @SuppressWarnings("restricted")
    private static MethodHandle find(String symbol) {
        Linker linker = Linker.nativeLinker();
        Optional<MemorySegment> address = linker.defaultLookup().find(symbol);
        return address.map(a -> linker.downcallHandle(a, FunctionDescriptor.of(ADDRESS, JAVA_INT))).orElse(null);
    }

    @SuppressWarnings("restricted")
    private static String callString(MethodHandle handle, int errno) {
        if (handle == null) {
            return null;
        }
        try {
            MemorySegment text = (MemorySegment) handle.invokeExact(errno);
            return text.equals(MemorySegment.NULL) ? null : text.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }
}

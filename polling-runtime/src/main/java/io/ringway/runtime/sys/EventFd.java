package io.ringway.runtime.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A Linux eventfd: a 64-bit counter in the kernel that one side adds to and the other reads and
 * resets; the notification primitive of vhost-user (kick and call fds) and of KVM (ioeventfd,
 * irqfd).
 *
 * <p>{@link #signal()} and {@link #read()} are hot-path calls and do not allocate. {@link #signal()}
 * and {@link #write(long)} may be called from several threads at once; {@link #read()} from one
 * consumer thread only.
 */
public final class EventFd implements AutoCloseable {
    /** eventfd flag: close on exec. */
    public static final int EFD_CLOEXEC = 0x80000;
    /** eventfd flag: read and write do not block. */
    public static final int EFD_NONBLOCK = 0x800;
    /** eventfd flag: each read returns 1 and decrements the counter by 1. */
    public static final int EFD_SEMAPHORE = 0x1;

    private static final long COUNTER_SIZE = Long.BYTES;
    /** The value 1, shared by all eventfds and never written after initialisation. */
    private static final MemorySegment ONE = Arena.global().allocate(COUNTER_SIZE, COUNTER_SIZE);
    private static final ThreadLocal<MemorySegment> WRITE_BUFFER =
        ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(COUNTER_SIZE, COUNTER_SIZE));

    static {
        ONE.set(JAVA_LONG, 0, 1L);
    }

    private final int fd;
    private final MemorySegment readBuffer = Arena.ofAuto().allocate(COUNTER_SIZE, COUNTER_SIZE);
    private final AtomicBoolean closed = new AtomicBoolean();

    private EventFd(int fd) {
        this.fd = fd;
    }

    /**
     * Creates an eventfd with counter 0, always close-on-exec.
     *
     * @param nonBlocking whether read and write return EAGAIN instead of blocking
     */
    public static EventFd create(boolean nonBlocking) {
        int flags = EFD_CLOEXEC | (nonBlocking ? EFD_NONBLOCK : 0);
        MemorySegment capture = LibC.capture();
        int result;
        try {
            result = (int) LibC.Eventfd.HANDLE.invokeExact(capture, 0, flags);
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
        if (result < 0) {
            throw new LinuxException("eventfd", "initval=0, flags=0x" + Integer.toHexString(flags), LibC.errno(capture));
        }
        return new EventFd(result);
    }

    /**
     * Adopts an eventfd received from elsewhere (e.g. over SCM_RIGHTS); {@link #close()} closes it.
     *
     * @param fd an open eventfd file descriptor
     */
    public static EventFd wrap(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("eventfd must be a non-negative file descriptor, got " + fd);
        }
        return new EventFd(fd);
    }

    /** The file descriptor. */
    public int fd() {
        return fd;
    }

    /** Adds 1 to the counter, waking a reader. Does not allocate; safe from several threads. */
    public void signal() {
        long result = LibC.tryWrite(fd, ONE, COUNTER_SIZE);
        if (result < 0) {
            throw new LinuxException("write", "eventfd=" + fd + ", value=1", (int) -result);
        }
    }

    /**
     * Adds {@code value} to the counter.
     *
     * @param value a value in [1, 2^64 - 2]; 0 is allowed and does nothing, -1 (0xffffffffffffffff) is rejected by the kernel
     */
    public void write(long value) {
        MemorySegment buffer = WRITE_BUFFER.get();
        buffer.set(JAVA_LONG, 0, value);
        long result = LibC.tryWrite(fd, buffer, COUNTER_SIZE);
        if (result < 0) {
            throw new LinuxException("write", "eventfd=" + fd + ", value=" + value, (int) -result);
        }
    }

    /**
     * Returns the counter and resets it to 0. A blocking eventfd waits for a non-zero counter; a
     * non-blocking one returns 0 when nothing is pending. Does not allocate; single consumer.
     */
    public long read() {
        while (true) {
            long result = LibC.tryRead(fd, readBuffer, COUNTER_SIZE);
            if (result == COUNTER_SIZE) {
                return readBuffer.get(JAVA_LONG, 0);
            }
            if (result == -Errno.EAGAIN) {
                return 0;
            }
            if (result != -Errno.EINTR) {
                throw new LinuxException("read", "eventfd=" + fd, result < 0 ? (int) -result : Errno.EINVAL);
            }
        }
    }

    /** Closes the fd; further calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.close(fd);
        }
    }

    @Override
    public String toString() {
        return "EventFd[fd=" + fd + "]";
    }
}

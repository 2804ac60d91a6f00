package io.ringway.runtime.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A Linux epoll instance with a preallocated buffer of ready events.
 *
 * <p>The event layout is x86-64's packed {@code struct epoll_event}, 12 bytes, so {@code data}
 * is not 8-byte aligned:
 * <pre>
 *   0               4                               12
 *   +---------------+-------------------------------+
 *   | events (u32)  | data (u64)                    |
 *   +---------------+-------------------------------+
 * </pre>
 * {@link #await(int)}, {@link #data(int)} and {@link #events(int)} do not allocate and are for one
 * thread; {@link #add}, {@link #modify} and {@link #remove} are control-plane calls.
 */
public final class Epoll implements AutoCloseable {
    // downcalls of this class only: made when it is first used, not in LibC's static initialiser (each
    // distinct signature spins classes, which a `vm boot` that never opens a socket should not pay for)
    private static final MethodHandle EPOLL_CREATE1 =
        LibC.downcall("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL =
        LibC.downcall("epoll_ctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT =
        LibC.downcall("epoll_wait", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));

    /** Readable. */
    public static final int EPOLLIN = 0x001;
    /** Urgent data readable. */
    public static final int EPOLLPRI = 0x002;
    /** Writable. */
    public static final int EPOLLOUT = 0x004;
    /** Error condition (always reported). */
    public static final int EPOLLERR = 0x008;
    /** Hang up (always reported). */
    public static final int EPOLLHUP = 0x010;
    /** Peer closed its writing half. */
    public static final int EPOLLRDHUP = 0x2000;
    /** Edge-triggered. */
    public static final int EPOLLET = 0x80000000;
    /** Disarm after one event until re-armed with {@link #modify}. */
    public static final int EPOLLONESHOT = 0x40000000;

    /** epoll_create1 flag: close on exec. */
    public static final int EPOLL_CLOEXEC = 0x80000;
    static final int EPOLL_CTL_ADD = 1;
    static final int EPOLL_CTL_DEL = 2;
    static final int EPOLL_CTL_MOD = 3;

    /** {@code struct epoll_event} on x86-64 (packed). */
    public static final StructLayout EVENT_LAYOUT = MemoryLayout.structLayout(
        JAVA_INT.withName("events"),
        JAVA_LONG_UNALIGNED.withName("data"));
    /** Size of one event, 12 bytes. */
    public static final long EVENT_SIZE = EVENT_LAYOUT.byteSize();
    /** Offset of {@code events}, 0. */
    public static final long EVENTS_OFFSET = EVENT_LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("events"));
    /** Offset of {@code data}, 4. */
    public static final long DATA_OFFSET = EVENT_LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("data"));

    private final int epfd;
    private final int maxEvents;
    private final MemorySegment ready;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Epoll(int epfd, int maxEvents) {
        this.epfd = epfd;
        this.maxEvents = maxEvents;
        this.ready = Arena.ofAuto().allocate(EVENT_SIZE * maxEvents, Long.BYTES);
    }

    /**
     * Creates a close-on-exec epoll instance.
     *
     * @param maxEvents how many ready events one {@link #await} can return; at least 1
     */
    public static Epoll create(int maxEvents) {
        if (maxEvents < 1) {
            throw new IllegalArgumentException("maxEvents must be at least 1, got " + maxEvents);
        }
        MemorySegment capture = LibC.capture();
        int result;
        try {
            result = (int) EPOLL_CREATE1.invokeExact(capture, EPOLL_CLOEXEC);
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
        if (result < 0) {
            throw new LinuxException("epoll_create1", "flags=EPOLL_CLOEXEC", LibC.errno(capture));
        }
        return new Epoll(result, maxEvents);
    }

    /** The epoll file descriptor. */
    public int fd() {
        return epfd;
    }

    /** Watches {@code fd} for {@code events} (EPOLLIN, ...); {@code data} comes back with each event. */
    public void add(int fd, int events, long data) {
        control(EPOLL_CTL_ADD, "epoll_ctl(ADD)", fd, events, data);
    }

    /** Changes the events and data of a watched fd. */
    public void modify(int fd, int events, long data) {
        control(EPOLL_CTL_MOD, "epoll_ctl(MOD)", fd, events, data);
    }

    /** Stops watching {@code fd}. */
    public void remove(int fd) {
        control(EPOLL_CTL_DEL, "epoll_ctl(DEL)", fd, 0, 0);
    }

    private void control(int op, String call, int fd, int events, long data) {
        MemorySegment capture = LibC.capture();
        int result;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment event = arena.allocate(EVENT_LAYOUT);
            event.set(JAVA_INT, EVENTS_OFFSET, events);
            event.set(JAVA_LONG_UNALIGNED, DATA_OFFSET, data);
            result = (int) EPOLL_CTL.invokeExact(capture, epfd, op, fd, event);
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
        if (result < 0) {
            throw new LinuxException(call, "epfd=" + epfd + ", fd=" + fd + ", events=0x" + Integer.toHexString(events),
                LibC.errno(capture));
        }
    }

    /**
     * Waits for events. Does not allocate.
     *
     * @param timeoutMillis how long to wait: 0 returns at once, -1 waits forever
     * @return the number of ready events, readable with {@link #data(int)} and {@link #events(int)};
     *         0 on timeout or when a signal interrupted the wait
     */
    public int await(int timeoutMillis) {
        MemorySegment capture = LibC.capture();
        int result;
        try {
            result = (int) EPOLL_WAIT.invokeExact(capture, epfd, ready, maxEvents, timeoutMillis);
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
        if (result < 0) {
            int errno = LibC.errno(capture);
            if (errno == Errno.EINTR) {
                return 0;
            }
            throw new LinuxException("epoll_wait", "epfd=" + epfd + ", maxevents=" + maxEvents, errno);
        }
        return result;
    }

    /** The {@code data} cookie of the i-th ready event of the last {@link #await}. */
    public long data(int i) {
        return ready.get(JAVA_LONG_UNALIGNED, i * EVENT_SIZE + DATA_OFFSET);
    }

    /** The event bits (EPOLLIN, EPOLLHUP, ...) of the i-th ready event of the last {@link #await}. */
    public int events(int i) {
        return ready.get(JAVA_INT, i * EVENT_SIZE + EVENTS_OFFSET);
    }

    /** The capacity of the ready-event buffer. */
    public int maxEvents() {
        return maxEvents;
    }

    /**
     * Closes the epoll fd; further calls do nothing. Watched fds are not closed. Closing does not
     * wake a thread blocked in {@link #await}: signal an eventfd it watches to stop it first.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.close(epfd);
        }
    }

    @Override
    public String toString() {
        return "Epoll[fd=" + epfd + "]";
    }
}

package io.ringway.net.port;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.packet.MbufDescriptor;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.FileIo;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;
import org.agrona.concurrent.status.AtomicCounter;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A port over a Linux tap device ({@code /dev/net/tun} with {@code IFF_TAP | IFF_NO_PI}), so that
 * host sockets and tools ({@code ping}, {@code tcpdump}, a network namespace) reach the data plane:
 * what the kernel sends out of the interface arrives at {@link #rxBurst}; what {@link #txBurst}
 * sends is received by the kernel on the interface.
 *
 * <p>One queue. The fd is non-blocking: a receive burst reads frames one {@code readv(2)} each until
 * the kernel has none ({@code EAGAIN}), up to {@code max}; a send burst writes one {@code writev(2)}
 * per frame and frees the buffers it sent. The receive side keeps one spare buffer between polls, so
 * an idle poll is one system call and no pool traffic. No allocation, lock or log per frame.
 *
 * <p>Frames longer than a packet buffer's {@link MbufDescriptor#DATA_ROOM} (an MTU above 1970) are
 * dropped and counted as {@code rx dropped}; so are frames that the kernel refuses on send (shorter
 * than an Ethernet header) or that the interface does not take because it is down ({@code EIO}), as
 * {@code tx dropped}. Other read or write failures (the interface was
 * deleted under us) count in {@code io errors}, with the last errno kept for diagnostics.
 *
 * <p>The device is not persistent: {@link #close()} removes it, wherever it is (moving it to another
 * network namespace with {@code ip link set NAME netns NS} keeps this fd working).
 */
public final class TapPort implements Port, AutoCloseable {
    /** Interface names are at most 15 bytes (IFNAMSIZ 16 with the terminating NUL). */
    public static final int MAX_NAME_LENGTH = 15;
    /** The tun clone device. */
    public static final String TUN_DEVICE = "/dev/net/tun";

    // <linux/if_tun.h>: TUNSETIFF = _IOW('T', 202, int)
    private static final long TUNSETIFF = 0x400454caL;
    private static final short IFF_TAP = 0x0002;
    private static final short IFF_NO_PI = 0x1000;
    // <linux/if.h>: struct ifreq is 40 bytes on x86-64: ifr_name[16], then the union (ifr_flags first).
    private static final long IFREQ_SIZE = 40;
    private static final long IFR_FLAGS_OFFSET = 16;
    private static final int ETHERNET_HEADER = 14;
    private static final int CACHE_SIZE = 64;
    /** Bytes past the buffer that a read may spill into: tells an oversize frame from one that just fits. */
    private static final long SPILL = 64;

    private final String name;
    private final int fd;
    private final Mempool pool;
    private final MemorySegment memory;
    private final long memoryAddress;
    private final int portId;
    private final PortCounters counters;
    private final StatsRegistry stats;
    private final AtomicCounter ioErrors;
    private final Mempool.Cache rxCache;
    private final Mempool.Cache txCache;
    private final Arena arena;
    /** Two iovecs: the packet buffer's data room, then the spill area. */
    private final MemorySegment rxIov;
    private final MemorySegment txIov;
    private long spare = Mempool.NO_HANDLE;
    private volatile int lastErrno;
    private boolean closed;

    private TapPort(String name, int fd, Mempool pool, StatsRegistry stats, int portId) {
        this.name = name;
        this.fd = fd;
        this.pool = pool;
        this.memory = pool.memory();
        this.memoryAddress = memory.address();
        this.portId = portId;
        this.stats = stats;
        this.counters = new PortCounters(stats, name);
        this.ioErrors = stats.newCounter("port " + name + ": io errors");
        this.rxCache = pool.createCache(CACHE_SIZE);
        this.txCache = pool.createCache(CACHE_SIZE);
        this.arena = Arena.ofShared();
        this.rxIov = arena.allocate(2 * FileIo.IOVEC_SIZE, 8);
        this.txIov = arena.allocate(FileIo.IOVEC_SIZE, 8);
        MemorySegment spill = arena.allocate(SPILL, 8);
        rxIov.set(JAVA_LONG, FileIo.IOVEC_SIZE, spill.address());
        rxIov.set(JAVA_LONG, FileIo.IOVEC_SIZE + 8, SPILL);
    }

    /**
     * Creates tap {@code name} (or attaches to an existing, unattached persistent tap of that name),
     * counters in the process's {@link StatsRegistry}, input port id 0.
     *
     * @param name interface name, at most {@value #MAX_NAME_LENGTH} bytes; a {@code %d} in it is
     *             replaced by the kernel with the first free number ({@link #name()} says which)
     * @param pool where received frames' buffers come from
     * @throws IllegalArgumentException if the name is not a valid interface name
     * @throws TapException             if the device cannot be opened or created (reason in the exception)
     */
    public static TapPort open(String name, Mempool pool) {
        return open(name, pool, StatsRegistry.process(), 0);
    }

    /**
     * As {@link #open(String, Mempool)}, with the counters in {@code stats} and {@code portId} written
     * as the input port of every received buffer.
     */
    public static TapPort open(String name, Mempool pool, StatsRegistry stats, int portId) {
        return open(TUN_DEVICE, name, pool, stats, portId);
    }

    static TapPort open(String tunDevice, String name, Mempool pool, StatsRegistry stats, int portId) {
        byte[] bytes = checkName(name);
        if (pool.elementSize() < MbufDescriptor.BUFFER_SIZE) {
            throw new IllegalArgumentException("the pool's buffers are " + pool.elementSize()
                    + " bytes, a packet buffer needs " + MbufDescriptor.BUFFER_SIZE + " (use Mbuf.createPool)");
        }
        int fd;
        try {
            fd = LibC.open(tunDevice, LibC.O_RDWR | LibC.O_NONBLOCK);
        } catch (LinuxException e) {
            throw TapException.openFailed(tunDevice, e);
        }
        String actual;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifreq = a.allocate(IFREQ_SIZE, 8);
            MemorySegment.copy(bytes, 0, ifreq, JAVA_BYTE, 0, bytes.length);
            ifreq.set(JAVA_SHORT, IFR_FLAGS_OFFSET, (short) (IFF_TAP | IFF_NO_PI));
            LibC.ioctl(fd, TUNSETIFF, ifreq);
            actual = ifreq.getString(0, StandardCharsets.US_ASCII);
        } catch (LinuxException e) {
            LibC.closeQuietly(fd);
            throw TapException.attachFailed(name, e);
        } catch (RuntimeException e) {
            LibC.closeQuietly(fd);
            throw e;
        }
        return new TapPort(actual, fd, pool, stats, portId);
    }

    /**
     * Checks an interface name against the kernel's dev_valid_name rules without opening anything.
     *
     * @return the name's bytes
     * @throws IllegalArgumentException naming the rule the name breaks
     */
    public static byte[] checkName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a tap needs a name");
        }
        byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length > MAX_NAME_LENGTH) {
            throw new IllegalArgumentException("tap name too long: \"" + name + "\" is " + bytes.length
                    + " bytes, an interface name is at most " + MAX_NAME_LENGTH + " (IFNAMSIZ 16 with the NUL)");
        }
        if (name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("\"" + name + "\" is not a valid interface name");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c <= ' ' || c >= 0x7f || c == '/' || c == ':') {
                throw new IllegalArgumentException("tap name \"" + name + "\" has an invalid character at " + i
                        + " (interface names exclude '/', ':', whitespace and non-ASCII)");
            }
        }
        return bytes;
    }

    /** @return the interface name (as the kernel made it) */
    @Override
    public String name() {
        return name;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public Mempool pool() {
        return pool;
    }

    /** @return the tap's file descriptor (for epoll or diagnostics; do not close it) */
    public int fd() {
        return fd;
    }

    /** @return the errno of the last failed read or write other than EAGAIN, or 0 */
    public int lastErrno() {
        return lastErrno;
    }

    /** @return reads and writes that failed other than with EAGAIN */
    public long ioErrors() {
        return ioErrors.get();
    }

    @Override
    public int rxBurst(int queue, long[] packets, int off, int max) {
        int n = 0;
        long bytes = 0;
        int dropped = 0;
        for (int reads = 0; n < max && reads < max; reads++) {
            long h = spare;
            if (h == Mempool.NO_HANDLE) {
                h = pool.alloc(rxCache);
                if (h == Mempool.NO_HANDLE) {
                    break; // no buffer: the frames wait in the kernel's queue
                }
                spare = h;
            }
            long offset = pool.offset(h);
            rxIov.set(JAVA_LONG, 0, memoryAddress + Mbuf.data(offset));
            rxIov.set(JAVA_LONG, 8, MbufDescriptor.DATA_ROOM);
            long r = FileIo.tryReadv(fd, rxIov, 2);
            if (r < 0) {
                if (r != -Errno.EAGAIN && r != -Errno.EINTR) {
                    lastErrno = (int) -r;
                    ioErrors.increment();
                }
                break;
            }
            if (r > MbufDescriptor.DATA_ROOM || r == 0) {
                dropped++; // oversize (the kernel reports the whole length), or an empty read; the buffer stays spare
                continue;
            }
            Mbuf.length(memory, offset, (int) r);
            Mbuf.input(memory, offset, portId, queue);
            packets[off + n++] = h;
            bytes += r;
            spare = Mempool.NO_HANDLE;
        }
        if (n > 0) {
            counters.rxPackets.getAndAdd(n);
            counters.rxBytes.getAndAdd(bytes);
        }
        if (dropped > 0) {
            counters.rxDrops.getAndAdd(dropped);
        }
        return n;
    }

    /**
     * Writes the frames to the kernel and frees their buffers. Stops at the first {@code EAGAIN}
     * (the caller keeps the rest); a frame the kernel refuses, or one whose length is outside
     * [14, DATA_ROOM], is freed and counted as {@code tx dropped}.
     */
    @Override
    public int txBurst(int queue, long[] packets, int off, int n) {
        int taken = 0;
        int sent = 0;
        long bytes = 0;
        int dropped = 0;
        for (; taken < n; taken++) {
            long h = packets[off + taken];
            long offset = pool.offset(h);
            int length = Mbuf.length(memory, offset);
            if (length < ETHERNET_HEADER || length > MbufDescriptor.DATA_ROOM) {
                dropped++;
                pool.free(txCache, h);
                continue;
            }
            txIov.set(JAVA_LONG, 0, memoryAddress + Mbuf.data(offset));
            txIov.set(JAVA_LONG, 8, length);
            long r = FileIo.tryWritev(fd, txIov, 1);
            if (r == -Errno.EAGAIN) {
                break;
            }
            if (r < 0) {
                if (r != -Errno.EIO) {
                    lastErrno = (int) -r;
                    ioErrors.increment();
                }
                dropped++;
            } else {
                sent++;
                bytes += length;
            }
            pool.free(txCache, h);
        }
        if (sent > 0) {
            counters.txPackets.getAndAdd(sent);
            counters.txBytes.getAndAdd(bytes);
        }
        if (dropped > 0) {
            counters.txDrops.getAndAdd(dropped);
        }
        return taken;
    }

    @Override
    public PortCounters counters() {
        return counters;
    }

    /** Closes the fd, which removes the (non-persistent) device, and frees the buffers and counters. Call once no lcore polls the port. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        LibC.closeQuietly(fd);
        if (spare != Mempool.NO_HANDLE) {
            pool.free(rxCache, spare);
            spare = Mempool.NO_HANDLE;
        }
        rxCache.close();
        txCache.close();
        counters.close();
        stats.free(ioErrors);
        arena.close();
    }

    @Override
    public String toString() {
        return "tap " + name + " (fd " + fd + "): " + counters;
    }
}

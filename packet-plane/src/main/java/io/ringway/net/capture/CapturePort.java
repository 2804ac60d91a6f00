package io.ringway.net.capture;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.Port;
import io.ringway.net.port.PortCounters;
import io.ringway.runtime.mem.Mempool;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A {@link Port} that mirrors another port's traffic into a {@link CaptureJournal}: what
 * {@link #rxBurst} returns, and what is handed to {@link #txBurst} (captured before the port takes
 * it, as DPDK's pdump tx callbacks do: a packet the port then refuses is in the capture too). The
 * packets themselves are not touched.
 */
public final class CapturePort implements Port {
    private final Port port;
    private final int portId;
    private final CaptureJournal journal;
    private final boolean rx;
    private final boolean tx;
    private final Mempool pool;
    private final MemorySegment memory;

    /**
     * @param port    the port to mirror
     * @param portId  the id recorded with its packets (what {@code capture export --port} selects)
     * @param journal where the packets go
     * @param rx      capture received packets
     * @param tx      capture packets sent
     */
    public CapturePort(Port port, int portId, CaptureJournal journal, boolean rx, boolean tx) {
        this.port = Objects.requireNonNull(port, "port");
        this.journal = Objects.requireNonNull(journal, "journal");
        this.portId = portId;
        this.rx = rx;
        this.tx = tx;
        this.pool = port.pool();
        this.memory = pool.memory();
    }

    /** @return the mirrored port */
    public Port port() {
        return port;
    }

    @Override
    public String name() {
        return port.name();
    }

    @Override
    public int queueCount() {
        return port.queueCount();
    }

    @Override
    public Mempool pool() {
        return pool;
    }

    @Override
    public int rxBurst(int queue, long[] packets, int off, int max) {
        int n = port.rxBurst(queue, packets, off, max);
        if (rx) {
            capture(CaptureDescriptor.RX, packets, off, n);
        }
        return n;
    }

    @Override
    public int txBurst(int queue, long[] packets, int off, int n) {
        if (tx) {
            capture(CaptureDescriptor.TX, packets, off, n);
        }
        return port.txBurst(queue, packets, off, n);
    }

    private void capture(int direction, long[] packets, int off, int n) {
        for (int i = 0; i < n; i++) {
            long offset = pool.offset(packets[off + i]);
            journal.capture(portId, direction, memory, Mbuf.data(offset), Mbuf.length(memory, offset));
        }
    }

    @Override
    public int txRoom(int queue) {
        return port.txRoom(queue);
    }

    @Override
    public PortCounters counters() {
        return port.counters();
    }
}

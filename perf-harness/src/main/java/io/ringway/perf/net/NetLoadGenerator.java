package io.ringway.perf.net;

import io.ringway.net.device.VirtioNetFeatures;
import io.ringway.net.device.VirtioNetHeaderDescriptor;
import io.ringway.net.forward.UdpPacketTemplate;
import io.ringway.runtime.mem.SharedRegion;
import io.ringway.runtime.sys.Cpu;
import io.ringway.runtime.sys.EventFd;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.VirtioFeatures;
import org.HdrHistogram.Histogram;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * A vhost-user-net load generator: a polling virtio-net driver (one queue pair, split rings) on the
 * Ringway front-end, in one thread. It drives any vhost-user-net back-end the same way (Ringway's
 * {@code VirtioNetDevice}, DPDK's vhost PMD), with 64-byte frames by default, in the three roles
 * of a testpmd race:
 * <ul>
 *   <li>{@link Role#SEND}: the driver transmits as fast as the back-end takes the packets (the
 *       back-end runs rxonly); the figure is packets the back-end consumed;</li>
 *   <li>{@link Role#RECEIVE}: the driver keeps its receive queue full of buffers and counts what
 *       arrives (the back-end runs txonly);</li>
 *   <li>{@link Role#LOOP}: the driver sends one burst first and then sends every packet it
 *       receives straight back, as testpmd's {@code io --tx-first} does (the back-end runs
 *       macswap); the figure is packets received, and every packet carries its send time, so the
 *       round trip through the back-end is recorded too.</li>
 * </ul>
 * Like testpmd's virtio-user port it negotiates VERSION_1 and MRG_RXBUF but not EVENT_IDX, asks
 * for no used-buffer interrupts and kicks only when the back-end does not suppress kicks. Nothing
 * in the loop allocates; every length the back-end writes is checked before it is used.
 */
public final class NetLoadGenerator {
    /** What the driver does; the back-end runs the matching testpmd mode. */
    public enum Role {
        /** Driver transmits, back-end rxonly. */
        SEND("rxonly"),
        /** Back-end txonly, driver receives. */
        RECEIVE("txonly"),
        /** Driver io with tx-first, back-end macswap. */
        LOOP("macswap");

        private final String backendMode;

        Role(String backendMode) {
            this.backendMode = backendMode;
        }

        /** The back-end's forwarding mode in testpmd's spelling: rxonly, txonly or macswap. */
        public String backendMode() {
            return backendMode;
        }
    }

    /** Packets per burst, as testpmd's default. */
    public static final int BURST = 32;
    /** Queue size, as testpmd's virtio-user default. */
    public static final int QUEUE_SIZE = 256;
    /** Packet buffer size (one descriptor per packet). */
    static final int SLOT = 2048;
    static final int HDR = VirtioNetHeaderDescriptor.LENGTH;
    /** Where the send time sits in a frame: in the UDP payload, which macswap does not touch. */
    static final int STAMP_OFFSET = UdpPacketTemplate.MIN_LENGTH;
    static final long RX_RING = 0;
    static final long TX_RING = 0x1_0000;
    static final long RX_BUFFERS = 0x10_0000;
    static final long TX_BUFFERS = RX_BUFFERS + (long) QUEUE_SIZE * SLOT;
    static final long MEMORY = 2L << 20;
    /**
     * A loop whose packets stopped coming back: the back-end dropped all 32. Longer than the 0.1-1.5 s
     * stalls a loaded 2-core machine inflicts on a busy-polling back-end (docs/STATUS.md).
     */
    static final long LOOP_STALL_NANOS = 5_000_000_000L;
    private static final byte[] SRC_MAC = {0x02, 0x52, 0x57, 0x00, 0x01, 0x01};
    private static final byte[] DST_MAC = {0x02, 0x52, 0x57, 0x00, 0x01, 0x02};

    /**
     * What to run.
     *
     * @param socket      the back-end's vhost-user socket
     * @param role        what the driver does
     * @param frameLength frame length without CRC (64 as testpmd's --txpkts=64)
     * @param seconds     measured window
     * @param warmup      seconds excluded before the window, counted from the first packet
     * @param cpu         CPU to run on while measuring (affinity restored after), or -1
     */
    public record Options(Path socket, Role role, int frameLength, double seconds, double warmup, int cpu) {
        public Options {
            if (frameLength < UdpPacketTemplate.MIN_LENGTH + 8 || frameLength > SLOT - HDR) {
                throw new IllegalArgumentException("frame length must be " + (UdpPacketTemplate.MIN_LENGTH + 8) + ".."
                        + (SLOT - HDR) + " (room for the send time), got " + frameLength);
            }
            if (!(seconds > 0) || !(warmup >= 0)) {
                throw new IllegalArgumentException("seconds must be > 0 and warmup >= 0, got " + seconds + " and " + warmup);
            }
        }
    }

    /**
     * What came out.
     *
     * @param packets   packets counted in the measured window (consumed by the back-end for SEND,
     *                  received otherwise)
     * @param seconds   length of the window
     * @param roundTrip LOOP: per-packet round trip through the back-end in ns; otherwise empty
     * @param malformed used buffers whose length was impossible (shorter than the net header or
     *                  longer than the buffer), not counted as packets
     * @param noRoom    LOOP: received packets that could not be sent back (transmit ring full)
     * @param total     packets over the whole run, warm-up included (consumed by the back-end for
     *                  SEND, received otherwise): what the back-end's own counters must agree with
     * @param kicks     eventfd kicks the back-end asked for over the run (a polling back-end that
     *                  suppresses them, as DPDK's vhost PMD does, costs the driver no syscall)
     */
    public record Result(long packets, double seconds, Histogram roundTrip, long malformed, long noRoom, long total, long kicks) {
        public double mpps() {
            return packets / seconds / 1e6;
        }

        @Override
        public String toString() {
            String rt = roundTrip.getTotalCount() == 0 ? "" : String.format(Locale.ROOT, ", round trip p50 %.1f us p99 %.1f us",
                    roundTrip.getValueAtPercentile(50) / 1e3, roundTrip.getValueAtPercentile(99) / 1e3);
            return String.format(Locale.ROOT, "%.3f Mpps (%,d packets in %.2f s)%s, %d malformed, %d not sent back, %,d kicks", mpps(),
                    packets, seconds, rt, malformed, noRoom, kicks);
        }
    }

    /** One virtqueue of the driver with its buffer slots. */
    private static final class Queue {
        final DriverSplitQueue ring;
        final EventFd kick = EventFd.create(true);
        final EventFd call = EventFd.create(true);
        final long buffers;
        final int[] slotOfId = new int[QUEUE_SIZE];
        final int[] free = new int[QUEUE_SIZE];
        int freeCount;
        final long[] addr = new long[1];
        final int[] len = new int[1];
        final boolean[] writable = new boolean[1];
        long kicks;

        Queue(GuestMemory memory, long ring, long buffers, boolean deviceWritable) {
            this.ring = new DriverSplitQueue(memory, QUEUE_SIZE, ring, ring + 0x4000, ring + 0x8000, FEATURES);
            this.buffers = buffers;
            for (int i = QUEUE_SIZE - 1; i >= 0; i--) {
                free[freeCount++] = i;
            }
            writable[0] = deviceWritable;
        }

        /** Posts free slot {@code slot} with {@code length} bytes; false if the ring is full. */
        boolean post(int slot, int length) {
            addr[0] = buffers + (long) slot * SLOT;
            len[0] = length;
            int id = ring.add(addr, len, writable, 1);
            if (id < 0) {
                return false;
            }
            slotOfId[id] = slot;
            return true;
        }

        void publish() {
            if (ring.publish() > 0 && ring.needsKick()) {
                kick.signal();
                kicks++;
            }
        }

        void close() {
            kick.close();
            call.close();
        }
    }

    /** What the driver asks for, as testpmd's virtio-user port does (no EVENT_IDX). */
    static final long FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1) | VirtioFeatures.mask(VirtioNetFeatures.MRG_RXBUF);

    private NetLoadGenerator() {
    }

    /** Connects, runs, disconnects; on {@code o.cpu()} if that is not -1. */
    public static Result run(Options o) {
        return run(o, BURST);
    }

    /**
     * As {@link #run(Options)}, with {@code inFlight} frames (1..{@link #BURST}) sent first in
     * {@link Role#LOOP} (then each one sent back as it returns): 1 gives ping-pong, one frame in
     * flight, as the {@code net-loop} micro-guest does. The other roles ignore it.
     */
    public static Result run(Options o, int inFlight) {
        if (inFlight < 1 || inFlight > BURST) {
            throw new IllegalArgumentException("frames in flight must be 1.." + BURST + ", got " + inFlight);
        }
        if (o.cpu() < 0) {
            return connectAndRun(o, inFlight);
        }
        BitSet before = Cpu.currentThreadAffinity();
        Cpu.pinCurrentThread(o.cpu());
        try {
            return connectAndRun(o, inFlight);
        } finally {
            Cpu.setCurrentThreadAffinity(before);
        }
    }

    private static Result connectAndRun(Options o, int inFlight) {
        SharedRegion region = SharedRegion.create("net-loadgen", MEMORY, SharedRegion.Options.defaults().populate(true));
        try (FrontendMemory mem = FrontendMemory.owning(List.of(new FrontendMemory.Region(region, 0)));
             VhostUserFrontend f = VhostUserFrontend.connect(o.socket(), Duration.ofSeconds(10))) {
            long features = f.negotiate(FEATURES, (1L << 0) | (1L << 3)); // MQ, REPLY_ACK
            if (!VirtioFeatures.has(features, VirtioFeatures.VERSION_1)) {
                throw new IllegalStateException("the back-end at " + o.socket() + " does not offer VIRTIO_F_VERSION_1 (features 0x"
                        + Long.toHexString(features) + ")");
            }
            f.setMemTable(mem);
            GuestMemory gm = mem.guestMemory();
            Queue rx = new Queue(gm, RX_RING, RX_BUFFERS, true);
            Queue tx = new Queue(gm, TX_RING, TX_BUFFERS, false);
            try {
                // virtio 1.2, 2.7.7: a polling driver wants no used-buffer notifications.
                rx.ring.disableUsedNotifications();
                tx.ring.disableUsedNotifications();
                f.startVring(0, mem, rx.ring.config(features), 0, rx.kick.fd(), rx.call.fd());
                f.startVring(1, mem, tx.ring.config(features), 0, tx.kick.fd(), tx.call.fd());
                MemorySegment m = gm.segment(0);
                UdpPacketTemplate template = new UdpPacketTemplate(o.frameLength(), SRC_MAC, DST_MAC);
                for (int s = 0; s < QUEUE_SIZE; s++) {
                    long at = TX_BUFFERS + (long) s * SLOT;
                    m.asSlice(at, HDR).fill((byte) 0);
                    MemorySegment.copy(template.frame(), 0, m, at + HDR, o.frameLength());
                }
                Result r = switch (o.role()) {
                    case SEND -> send(o, tx);
                    case RECEIVE -> receive(o, m, rx);
                    case LOOP -> loop(o, m, rx, tx, inFlight);
                };
                f.stopVring(0);
                f.stopVring(1);
                return r;
            } finally {
                rx.close();
                tx.close();
            }
        }
    }

    /** The measured window, opened by the first packet: warm-up then {@code seconds}. */
    private static final class Window {
        final long warmupNanos;
        final long lengthNanos;
        final long giveUp;
        long from = Long.MAX_VALUE;
        long end = Long.MAX_VALUE;

        Window(Options o) {
            warmupNanos = (long) (o.warmup() * 1e9);
            lengthNanos = (long) (o.seconds() * 1e9);
            giveUp = System.nanoTime() + 10_000_000_000L;
        }

        void first(long now) {
            if (from == Long.MAX_VALUE) {
                from = now + warmupNanos;
                end = from + lengthNanos;
            }
        }

        boolean in(long now) {
            return now >= from && now < end;
        }

        boolean over(long now, Options o) {
            if (from == Long.MAX_VALUE && now > giveUp) {
                throw new IllegalStateException("no packet moved within 10 s of the start (" + o.role() + " against " + o.socket()
                        + ", back-end " + o.role().backendMode() + ")");
            }
            return now >= end;
        }
    }

    /** Driver transmits; counts what the back-end consumed (used). */
    private static Result send(Options o, Queue tx) {
        Window w = new Window(o);
        int length = HDR + o.frameLength();
        long packets = 0;
        long total = 0;
        long now = System.nanoTime();
        while (!w.over(now, o)) {
            long u;
            int done = 0;
            while ((u = tx.ring.pollUsed()) >= 0) {
                tx.free[tx.freeCount++] = tx.slotOfId[(int) (u >>> 32)];
                done++;
            }
            if (done > 0) {
                w.first(now);
                total += done;
                if (w.in(now)) {
                    packets += done;
                }
            }
            int posted = 0;
            while (posted < BURST && tx.freeCount > 0 && tx.post(tx.free[tx.freeCount - 1], length)) {
                tx.freeCount--;
                posted++;
            }
            tx.publish();
            now = System.nanoTime();
        }
        return new Result(packets, o.seconds(), new Histogram(1, 60_000_000_000L, 3), 0, 0, total, tx.kicks);
    }

    /** Fills the receive queue; counts what arrives. */
    private static Result receive(Options o, MemorySegment m, Queue rx) {
        Window w = new Window(o);
        long packets = 0;
        long total = 0;
        long malformed = 0;
        refill(rx);
        long now = System.nanoTime();
        while (!w.over(now, o)) {
            long u;
            int got = 0;
            while ((u = rx.ring.pollUsed()) >= 0) {
                int slot = rx.slotOfId[(int) (u >>> 32)];
                int len = (int) u;
                rx.free[rx.freeCount++] = slot;
                if (len < HDR || len > SLOT) {
                    malformed++;
                } else {
                    got++;
                }
            }
            if (got > 0) {
                w.first(now);
                total += got;
                if (w.in(now)) {
                    packets += got;
                }
                refill(rx);
            }
            now = System.nanoTime();
        }
        return new Result(packets, o.seconds(), new Histogram(1, 60_000_000_000L, 3), malformed, 0, total, rx.kicks);
    }

    private static void refill(Queue rx) {
        while (rx.freeCount > 0 && rx.post(rx.free[rx.freeCount - 1], SLOT)) {
            rx.freeCount--;
        }
        rx.publish();
    }

    /**
     * Sends {@code inFlight} packets, then sends back every packet received (the frame copied into a
     * transmit buffer, the send time rewritten); counts packets received and records their round trip.
     */
    private static Result loop(Options o, MemorySegment m, Queue rx, Queue tx, int inFlight) {
        Window w = new Window(o);
        Histogram roundTrip = new Histogram(1, 60_000_000_000L, 3);
        int length = HDR + o.frameLength();
        long packets = 0;
        long total = 0;
        long malformed = 0;
        long noRoom = 0;
        refill(rx);
        long now = System.nanoTime();
        for (int i = 0; i < inFlight; i++) {
            int slot = tx.free[--tx.freeCount];
            m.set(ValueLayout.JAVA_LONG_UNALIGNED, TX_BUFFERS + (long) slot * SLOT + HDR + STAMP_OFFSET, now);
            tx.post(slot, length);
        }
        tx.publish();
        long lastArrival = now;
        while (!w.over(now, o)) {
            long u;
            while ((u = tx.ring.pollUsed()) >= 0) {
                tx.free[tx.freeCount++] = tx.slotOfId[(int) (u >>> 32)];
            }
            int got = 0;
            boolean measuring = w.in(now);
            while (got < BURST && (u = rx.ring.pollUsed()) >= 0) {
                int slot = rx.slotOfId[(int) (u >>> 32)];
                int len = (int) u;
                rx.free[rx.freeCount++] = slot;
                long at = RX_BUFFERS + (long) slot * SLOT;
                if (len < HDR + STAMP_OFFSET + 8 || len > SLOT) {
                    malformed++;
                    continue;
                }
                got++;
                total++;
                long sent = m.get(ValueLayout.JAVA_LONG_UNALIGNED, at + HDR + STAMP_OFFSET);
                if (measuring) {
                    packets++;
                    long rtt = now - sent;
                    if (rtt > 0 && rtt < 60_000_000_000L) {
                        roundTrip.recordValue(rtt);
                    }
                }
                if (tx.freeCount == 0) {
                    noRoom++;
                    continue;
                }
                int out = tx.free[tx.freeCount - 1];
                long to = TX_BUFFERS + (long) out * SLOT;
                int frame = Math.min(len - HDR, SLOT - HDR);
                MemorySegment.copy(m, at + HDR, m, to + HDR, frame);
                m.set(ValueLayout.JAVA_LONG_UNALIGNED, to + HDR + STAMP_OFFSET, now);
                if (tx.post(out, HDR + frame)) {
                    tx.freeCount--;
                } else {
                    noRoom++;
                }
            }
            if (got > 0) {
                w.first(now);
                lastArrival = now;
                tx.publish();
                refill(rx);
            } else if (now - lastArrival > LOOP_STALL_NANOS) {
                throw new IllegalStateException("the macswap loop against " + o.socket() + " stalled: no packet came back for "
                        + LOOP_STALL_NANOS / 1_000_000_000L + " s ("
                        + packets + " counted, " + noRoom + " not sent back, " + malformed + " malformed)");
            }
            now = System.nanoTime();
        }
        return new Result(packets, o.seconds(), roundTrip, malformed, noRoom, total, rx.kicks + tx.kicks);
    }
}

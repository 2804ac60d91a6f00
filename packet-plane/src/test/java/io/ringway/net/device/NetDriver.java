package io.ringway.net.device;

import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.DriverPackedQueue;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioFeatures;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest side of one virtio-net virtqueue for the device tests: a driver queue (split or packed)
 * in front-end memory, started through the Ringway front-end with a polling kick (NOFD).
 *
 * <p>Layout for queue q: rings at {@code 0x10_0000 + q MiB}, buffers at {@code 0x80_0000 + q MiB},
 * one {@value #SLOT}-byte slot per chain; the descriptors of a chain are consecutive pieces of its
 * slot, so what a device wrote across them reads back contiguously.
 */
final class NetDriver {
    static final long MEMORY_SIZE = 16L << 20;
    static final int SLOT = 4096;
    static final int HDR = VirtioNetHeaderDescriptor.LENGTH;

    final int index;
    final int size;
    final GuestMemory memory;
    private final boolean packed;
    private final DriverSplitQueue split;
    private final DriverPackedQueue packedQueue;
    private final long bufferBase;
    private final int[] slotOfId;
    private final int[] freeSlots;
    private int freeSlotCount;

    NetDriver(VhostUserFrontend frontend, FrontendMemory mem, int index, int size) {
        this.index = index;
        this.size = size;
        long features = frontend.features();
        this.packed = VirtioFeatures.has(features, VirtioFeatures.RING_PACKED);
        this.memory = mem.guestMemory();
        long ring = 0x10_0000L + index * 0x10_0000L;
        if (packed) {
            packedQueue = new DriverPackedQueue(memory, size, ring, ring + 0x4_0000, ring + 0x8_0000, features);
            split = null;
        } else {
            split = new DriverSplitQueue(memory, size, ring, ring + 0x4_0000, ring + 0x8_0000, features);
            packedQueue = null;
        }
        bufferBase = 0x80_0000L + index * 0x10_0000L;
        slotOfId = new int[size];
        freeSlots = new int[size];
        for (int i = size - 1; i >= 0; i--) {
            freeSlots[freeSlotCount++] = i;
        }
        QueueConfig config = packed ? packedQueue.config(features) : split.config(features);
        frontend.startVring(index, mem, config, packed ? VhostUserFrontend.FRESH_PACKED_BASE : 0, -1, -1);
    }

    long slotAddr(int slot) {
        return bufferBase + (long) slot * SLOT;
    }

    /**
     * Posts a chain whose descriptors are consecutive pieces of one slot.
     *
     * @param lens     descriptor lengths (sum at most {@link #SLOT})
     * @param writable per descriptor
     * @param content  bytes written at the slot start (readable part), or null
     * @return the slot, or -1 if the ring is full
     */
    int post(int[] lens, boolean[] writable, byte[] content) {
        if (freeSlotCount == 0 || numFree() < lens.length) {
            return -1;
        }
        int slot = freeSlots[--freeSlotCount];
        long base = slotAddr(slot);
        MemorySegment s = memory.sliceGpa(base, SLOT);
        s.fill((byte) 0x5a);
        if (content != null) {
            MemorySegment.copy(content, 0, s, ValueLayout.JAVA_BYTE, 0, content.length);
        }
        long[] addrs = new long[lens.length];
        long at = base;
        for (int i = 0; i < lens.length; i++) {
            addrs[i] = at;
            at += lens[i];
        }
        int id = packed ? packedQueue.add(addrs, lens, writable, lens.length)
                : split.add(addrs, lens, writable, lens.length);
        if (id < 0) {
            freeSlots[freeSlotCount++] = slot;
            return -1;
        }
        slotOfId[id] = slot;
        return slot;
    }

    /** Posts header + packet, the header in its own descriptor when {@code splitHeader}. */
    int postPacket(byte[] packet, boolean splitHeader) {
        byte[] content = new byte[HDR + packet.length];
        System.arraycopy(packet, 0, content, HDR, packet.length);
        if (splitHeader && packet.length > 0) {
            return post(new int[] {HDR, packet.length}, new boolean[2], content);
        }
        return post(new int[] {content.length}, new boolean[1], content);
    }

    /** Posts one receive chain of {@code pieces} writable descriptors of {@code len} bytes. */
    int postReceive(int len, int pieces) {
        int[] lens = new int[pieces];
        boolean[] w = new boolean[pieces];
        java.util.Arrays.fill(lens, len);
        java.util.Arrays.fill(w, true);
        return post(lens, w, null);
    }

    int numFree() {
        return packed ? packedQueue.numFree() : split.numFree();
    }

    void publish() {
        if (packed) {
            packedQueue.publish();
        } else {
            split.publish();
        }
    }

    /** A used chain: its slot and the length the device reported. */
    record Used(int slot, int len) {
    }

    /** @return the next used chain (its slot is free again), or null */
    Used pollUsed() {
        long u = packed ? packedQueue.pollUsed() : split.pollUsed();
        if (u < 0) {
            return null;
        }
        int id = (int) (u >>> 32);
        int slot = slotOfId[id];
        freeSlots[freeSlotCount++] = slot;
        return new Used(slot, (int) u);
    }

    /** Waits for {@code n} used chains. */
    List<Used> awaitUsed(int n, long timeoutMillis) {
        List<Used> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (out.size() < n) {
            Used u = pollUsed();
            if (u != null) {
                out.add(u);
            } else if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("queue " + index + ": " + out.size() + " of " + n + " used within "
                        + timeoutMillis + " ms");
            } else {
                Thread.onSpinWait();
            }
        }
        return out;
    }

    byte[] read(int slot, int len) {
        return memory.sliceGpa(slotAddr(slot), len).toArray(ValueLayout.JAVA_BYTE);
    }

    /** A packet as the guest receives it: header fields and frame. */
    record Received(byte[] header, int numBuffers, byte[] frame) {
    }

    /**
     * Reads one received packet: the first used chain's header says how many chains it took
     * (num_buffers), their bytes are concatenated.
     */
    Received receive(long timeoutMillis) {
        Used first = awaitUsed(1, timeoutMillis).get(0);
        byte[] b = read(first.slot(), first.len());
        if (b.length < HDR) {
            throw new AssertionError("used length " + b.length + " is shorter than the net header");
        }
        byte[] header = java.util.Arrays.copyOf(b, HDR);
        int numBuffers = (header[10] & 0xff) | (header[11] & 0xff) << 8;
        java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
        frame.write(b, HDR, b.length - HDR);
        if (numBuffers > 1) {
            for (Used u : awaitUsed(numBuffers - 1, timeoutMillis)) {
                frame.writeBytes(read(u.slot(), u.len()));
            }
        }
        return new Received(header, numBuffers, frame.toByteArray());
    }
}

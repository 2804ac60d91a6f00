package io.ringway.vhost.backend;

import io.ringway.runtime.sys.EventFd;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.DriverPackedQueue;
import io.ringway.vhost.virtio.DriverSplitQueue;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioFeatures;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The guest side of the loopback tests: a driver queue (split or packed) in front-end memory, and
 * a loop that sends buffers with known contents to the echo device and checks every echo.
 *
 * <p>Layout per queue q: rings at {@code RING_BASE + q * 1 MiB} (descriptors, +256 KiB driver area,
 * +512 KiB device area), buffers at {@code BUFFER_BASE + q * 2 MiB}, one 256-byte slot per
 * descriptor id: 128 bytes out (device-readable), 128 bytes in (device-writable).
 */
public final class LoopbackDriver implements AutoCloseable {
    public static final long MEMORY_SIZE = 16L << 20;
    static final long RING_BASE = 0x10_0000;
    static final long BUFFER_BASE = 0x80_0000;
    static final int SLOT = 256;
    static final int HALF = 128;

    private final int index;
    private final int size;
    private final boolean packed;
    private final GuestMemory memory;
    private final DriverSplitQueue split;
    private final DriverPackedQueue packedQueue;
    public final EventFd kick;
    public final EventFd call;
    private final long bufferBase;
    private final long[] addrs = new long[2];
    private final int[] lens = new int[2];
    private final boolean[] writable = {false, true};
    private final int[] expectedLen;
    private final int[] expectedSeed;
    private final int[] slotOfId;
    private final int[] freeSlots;
    private int freeSlotCount;
    public long kicks;

    /** Sets up queue {@code index} and starts its vring through {@code frontend}. */
    public LoopbackDriver(VhostUserFrontend frontend, FrontendMemory mem, int index, int size, boolean pollingKick) {
        this.index = index;
        this.size = size;
        long features = frontend.features();
        this.packed = VirtioFeatures.has(features, VirtioFeatures.RING_PACKED);
        this.memory = mem.guestMemory();
        long ring = RING_BASE + index * 0x10_0000L;
        if (packed) {
            packedQueue = new DriverPackedQueue(memory, size, ring, ring + 0x4_0000, ring + 0x8_0000, features);
            split = null;
        } else {
            split = new DriverSplitQueue(memory, size, ring, ring + 0x4_0000, ring + 0x8_0000, features);
            packedQueue = null;
        }
        bufferBase = BUFFER_BASE + index * 0x20_0000L;
        expectedLen = new int[size];
        expectedSeed = new int[size];
        slotOfId = new int[size];
        freeSlots = new int[size];
        for (int i = 0; i < size; i++) {
            freeSlots[freeSlotCount++] = i;
        }
        kick = EventFd.create(true);
        call = EventFd.create(true);
        QueueConfig config = packed ? packedQueue.config(features) : split.config(features);
        frontend.startVring(index, mem, config, packed ? VhostUserFrontend.FRESH_PACKED_BASE : 0, pollingKick ? -1 : kick.fd(), call.fd());
    }

    public int size() {
        return size;
    }

    private int numFree() {
        return packed ? packedQueue.numFree() : split.numFree();
    }

    /**
     * Posts one chain (out buffer of {@code len} bytes filled from {@code seed}, in buffer of 128)
     * without publishing; returns false when the ring is full.
     */
    public boolean post(int seed, int len) {
        if (numFree() < 2 || freeSlotCount == 0) {
            return false;
        }
        int slot = freeSlots[--freeSlotCount];
        long out = bufferBase + (long) slot * SLOT;
        long in = out + HALF;
        fill(memory.sliceGpa(out, len), seed);
        memory.sliceGpa(in, HALF).fill((byte) 0);
        addrs[0] = out;
        addrs[1] = in;
        lens[0] = len;
        lens[1] = HALF;
        int id = packed ? packedQueue.add(addrs, lens, writable, 2) : split.add(addrs, lens, writable, 2);
        if (id < 0) {
            freeSlotCount++;
            return false;
        }
        slotOfId[id] = slot;
        expectedLen[id] = len;
        expectedSeed[id] = seed;
        return true;
    }

    static void fill(MemorySegment s, int seed) {
        for (long i = 0; i < s.byteSize(); i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) (seed * 31 + i * 7));
        }
    }

    /** Publishes posted chains and kicks when the device wants it. */
    public void publish() {
        if (packed) {
            packedQueue.publish();
        } else {
            split.publish();
        }
        boolean needs = packed ? packedQueue.needsKick() : split.needsKick();
        if (needs) {
            kick.signal();
            kicks++;
        }
    }

    /** Harvests one used chain and checks its echo; returns false if none is used yet. */
    public boolean harvest() {
        long used = packed ? packedQueue.pollUsed() : split.pollUsed();
        if (used < 0) {
            return false;
        }
        int id = (int) (used >>> 32);
        int len = (int) used;
        int want = Math.min(expectedLen[id], HALF);
        if (len != want) {
            throw new AssertionError("queue " + index + " id " + id + ": device wrote " + len + " bytes, expected " + want);
        }
        int slot = slotOfId[id];
        freeSlots[freeSlotCount++] = slot;
        MemorySegment in = memory.sliceGpa(bufferBase + (long) slot * SLOT + HALF, len);
        MemorySegment expected = MemorySegment.ofArray(new byte[len]);
        fill(expected, expectedSeed[id]);
        long mismatch = in.mismatch(expected);
        if (mismatch >= 0) {
            throw new AssertionError("queue " + index + " id " + id + ": echo differs at byte " + mismatch);
        }
        return true;
    }

    /** Sends {@code count} buffers through the device and checks each echo, within {@code timeoutMillis}. */
    public void transfer(int count, long timeoutMillis) {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        int sent = 0;
        int done = 0;
        while (done < count) {
            int posted = 0;
            while (sent < count && post(sent, 1 + (sent % 120))) {
                sent++;
                posted++;
            }
            if (posted > 0) {
                publish();
            }
            boolean any = false;
            while (harvest()) {
                done++;
                any = true;
            }
            if (!any) {
                if (System.currentTimeMillis() > deadline) {
                    throw new AssertionError("queue " + index + ": " + done + " of " + count + " buffers echoed within "
                            + timeoutMillis + " ms (" + sent + " sent)");
                }
                Thread.onSpinWait();
            }
        }
    }

    @Override
    public void close() {
        kick.close();
        call.close();
    }
}

package io.ringway.vhost.virtio;

import static io.ringway.vhost.virtio.MockGuest.BUFFERS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Driver and device on two threads, as in real use: a smoke test of the release/acquire
 * publication of both ring formats (every payload the device reads is the one the driver wrote
 * before publishing). The exhaustive memory-model tests belong to jcstress.
 */
class TwoThreadRoundTripTest {
    static final int ENTRIES = 200_000;
    static final int SIZE = 64;
    static final long FEATURES = VirtioFeatures.mask(VirtioFeatures.VERSION_1)
            | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX);

    interface Driver {
        int numFree();

        int add(long[] a, int[] l, boolean[] w, int n);

        int publish();

        long pollUsed();
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void splitQueueAcrossThreads() throws Exception {
        try (MockGuest g = new MockGuest()) {
            DriverSplitQueue d = new DriverSplitQueue(g.memory, SIZE, 0x1000, 0x20000, 0x30000, FEATURES);
            SplitQueue q = new SplitQueue(SIZE);
            q.activate(g.memory, d.config(FEATURES));
            run(g, q, new Driver() {
                public int numFree() { return d.numFree(); }
                public int add(long[] a, int[] l, boolean[] w, int n) { return d.add(a, l, w, n); }
                public int publish() { return d.publish(); }
                public long pollUsed() { return d.pollUsed(); }
            });
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void packedQueueAcrossThreads() throws Exception {
        try (MockGuest g = new MockGuest()) {
            DriverPackedQueue d = new DriverPackedQueue(g.memory, SIZE, 0x1000, 0x20000, 0x30000, FEATURES);
            PackedQueue q = new PackedQueue(SIZE);
            q.activate(g.memory, d.config(FEATURES));
            run(g, q, new Driver() {
                public int numFree() { return d.numFree(); }
                public int add(long[] a, int[] l, boolean[] w, int n) { return d.add(a, l, w, n); }
                public int publish() { return d.publish(); }
                public long pollUsed() { return d.pollUsed(); }
            });
        }
    }

    private static void run(MockGuest g, Virtqueue q, Driver d) throws Exception {
        AtomicReference<Throwable> deviceError = new AtomicReference<>();
        Thread device = new Thread(() -> {
            try {
                DescriptorChain chain = new DescriptorChain(SIZE);
                int seen = 0;
                while (seen < ENTRIES && !q.isBroken()) {
                    while (q.pop(chain)) {
                        int v = chain.segment(0).get(ValueLayout.JAVA_INT, chain.offset(0));
                        if (v != seen) {
                            throw new AssertionError("device read " + v + ", expected " + seen);
                        }
                        q.pushUsed(chain, v & 0xffff);
                        seen++;
                    }
                    q.publishUsed();
                    Thread.onSpinWait();
                }
            } catch (Throwable t) {
                deviceError.set(t);
            }
        }, "device");
        device.start();
        long[] a = new long[1];
        int[] l = {4};
        boolean[] w = {false};
        int sent = 0;
        int done = 0;
        while (done < ENTRIES && deviceError.get() == null) {
            while (sent < ENTRIES && d.numFree() > 0) {
                // Each in-flight buffer has its own slot; a slot is reused only after it was used.
                a[0] = BUFFERS + 4L * (sent % (2 * SIZE));
                g.ram.set(ValueLayout.JAVA_INT, a[0], sent);
                d.add(a, l, w, 1);
                sent++;
            }
            d.publish();
            long used;
            while ((used = d.pollUsed()) != -1) {
                assertEquals(done & 0xffff, (int) used);
                done++;
            }
            Thread.onSpinWait();
        }
        device.join();
        if (deviceError.get() != null) {
            throw new AssertionError(deviceError.get());
        }
        assertFalse(q.isBroken(), () -> String.valueOf(q.brokenReason()));
        assertEquals(ENTRIES, done);
    }
}

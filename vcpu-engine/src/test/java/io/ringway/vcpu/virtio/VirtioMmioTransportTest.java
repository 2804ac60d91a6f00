package io.ringway.vcpu.virtio;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmTestSupport;
import io.ringway.vcpu.kvm.Vm;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;

import static io.ringway.vcpu.virtio.BlkRingDriver.AVAIL;
import static io.ringway.vcpu.virtio.BlkRingDriver.DESC;
import static io.ringway.vcpu.virtio.BlkRingDriver.STATUS;
import static io.ringway.vcpu.virtio.BlkRingDriver.USED;
import static io.ringway.vcpu.virtio.BlkRingDriver.await;
import static io.ringway.vcpu.virtio.BlkRingDriver.descriptor;
import static io.ringway.vcpu.virtio.BlkRingDriver.publishHead0;
import static io.ringway.vcpu.virtio.BlkRingDriver.writeRequest;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The virtio-mmio registers as the driver sees them (virtio 1.2, 4.2.2 and 4.2.3), driven the way
 * MMIO exits drive them, one rule per test. The VM is real (memory slots, ioeventfd, irqfd), so
 * these need /dev/kvm.
 */
class VirtioMmioTransportTest {
    private static final long BASE = MicroGuest.MMIO_BASE;
    private static final int FEATURES_OK = VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER | VirtioMmio.STATUS_FEATURES_OK;

    private Kvm kvm;
    private MicroGuest guest;
    private BlkDeviceFixture blk;
    private Lcore lcore;
    private MallocBlockDevice bdev;
    private VirtioBlkDevice device;
    private VirtioMmioTransport t;

    @BeforeEach
    void setUp() {
        kvm = KvmTestSupport.openOrSkip();
        guest = MicroGuest.create(kvm, 4 << 20);
        guest.vm().createIrqchip();
        blk = new BlkDeviceFixture("mmio-test");
        lcore = blk.lcore;
        bdev = blk.disk;
        device = blk.device;
        t = new VirtioMmioTransport("blk-test", device, guest.vm(), BASE, 16, lcore);
        t.attach(new MmioBus());
    }

    @AfterEach
    void tearDown() {
        if (t != null) {
            t.close();
            blk.close();
            guest.close();
            kvm.close();
        }
    }

    private int reg(int offset) {
        return (int) t.read(offset, 4);
    }

    private void set(int offset, long value) {
        t.write(offset, 4, value);
    }

    /** virtio 1.2, 3.1.1 steps 1-6, accepting VERSION_1 only. */
    private void negotiate() {
        set(VirtioMmio.STATUS, 0);
        set(VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE);
        set(VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER);
        set(VirtioMmio.DRIVER_FEATURES_SEL, 1);
        set(VirtioMmio.DRIVER_FEATURES, 1);
        set(VirtioMmio.STATUS, FEATURES_OK);
    }

    private void queue(int num, long desc, long avail, long used) {
        set(VirtioMmio.QUEUE_SEL, 0);
        set(VirtioMmio.QUEUE_NUM, num);
        set(VirtioMmio.QUEUE_DESC_LOW, desc);
        set(VirtioMmio.QUEUE_DESC_HIGH, desc >>> 32);
        set(VirtioMmio.QUEUE_DRIVER_LOW, avail);
        set(VirtioMmio.QUEUE_DRIVER_HIGH, avail >>> 32);
        set(VirtioMmio.QUEUE_DEVICE_LOW, used);
        set(VirtioMmio.QUEUE_DEVICE_HIGH, used >>> 32);
        set(VirtioMmio.QUEUE_READY, 1);
    }

    /** Negotiated, queue 0 of 16 ready, DRIVER_OK. */
    private void start() {
        negotiate();
        queue(16, DESC, AVAIL, USED);
        set(VirtioMmio.STATUS, FEATURES_OK | VirtioMmio.STATUS_DRIVER_OK);
    }

    /** Makes head 0 available: avail ring[0] = 0, avail idx = 1. */
    private void assertNeedsReset(String expectedInFailure) {
        assertTrue((reg(VirtioMmio.STATUS) & VirtioMmio.STATUS_DEVICE_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET set");
        assertTrue((reg(VirtioMmio.INTERRUPT_STATUS) & VirtioMmio.INTERRUPT_CONFIG_CHANGE) != 0, "config change interrupt");
        assertNotNull(t.failure());
        assertTrue(t.failure().contains(expectedInFailure), t.failure());
        assertEquals(0, reg(VirtioMmio.QUEUE_READY), "the queue is not ready");
        assertTrue(lcore.isRunning(), "the lcore goes on");
    }


    @Test
    void theRegistersIdentifyAVersion2BlockDeviceThatOffersVersion1() {
        assertEquals(0x74726976, reg(VirtioMmio.MAGIC_VALUE));
        assertEquals(2, reg(VirtioMmio.VERSION));
        assertEquals(2, reg(VirtioMmio.DEVICE_ID));
        assertEquals(VirtioMmio.VENDOR_RINGWAY, reg(VirtioMmio.VENDOR_ID));
        set(VirtioMmio.DEVICE_FEATURES_SEL, 1);
        assertEquals(1, reg(VirtioMmio.DEVICE_FEATURES) & 1, "VERSION_1 (bit 32)");
        set(VirtioMmio.QUEUE_SEL, 0);
        assertEquals(128, reg(VirtioMmio.QUEUE_NUM_MAX));
        set(VirtioMmio.QUEUE_SEL, 1);
        assertEquals(0, reg(VirtioMmio.QUEUE_NUM_MAX), "a queue the device does not have");
        // virtio-blk capacity in sectors, little-endian at config offset 0
        assertEquals((1 << 20) / 512, t.read(VirtioMmio.CONFIG, 8));
    }

    @Test
    void aQueueSizeThatIsNotAPowerOf2PutsTheDeviceInNeedsReset() {
        negotiate();
        queue(100, DESC, AVAIL, USED);
        assertNeedsReset("power of 2");
    }

    @Test
    void aQueueSizeAboveQueueNumMaxPutsTheDeviceInNeedsReset() {
        negotiate();
        queue(256, DESC, AVAIL, USED);
        assertNeedsReset("larger than the maximum");
    }

    @Test
    void ringAddressesOutsideGuestMemoryPutTheDeviceInNeedsReset() {
        negotiate();
        queue(16, 0x1_0000_0000L, AVAIL, USED);
        assertNeedsReset("outside guest memory");
    }

    @Test
    void queueReadyBeforeFeaturesOkPutsTheDeviceInNeedsReset() {
        set(VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER);
        queue(16, DESC, AVAIL, USED);
        assertNeedsReset("before FEATURES_OK");
    }

    @Test
    void featuresTheDeviceDoesNotOfferLeaveFeaturesOkClear() {
        set(VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER);
        set(VirtioMmio.DRIVER_FEATURES_SEL, 1);
        set(VirtioMmio.DRIVER_FEATURES, 1 | 1 << (VirtioFeatures.SR_IOV - 32));
        set(VirtioMmio.STATUS, FEATURES_OK);
        assertEquals(0, reg(VirtioMmio.STATUS) & VirtioMmio.STATUS_FEATURES_OK);
        assertNull(t.failure(), "a refused subset is not a failure: the driver may try another");
    }

    @Test
    void featuresWithoutVersion1LeaveFeaturesOkClear() {
        set(VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER);
        set(VirtioMmio.STATUS, FEATURES_OK);
        assertEquals(0, reg(VirtioMmio.STATUS) & VirtioMmio.STATUS_FEATURES_OK);
    }

    @Test
    void driverOkWithoutFeaturesOkPutsTheDeviceInNeedsReset() {
        set(VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER | VirtioMmio.STATUS_DRIVER_OK);
        assertNeedsReset("DRIVER_OK set without FEATURES_OK");
    }

    @Test
    void clearingStatusBitsWithoutAResetPutsTheDeviceInNeedsReset() {
        negotiate();
        set(VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE);
        assertNeedsReset("clears bits");
    }

    @Test
    void aRegisterAccessThatIsNot32BitsWidePutsTheDeviceInNeedsReset() {
        t.write(VirtioMmio.QUEUE_NUM, 2, 16);
        assertNeedsReset("aligned 32-bit words");
    }

    @Test
    void changingAReadyQueuePutsTheDeviceInNeedsReset() {
        negotiate();
        queue(16, DESC, AVAIL, USED);
        assertEquals(1, reg(VirtioMmio.QUEUE_READY));
        set(VirtioMmio.QUEUE_NUM, 8);
        assertNeedsReset("while queue 0 is ready");
    }

    @Test
    void aResetClearsNeedsResetAndTheDriverCanStartAgain() {
        negotiate();
        queue(100, DESC, AVAIL, USED);
        assertNotNull(t.failure());
        set(VirtioMmio.STATUS, 0);
        assertEquals(0, reg(VirtioMmio.STATUS));
        assertEquals(0, reg(VirtioMmio.INTERRUPT_STATUS));
        assertNull(t.failure());
        start();
        assertEquals(FEATURES_OK | VirtioMmio.STATUS_DRIVER_OK, reg(VirtioMmio.STATUS));
        assertEquals(1, reg(VirtioMmio.QUEUE_READY));
    }

    @Test
    void aCompletedRequestSetsInterruptStatusAndAckClearsIt() throws InterruptedException {
        start();
        MemorySegment m = guest.memory();
        writeRequest(m, 3, 0x1122_3344_5566_7788L, 0);
        set(VirtioMmio.QUEUE_NOTIFY, 0); // as if the ioeventfd had let it through

        await(() -> m.get(JAVA_SHORT, USED + 2) == 1, "used idx 1");
        assertEquals(0, m.get(JAVA_BYTE, STATUS), "VIRTIO_BLK_S_OK");
        assertEquals(0x1122_3344_5566_7788L, bdev.memory().get(JAVA_LONG, 3 * 512));
        await(() -> (reg(VirtioMmio.INTERRUPT_STATUS) & VirtioMmio.INTERRUPT_USED_BUFFER) != 0, "InterruptStatus bit 0");
        assertTrue(t.interrupts() >= 1);
        assertEquals(1, t.notifyExits());
        set(VirtioMmio.INTERRUPT_ACK, VirtioMmio.INTERRUPT_USED_BUFFER);
        assertEquals(0, reg(VirtioMmio.INTERRUPT_STATUS));
    }

    @Test
    void aDescriptorOutsideGuestMemoryStopsTheQueueWithNeedsReset() throws InterruptedException {
        start();
        MemorySegment m = guest.memory();
        descriptor(m, 0, 0x7fff_0000_0000L, 16, 0, 0);
        publishHead0(m);
        set(VirtioMmio.QUEUE_NOTIFY, 0);

        await(() -> (reg(VirtioMmio.STATUS) & VirtioMmio.STATUS_DEVICE_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
        assertTrue(t.failure().startsWith("queue 0 stopped: DESCRIPTOR_OUTSIDE_MEMORY"), t.failure());
        // the lcore sets the status bit, then raises the interrupt
        await(() -> (reg(VirtioMmio.INTERRUPT_STATUS) & VirtioMmio.INTERRUPT_CONFIG_CHANGE) != 0, "config change interrupt");
        assertEquals(0, m.get(JAVA_SHORT, USED + 2), "nothing was completed");
        assertTrue(lcore.isRunning(), "the lcore goes on");
    }

    /** A device whose rings are served elsewhere: records what the transport hands over. */
    private static final class RecordingExternal implements VirtioDevice, ExternalRings {
        final List<String> calls = new ArrayList<>();
        List<QueueConfig> queues;
        int kickFd = -1;
        int callFd = -1;

        @Override public int deviceType() { return 2; }
        @Override public long deviceFeatures() { return VirtioFeatures.mask(VirtioFeatures.VERSION_1) | 1L << 30; }
        @Override public int queueCount() { return 2; }
        @Override public int maxQueueSize() { return 64; }
        @Override public byte[] readConfig(int offset, int length) { return new byte[length]; }
        @Override public void writeConfig(int offset, byte[] data) { }
        @Override public void activate(long f, GuestMemory m, List<Virtqueue> q) {
            calls.add("activate");
        }
        @Override public void reset() { calls.add("reset"); }
        @Override public int process(int queueIndex) { calls.add("process"); return 0; }

        @Override
        public void start(long features, List<Vm.MemorySlot> memory,
                          List<QueueConfig> queues, int[] kickFds, int[] callFds) {
            calls.add("start features=0x" + Long.toHexString(features) + " slots=" + memory.size());
            this.queues = queues;
            this.kickFd = kickFds[0];
            this.callFd = callFds[0];
        }

        @Override public void stop() { calls.add("stop"); }
    }

    @Test
    void anExternalDeviceGetsTheRingsAndBothEventfdsAtDriverOkAndIsNeverPolled() throws InterruptedException {
        RecordingExternal ext = new RecordingExternal();
        VirtioMmioTransport x = new VirtioMmioTransport("ext", ext, guest.vm(), BASE + VirtioMmio.WINDOW, 17, lcore);
        try {
            x.attach(new MmioBus());
            set(x, VirtioMmio.DEVICE_FEATURES_SEL, 0);
            assertEquals(0, x.read(VirtioMmio.DEVICE_FEATURES, 4) & 1L << 30, "the vhost-user protocol bit is not a virtio feature");
            start(x);

            assertEquals(List.of("start features=0x100000000 slots=1"), ext.calls);
            assertEquals(2, ext.queues.size());
            assertEquals(QueueConfig.guestPhysical(16, DESC, AVAIL, USED, 1L << 32), ext.queues.get(0));
            assertNull(ext.queues.get(1), "queue 1 was left unused");
            assertTrue(ext.kickFd >= 0 && ext.callFd >= 0 && ext.kickFd != ext.callFd);
            Thread.sleep(50);
            assertTrue(ext.calls.stream().noneMatch(c -> c.equals("process") || c.equals("activate")), ext.calls.toString());

            set(x, VirtioMmio.QUEUE_SEL, 1);
            set(x, VirtioMmio.QUEUE_NUM, 16);
            set(x, VirtioMmio.QUEUE_READY, 1);
            assertTrue(x.failure().contains("after DRIVER_OK of a vhost-user device"), x.failure());
            assertEquals("stop", ext.calls.get(1), "a failure stops the back-end's rings");

            set(x, VirtioMmio.STATUS, 0);
            assertEquals(0, x.status());
        } finally {
            x.close();
        }
    }

    // ------------------------------------------------------------------ a vhost-user back-end that dies or misbehaves

    /** The socket and eventfd count once the test's lcore runs (its thread opens its epoll when it starts). */
    private long baseline() throws Exception {
        lcore.execute(() -> { }).get(10, java.util.concurrent.TimeUnit.SECONDS);
        return ScriptedVhostUserBackend.countSocketAndEventFds();
    }

    /** From reset: negotiated, queue 0 of 16 ready, DRIVER_OK, on transport {@code x}. */
    private static void start(VirtioMmioTransport x) {
        set(x, VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER);
        set(x, VirtioMmio.DRIVER_FEATURES_SEL, 1);
        set(x, VirtioMmio.DRIVER_FEATURES, 1);
        set(x, VirtioMmio.STATUS, FEATURES_OK);
        set(x, VirtioMmio.QUEUE_SEL, 0);
        set(x, VirtioMmio.QUEUE_NUM, 16);
        set(x, VirtioMmio.QUEUE_DESC_LOW, DESC);
        set(x, VirtioMmio.QUEUE_DRIVER_LOW, AVAIL);
        set(x, VirtioMmio.QUEUE_DEVICE_LOW, USED);
        set(x, VirtioMmio.QUEUE_READY, 1);
        set(x, VirtioMmio.STATUS, FEATURES_OK | VirtioMmio.STATUS_DRIVER_OK);
    }

    /** virtio 1.2, 2.1.2: DEVICE_NEEDS_RESET, a configuration change interrupt, the reason naming the socket and {@code what}. */
    private static void assertNeedsResetNaming(VirtioMmioTransport x, java.nio.file.Path socket, String what) throws InterruptedException {
        await(() -> (x.status() & VirtioMmio.STATUS_DEVICE_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
        // raised after the status bit and the reason are set
        await(() -> (x.interruptStatus() & VirtioMmio.INTERRUPT_CONFIG_CHANGE) != 0, "the configuration change interrupt");
        assertTrue(x.failure().contains(socket.toString()) && x.failure().contains(what), "the reason names the socket and '" + what + "': " + x.failure());
    }

    /** The guest resets the failed device (nothing throws into the vCPU), and a new DRIVER_OK is refused with the reason. */
    private static void resetAndRetry(VirtioMmioTransport x, java.nio.file.Path socket) throws InterruptedException {
        set(x, VirtioMmio.STATUS, 0);
        assertEquals(0, x.status(), "the reset took");
        start(x);
        assertNeedsResetNaming(x, socket, "refused the rings");
    }

    @Test
    void aVhostUserBackEndThatDiesWhileTheRingsRunSetsNeedsResetAndTheResetDoesNotThrow(@TempDir java.nio.file.Path dir) throws Exception {
        long baseline = baseline();
        java.nio.file.Path sock = dir.resolve("blk.sock");
        try (BlkDeviceFixture served = new BlkDeviceFixture("mmio-dead")) {
            VhostUserBackend backend = served.listen(sock);
            VhostUserDevice remote = VhostUserDevice.connect(sock, 2, 128);
            VirtioMmioTransport x = new VirtioMmioTransport("vhost", remote, guest.vm(), BASE + VirtioMmio.WINDOW, 17, lcore);
            try {
                x.attach(new MmioBus());
                start(x);
                assertEquals(0, x.status() & VirtioMmio.STATUS_DEVICE_NEEDS_RESET, "the back-end took the rings: " + x.failure());

                backend.close(); // the back-end dies with the rings running

                assertNeedsResetNaming(x, sock, "closed the connection");
                resetAndRetry(x, sock);
            } finally {
                x.close();
                remote.close();
            }
        }
        ScriptedVhostUserBackend.assertFdsSettleTo(baseline);
    }

    @Test
    void aBackEndThatAnswersTheRingStopWithTheWrongRequestFailsTheDeviceWithoutThrowingIntoTheReset(@TempDir java.nio.file.Path dir)
            throws Exception {
        long baseline = baseline();
        java.nio.file.Path sock = dir.resolve("bad.sock");
        try (ScriptedVhostUserBackend backend = new ScriptedVhostUserBackend(sock, ScriptedVhostUserBackend.Misbehaviour.WRONG_REQUEST_IN_REPLY)) {
            VhostUserDevice remote = VhostUserDevice.connect(sock, 2, 1, 128);
            VirtioMmioTransport x = new VirtioMmioTransport("vhost", remote, guest.vm(), BASE + VirtioMmio.WINDOW, 17, lcore);
            try {
                x.attach(new MmioBus());
                start(x);
                backend.awaitRingsRunning();
                assertEquals(0, x.status() & VirtioMmio.STATUS_DEVICE_NEEDS_RESET, "the back-end took the rings: " + x.failure());

                set(x, VirtioMmio.STATUS, 0); // GET_VRING_BASE is answered as GET_FEATURES: the reset still completes
                assertEquals(0, x.status(), "the reset took");
                assertTrue(remote.failure() != null && remote.failure().contains("expected a reply to GET_VRING_BASE"), "failed: " + remote.failure());
                start(x);
                assertNeedsResetNaming(x, sock, "GET_VRING_BASE");
            } finally {
                x.close();
                remote.close();
            }
        }
        ScriptedVhostUserBackend.assertFdsSettleTo(baseline);
    }

    private static void set(VirtioMmioTransport x, int offset, long value) {
        x.write(offset, 4, value);
    }
}

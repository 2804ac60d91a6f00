package io.ringway.vcpu.pci.virtio;

import java.lang.foreign.MemorySegment;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.EventFd;
import io.ringway.runtime.sys.LinuxException;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.GsiRoute;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmLapicState;
import io.ringway.vcpu.kvm.KvmTestSupport;
import io.ringway.vcpu.kvm.Vcpu;
import io.ringway.vcpu.pci.PciBus;
import io.ringway.vcpu.pci.PciConfigSpace;
import io.ringway.vcpu.virtio.BlkDeviceFixture;
import io.ringway.vcpu.virtio.BlkRingDriver;
import io.ringway.vcpu.virtio.ScriptedVhostUserBackend;
import io.ringway.vcpu.virtio.ScriptedVhostUserBackend.Misbehaviour;
import io.ringway.vcpu.virtio.VhostUserDevice;
import io.ringway.vhost.backend.VhostUserBackend;

import static io.ringway.vcpu.pci.virtio.VirtioPciLayout.*;
import static io.ringway.vcpu.virtio.BlkRingDriver.AVAIL;
import static io.ringway.vcpu.virtio.BlkRingDriver.DESC;
import static io.ringway.vcpu.virtio.BlkRingDriver.STATUS;
import static io.ringway.vcpu.virtio.BlkRingDriver.USED;
import static io.ringway.vcpu.virtio.BlkRingDriver.await;
import static io.ringway.vcpu.virtio.BlkRingDriver.descriptor;
import static io.ringway.vcpu.virtio.BlkRingDriver.publishHead0;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A virtio-pci function wired to a real VM and Ringway's in-process virtio-blk: the test is the
 * driver, reaching configuration space through 0xCF8/0xCFC and BAR 0 through the MMIO bus exactly
 * as the VMM's exit handler does. Checks that the notify ioeventfds follow the BAR, that a
 * notification reaches the device and its completion comes out of the MSI-X route as the vector the
 * driver programmed (in the vCPU's local APIC IRR), masking holds the interrupt back, a reset stops
 * and frees the device and a second activation works. Needs /dev/kvm.
 */
class VirtioPciFunctionTest {
    private int slot = 3;
    private static final long BAR_ADDR = 0xc000_0000L;
    private static final int VECTOR_A = 0x41;
    private static final int VECTOR_B = 0x52;
    /** What {@link #enableMsix()} programs into vector 1, the configuration vector of {@link #driverOk()}. */
    private static final int CONFIG_VECTOR = 0x60;

    private Kvm kvm;
    private MicroGuest guest;
    private Vcpu vcpu;
    private BlkDeviceFixture blk;
    private Lcore lcore;
    private MallocBlockDevice bdev;
    private VirtioBlkDevice device;
    private VirtioPciFunction f;
    private final IoBus io = new IoBus();
    private final MmioBus mmio = new MmioBus();
    private int nextHead;
    private PciBus bus;

    @BeforeEach
    void setUp() {
        kvm = KvmTestSupport.openOrSkip();
        guest = MicroGuest.create(kvm, 4 << 20);
        guest.vm().createIrqchip();
        vcpu = guest.vm().createVcpu(0);
        vcpu.setLapic(vcpu.getLapic().softwareEnable(0xff)); // KVM drops fixed interrupts to a disabled APIC
        blk = new BlkDeviceFixture("pci-test");
        lcore = blk.lcore;
        bdev = blk.disk;
        device = blk.device;
        f = VirtioPciFunction.create("blk-test", guest.vm(), device, lcore);
        bus = new PciBus(io, mmio);
        bus.registerPorts();
        bus.add(slot, f.pciDevice());
    }

    @AfterEach
    void tearDown() {
        if (f != null) {
            f.close();
            blk.close();
            guest.close();
            kvm.close();
        }
    }

    // ------------------------------------------------------------------ the driver's accesses

    private void cfgWrite(int offset, int size, long value) {
        io.write(PciBus.CONFIG_ADDRESS, 4, PciBus.ENABLE | slot << 11 | (offset & 0xfc));
        io.write(PciBus.CONFIG_DATA + (offset & 3), size, value);
    }

    private long cfgRead(int offset, int size) {
        io.write(PciBus.CONFIG_ADDRESS, 4, PciBus.ENABLE | slot << 11 | (offset & 0xfc));
        return io.read(PciBus.CONFIG_DATA + (offset & 3), size);
    }

    private void mapBar(long address) {
        cfgWrite(PciConfigSpace.BAR0, 4, address & 0xffff_ffffL);
        cfgWrite(PciConfigSpace.BAR0 + 4, 4, address >>> 32);
        cfgWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
    }

    private void common(int offset, int size, long value) {
        mmio.write(BAR_ADDR + COMMON + offset, size, value);
    }

    private long common(int offset, int size) {
        return mmio.read(BAR_ADDR + COMMON + offset, size);
    }

    /** MSI-X table entry {@code vector}: a fixed interrupt {@code apicVector} to APIC 0, masked or not. */
    private void msixEntry(int vector, int apicVector, boolean masked) {
        long at = BAR_ADDR + MSIX_TABLE + (long) vector * MSIX_ENTRY_SIZE;
        mmio.write(at, 4, GsiRoute.MSI_ADDRESS_BASE);
        mmio.write(at + 4, 4, 0);
        mmio.write(at + 8, 4, apicVector);
        mmio.write(at + 12, 4, masked ? MSIX_ENTRY_MASKED : 0);
    }

    private void enableMsix() {
        int control = f.pciDevice().msixCapability() + 2;
        cfgWrite(control, 2, MSIX_ENABLE | MSIX_FUNCTION_MASK); // as Linux: enable with the function masked, program, unmask
        msixEntry(0, VECTOR_A, false);
        msixEntry(1, CONFIG_VECTOR, false);
        cfgWrite(control, 2, MSIX_ENABLE);
    }

    /** virtio 1.2, 3.1.1 with queue 0 (16 entries, vector 0) and VERSION_1 only. */
    private void driverOk() {
        bringUp();
        assertEquals(0, common(DEVICE_STATUS, 1) & STATUS_NEEDS_RESET, "the device started: " + f.pciDevice().failure());
        nextHead = 0;
    }

    /** {@link #driverOk()} without expecting the device to start. */
    private void bringUp() {
        common(DEVICE_STATUS, 1, 0);
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        common(DRIVER_FEATURE_SELECT, 4, 1);
        common(DRIVER_FEATURE, 4, 1); // VERSION_1
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        assertEquals(STATUS_FEATURES_OK, common(DEVICE_STATUS, 1) & STATUS_FEATURES_OK, "FEATURES_OK accepted");
        common(CONFIG_MSIX_VECTOR, 2, 1);
        common(QUEUE_SELECT, 2, 0);
        common(QUEUE_SIZE, 2, 16);
        common(QUEUE_MSIX_VECTOR, 2, 0);
        assertEquals(0, common(QUEUE_MSIX_VECTOR, 2), "vector 0 accepted for queue 0");
        common(QUEUE_DESC, 8, DESC);
        common(QUEUE_DRIVER, 8, AVAIL);
        common(QUEUE_DEVICE, 8, USED);
        common(QUEUE_ENABLE, 2, 1);
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    }

    /** A VIRTIO_BLK_T_OUT of one sector with {@code value} at sector {@code sector}, made available; returns the new avail idx. */
    private int writeRequest(int sector, long value) {
        nextHead = BlkRingDriver.writeRequest(guest.memory(), sector, value, nextHead);
        return nextHead;
    }

    /** The driver's write to queue 0's notify address, as an exit delivers it (the ioeventfd only sees real guest writes). */
    private void notifyQueue0() {
        mmio.write(BAR_ADDR + NOTIFY, 2, 0);
    }

    private boolean irr(int vector) {
        return vcpu.getLapic().bit(KvmLapicState.IRR, vector);
    }

    /** Whether KVM already has an ioeventfd at {@code address} (a second zero-length one collides: EEXIST). */
    private boolean ioeventfdAt(long address) {
        try (EventFd probe = EventFd.create(true)) {
            try {
                guest.vm().addIoeventfd(probe, address, 0, false, null);
            } catch (LinuxException e) {
                return true;
            }
            guest.vm().removeIoeventfd(probe, address, 0, false, null);
            return false;
        }
    }

    // ------------------------------------------------------------------ rules

    @Test
    void theFunctionIsAModernVirtioBlockDeviceWithItsConfigurationInBar0() {
        assertEquals(VENDOR_ID, cfgRead(PciConfigSpace.VENDOR_ID, 2));
        assertEquals(DEVICE_ID_BASE + 2, cfgRead(PciConfigSpace.DEVICE_ID, 2));
        assertEquals(0x01_00_00, cfgRead(PciConfigSpace.CLASS_CODE - 1, 4) >>> 8, "class: mass storage");
        mapBar(BAR_ADDR);
        assertEquals(1, common(NUM_QUEUES, 2));
        assertEquals(128, common(QUEUE_SIZE, 2), "queue_size reads the device's maximum");
        assertEquals((1 << 20) / 512, mmio.read(BAR_ADDR + DEVICE, 8), "virtio-blk capacity in sectors at device config 0");
    }

    @Test
    void theNotifyIoeventfdsFollowTheBarAndLeaveWhenDecodingStops() {
        assertFalse(f.notifyWired(), "nothing before the guest maps the BAR");
        assertFalse(ioeventfdAt(BAR_ADDR + NOTIFY));
        mapBar(BAR_ADDR);
        assertTrue(f.notifyWired());
        assertTrue(ioeventfdAt(BAR_ADDR + NOTIFY), "queue 0's notify address is an ioeventfd");

        long moved = BAR_ADDR + 0x10_0000;
        cfgWrite(PciConfigSpace.BAR0, 4, moved);
        assertTrue(ioeventfdAt(moved + NOTIFY), "moved with the BAR");
        assertFalse(ioeventfdAt(BAR_ADDR + NOTIFY), "and gone from the old address");

        cfgWrite(PciConfigSpace.COMMAND, 2, 0);
        assertFalse(f.notifyWired());
        assertFalse(ioeventfdAt(moved + NOTIFY), "memory decoding off: no ioeventfd");
        cfgWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
        cfgWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        assertTrue(ioeventfdAt(moved + NOTIFY), "back on, registered once (a second command write changes nothing)");
    }

    @Test
    void aNotifiedRequestCompletesAndRaisesTheProgrammedMsixVectorThroughItsRoute() throws InterruptedException {
        mapBar(BAR_ADDR);
        enableMsix();
        assertTrue(f.irqfdAttached(0), "vector 0 unmasked: its eventfd is an irqfd");
        driverOk();
        int idx = writeRequest(3, 0x1122_3344_5566_7788L);
        notifyQueue0();

        await(() -> guest.memory().get(JAVA_SHORT, USED + 2) == idx, "used idx " + idx);
        assertEquals(0, guest.memory().get(JAVA_BYTE, STATUS), "VIRTIO_BLK_S_OK");
        assertEquals(0x1122_3344_5566_7788L, bdev.memory().get(JAVA_LONG, 3 * 512), "the data reached the bdev");
        await(() -> irr(VECTOR_A), "vector 0x41 pending in the vCPU's local APIC");
        assertEquals(1, f.slowNotifies());
        assertTrue(guest.vm().gsiRoutes().contains(new GsiRoute.Msi(f.gsi(0), GsiRoute.MSI_ADDRESS_BASE, VECTOR_A)),
            "the vector's GSI routes to the message the driver wrote");
    }

    @Test
    void aNewMessageOnAnUnmaskedVectorMovesItsRoute() {
        mapBar(BAR_ADDR);
        enableMsix();
        long before = guest.vm().gsiRoutes().size();
        mmio.write(BAR_ADDR + MSIX_TABLE + 8, 4, VECTOR_B); // data only, the entry stays unmasked (an affinity change)
        assertTrue(guest.vm().gsiRoutes().contains(new GsiRoute.Msi(f.gsi(0), GsiRoute.MSI_ADDRESS_BASE, VECTOR_B)), "re-routed");
        assertTrue(guest.vm().gsiRoutes().stream().noneMatch(r -> r.equals(new GsiRoute.Msi(f.gsi(0), GsiRoute.MSI_ADDRESS_BASE, VECTOR_A))),
            "the old message is gone");
        assertEquals(before, guest.vm().gsiRoutes().size(), "one route per vector, replaced in place");
        assertTrue(f.irqfdAttached(0));
        cfgWrite(f.pciDevice().msixCapability() + 2, 2, 0); // MSI-X disabled: no vector is deliverable
        assertFalse(f.irqfdAttached(0));
        assertFalse(f.irqfdAttached(1));
    }

    @Test
    void aMaskedVectorHoldsItsInterruptUntilUnmasked() throws InterruptedException {
        mapBar(BAR_ADDR);
        enableMsix();
        driverOk();
        msixEntry(0, VECTOR_B, true); // masked, and a new message meanwhile
        assertFalse(f.irqfdAttached(0), "masked: the irqfd is detached");
        int idx = writeRequest(5, 42);
        notifyQueue0();
        await(() -> guest.memory().get(JAVA_SHORT, USED + 2) == idx, "used idx " + idx);
        Thread.sleep(50);
        assertFalse(irr(VECTOR_B), "nothing delivered while masked");

        msixEntry(0, VECTOR_B, false);
        assertTrue(f.irqfdAttached(0));
        await(() -> irr(VECTOR_B), "the held interrupt is delivered on unmask, with the new message");
    }

    @Test
    void aResetStopsTheDeviceAndASecondActivationWorks() throws InterruptedException {
        mapBar(BAR_ADDR);
        enableMsix();
        driverOk();
        int idx = writeRequest(1, 7);
        notifyQueue0();
        await(() -> guest.memory().get(JAVA_SHORT, USED + 2) == idx, "first run");

        common(DEVICE_STATUS, 1, 0);
        assertEquals(0, common(DEVICE_STATUS, 1));
        assertEquals(0, common(QUEUE_ENABLE, 2), "queues forgotten");
        // the device is off the lcore: a request made available now is not served
        guest.memory().set(JAVA_SHORT, USED + 2, (short) 0);
        nextHead = 0;
        writeRequest(2, 8);
        notifyQueue0();
        Thread.sleep(50);
        assertEquals(0, guest.memory().get(JAVA_SHORT, USED + 2), "a reset device serves nothing");

        guest.memory().set(JAVA_SHORT, AVAIL + 2, (short) 0);
        driverOk();
        int again = writeRequest(9, 0xabcdL);
        notifyQueue0();
        await(() -> guest.memory().get(JAVA_SHORT, USED + 2) == again, "second activation serves the queue");
        assertEquals(0xabcdL, bdev.memory().get(JAVA_LONG, 9 * 512));
    }

    @Test
    void aDescriptorOutsideGuestMemorySetsNeedsResetAndTheLcoreGoesOn() throws InterruptedException {
        mapBar(BAR_ADDR);
        enableMsix();
        driverOk();
        MemorySegment m = guest.memory();
        descriptor(m, 0, 0x7fff_0000_0000L, 16, 0, 0);
        publishHead0(m);
        notifyQueue0();
        await(() -> (common(DEVICE_STATUS, 1) & STATUS_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
        assertTrue(f.pciDevice().failure().contains("queue 0 stopped"), f.pciDevice().failure());
        await(() -> irr(0x60), "configuration change interrupt on the config vector");
        assertTrue(lcore.isRunning(), "the lcore goes on");
        common(DEVICE_STATUS, 1, 0);
        m.set(JAVA_SHORT, AVAIL + 2, (short) 0);
        driverOk();
        int idx = writeRequest(4, 99);
        notifyQueue0();
        await(() -> m.get(JAVA_SHORT, USED + 2) == idx, "works again after the reset");
    }

    @Test
    void ringsOutsideGuestMemoryRefuseDriverOkWithTheReason() {
        mapBar(BAR_ADDR);
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        common(DRIVER_FEATURE_SELECT, 4, 1);
        common(DRIVER_FEATURE, 4, 1);
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        common(QUEUE_SIZE, 2, 16);
        common(QUEUE_DESC, 8, 0x1_0000_0000L);
        common(QUEUE_DRIVER, 8, AVAIL);
        common(QUEUE_DEVICE, 8, USED);
        common(QUEUE_ENABLE, 2, 1);
        common(DEVICE_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        assertNotEquals(0, common(DEVICE_STATUS, 1) & STATUS_NEEDS_RESET);
        assertTrue(f.pciDevice().failure().contains("outside guest memory"), f.pciDevice().failure());
    }

    @Test
    void anUnroutableMessageIsCountedAndLeavesTheVectorSilent() {
        mapBar(BAR_ADDR);
        int control = f.pciDevice().msixCapability() + 2;
        cfgWrite(control, 2, MSIX_ENABLE);
        long at = BAR_ADDR + MSIX_TABLE;
        mmio.write(at, 4, 0x1234_0000L); // not the local APIC window
        mmio.write(at + 8, 4, VECTOR_A);
        mmio.write(at + 12, 4, 0);
        assertEquals(1, f.badMessages());
        assertFalse(f.irqfdAttached(0));
    }

    @Test
    void aVhostUserBackendGetsTheRingsAndItsCompletionRaisesTheVectorWithoutThisProcess(@TempDir java.nio.file.Path dir) throws Exception {
        cfgWrite(PciConfigSpace.COMMAND, 2, 0); // the in-process function's BAR off the bus
        try (BlkDeviceFixture served = new BlkDeviceFixture("pci-vhost");
             VhostUserBackend backend = served.listen(dir.resolve("blk.sock"));
             VhostUserDevice remote = VhostUserDevice.connect(dir.resolve("blk.sock"), 2, 128)) {
            assertEquals(1, remote.queueCount(), "the back-end's GET_QUEUE_NUM");
            f.close();
            f = VirtioPciFunction.create("vhost-test", guest.vm(), remote, null);
            slot = 4;
            bus.add(slot, f.pciDevice());
            mapBar(BAR_ADDR);
            assertTrue(ioeventfdAt(BAR_ADDR + NOTIFY), "the vhost function's notify address is an ioeventfd");
            enableMsix();
            driverOk();
            int idx = writeRequest(6, 0x5555_aaaa_1234_5678L);
            notifyQueue0(); // the exit path signals the back-end's kick fd, as the ioeventfd would

            await(() -> guest.memory().get(JAVA_SHORT, USED + 2) == idx, "the back-end published used idx " + idx);
            assertEquals(0, guest.memory().get(JAVA_BYTE, STATUS), "VIRTIO_BLK_S_OK");
            assertEquals(0x5555_aaaa_1234_5678L, served.disk.memory().get(JAVA_LONG, 6 * 512), "the data reached the back-end's bdev");
            await(() -> irr(VECTOR_A), "the back-end's call fd is the vector's irqfd");

            common(DEVICE_STATUS, 1, 0); // reset: the back-end's rings stop
            assertEquals(0, common(DEVICE_STATUS, 1));
            guest.memory().set(JAVA_SHORT, AVAIL + 2, (short) 0);
            guest.memory().set(JAVA_SHORT, USED + 2, (short) 0);
            driverOk();
            int again = writeRequest(7, 77);
            notifyQueue0();
            await(() -> guest.memory().get(JAVA_SHORT, USED + 2) == again, "second activation through the back-end");
            assertEquals(77, served.disk.memory().get(JAVA_LONG, 7 * 512));
            f.close();
        }
    }

    // ------------------------------------------------------------------ a vhost-user back-end that dies or misbehaves

    /** Takes the in-process function off the bus and closes it; returns the socket/eventfd count then (the lcore running: its thread opens its epoll when it starts). */
    private long withoutTheInProcessFunction() throws Exception {
        cfgWrite(PciConfigSpace.COMMAND, 2, 0);
        f.close();
        lcore.execute(() -> { }).get(10, java.util.concurrent.TimeUnit.SECONDS);
        return ScriptedVhostUserBackend.countSocketAndEventFds();
    }

    /** A function for {@code remote} at slot 4, BAR mapped, MSI-X on. */
    private void attach(VhostUserDevice remote) {
        f = VirtioPciFunction.create("vhost-test", guest.vm(), remote, null);
        slot = 4;
        bus.add(slot, f.pciDevice());
        mapBar(BAR_ADDR);
        enableMsix();
    }

    private boolean needsReset() {
        return (common(DEVICE_STATUS, 1) & STATUS_NEEDS_RESET) != 0;
    }

    /** virtio 1.2, 2.1.2: DEVICE_NEEDS_RESET, the configuration vector raised, the reason naming the socket and {@code what}. */
    private void assertNeedsResetNaming(java.nio.file.Path socket, String what) throws InterruptedException {
        await(this::needsReset, "DEVICE_NEEDS_RESET");
        await(() -> irr(CONFIG_VECTOR), "the configuration change interrupt on the config vector");
        String why = f.pciDevice().failure();
        assertTrue(why.contains(socket.toString()) && why.contains(what), "the reason names the socket and '" + what + "': " + why);
    }

    /** The guest resets the failed device (nothing throws into the vCPU), and a new DRIVER_OK is refused with the reason. */
    private void resetAndRetry(java.nio.file.Path socket) throws InterruptedException {
        common(DEVICE_STATUS, 1, 0);
        assertEquals(0, common(DEVICE_STATUS, 1), "the reset took");
        bringUp();
        assertNeedsResetNaming(socket, "vhost-user back-end");
    }

    @Test
    void aVhostUserBackEndThatDiesWhileTheRingsRunSetsNeedsResetAndTheResetDoesNotThrow(@TempDir java.nio.file.Path dir) throws Exception {
        long baseline = withoutTheInProcessFunction();
        java.nio.file.Path sock = dir.resolve("blk.sock");
        try (BlkDeviceFixture served = new BlkDeviceFixture("pci-dead")) {
            VhostUserBackend backend = served.listen(sock);
            VhostUserDevice remote = VhostUserDevice.connect(sock, 2, 128);
            try {
                attach(remote);
                driverOk();
                int idx = writeRequest(6, 66);
                notifyQueue0();
                await(() -> guest.memory().get(JAVA_SHORT, USED + 2) == idx, "the back-end served a request");

                backend.close(); // the back-end dies with the rings running

                assertNeedsResetNaming(sock, "closed the connection");
                resetAndRetry(sock);
                int gsi = f.gsi(0);
                f.close();
                assertFalse(ioeventfdAt(BAR_ADDR + NOTIFY), "the notify ioeventfd is gone");
                assertTrue(guest.vm().gsiRoutes().stream().noneMatch(r -> r.gsi() == gsi), "the vector's route is gone");
            } finally {
                f.close();
                remote.close();
            }
        }
        ScriptedVhostUserBackend.assertFdsSettleTo(baseline);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(value = Misbehaviour.class, names = {"WRONG_REQUEST_IN_REPLY", "WRONG_REPLY_SIZE", "NO_REPLY"})
    @org.junit.jupiter.api.Timeout(value = 60, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
    void aBackEndThatAnswersTheRingStopWrongFailsTheDeviceWithoutThrowingIntoTheReset(Misbehaviour how, @TempDir java.nio.file.Path dir)
            throws Exception {
        long baseline = withoutTheInProcessFunction();
        java.nio.file.Path sock = dir.resolve("bad.sock");
        try (ScriptedVhostUserBackend backend = new ScriptedVhostUserBackend(sock, how)) {
            VhostUserDevice remote = VhostUserDevice.connect(sock, 2, 1, 128);
            try {
                attach(remote);
                driverOk();
                backend.awaitRingsRunning();

                common(DEVICE_STATUS, 1, 0); // GET_VRING_BASE gets a wrong answer, or none: the reset still completes
                assertEquals(0, common(DEVICE_STATUS, 1), "the reset took");
                assertTrue(remote.failure() != null && remote.failure().contains("GET_VRING_BASE"), "the device failed: " + remote.failure());
                bringUp();
                assertNeedsResetNaming(sock, "GET_VRING_BASE");
                common(DEVICE_STATUS, 1, 0);
            } finally {
                f.close();
                remote.close();
            }
        }
        ScriptedVhostUserBackend.assertFdsSettleTo(baseline);
    }

    @Test
    void aBackEndThatSendsBytesNobodyAskedForSetsNeedsReset(@TempDir java.nio.file.Path dir) throws Exception {
        long baseline = withoutTheInProcessFunction();
        java.nio.file.Path sock = dir.resolve("stray.sock");
        try (ScriptedVhostUserBackend backend = new ScriptedVhostUserBackend(sock, Misbehaviour.STRAY_BYTES_WHILE_RUNNING)) {
            VhostUserDevice remote = VhostUserDevice.connect(sock, 2, 1, 128);
            try {
                attach(remote);
                driverOk();
                backend.awaitRingsRunning();
                assertNeedsResetNaming(sock, "sent bytes no request asked for");
                resetAndRetry(sock);
            } finally {
                f.close();
                remote.close();
            }
        }
        ScriptedVhostUserBackend.assertFdsSettleTo(baseline);
    }

    @Test
    void closeRemovesRoutesIoeventfdsAndIrqfds() {
        mapBar(BAR_ADDR);
        enableMsix();
        int gsi = f.gsi(0);
        f.close();
        assertFalse(ioeventfdAt(BAR_ADDR + NOTIFY), "ioeventfd removed");
        assertTrue(guest.vm().gsiRoutes().stream().noneMatch(r -> r.gsi() == gsi), "route removed");
        f.close(); // twice: nothing left to free, no exception
    }
}

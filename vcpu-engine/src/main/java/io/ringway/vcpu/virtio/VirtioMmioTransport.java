package io.ringway.vcpu.virtio;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.EventFd;
import io.ringway.vcpu.exit.BusDevice;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.kvm.Vm;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;
import io.ringway.vhost.virtio.VirtqueueException;

/**
 * The virtio-mmio transport (virtio 1.2, 4.2, register layout version 2) of one in-process
 * {@link VirtioDevice} at a fixed guest-physical address.
 *
 * <p>Signalling never goes through userspace on the data path: a guest write to QueueNotify hits a
 * zero-length, datamatch-free ioeventfd (no exit; the value, the queue index, is not needed
 * because one poller serves all of the device's queues), which is the wakeup fd of the device's
 * poller on its own {@link Lcore}; a used buffer notification sets InterruptStatus bit 0 and
 * signals an irqfd wired to a GSI of the in-kernel irqchip. Every other register access is an
 * MMIO exit handled here, on the vCPU thread.
 *
 * <p>A driver that breaks a rule (a queue size that is zero, not a power of 2 or above
 * QueueNumMax, ring addresses outside guest memory, QueueReady before FEATURES_OK, DRIVER_OK
 * without FEATURES_OK, status bits cleared without a reset, a register accessed other than as an
 * aligned 32-bit word) puts the device in DEVICE_NEEDS_RESET (virtio 1.2, 2.1.2): the queues stop,
 * a configuration change interrupt is raised, one log line names the rule, and the device works
 * again after the driver writes 0 to Status. The process and the other devices go on.
 */
public final class VirtioMmioTransport implements BusDevice, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VirtioMmioTransport.class.getName());
    private static final VarHandle INTERRUPT_STATUS;
    private static final VarHandle STATUS;
    private static final long CONTROL_TIMEOUT_SECONDS = 10;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            INTERRUPT_STATUS = l.findVarHandle(VirtioMmioTransport.class, "interruptStatus", int.class);
            STATUS = l.findVarHandle(VirtioMmioTransport.class, "status", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** A queue's registers as the driver wrote them. */
    private static final class QueueRegisters {
        int num;
        long desc;
        long driver;
        long device;
        boolean ready;
        QueueConfig config;
        final InterruptingQueue queue;

        QueueRegisters(InterruptingQueue queue) {
            this.queue = queue;
        }
    }

    private final String name;
    private final VirtioDevice device;
    private final Vm vm;
    private final long base;
    private final int gsi;
    private final Lcore lcore;
    private final GuestMemory memory;
    private final long offered;
    private final QueueRegisters[] queues;
    private final List<Virtqueue> deviceQueues;
    private final DeviceQueuePoller poller;
    private final EventFd kick;
    private final EventFd irq;
    private final Runnable usedBufferInterrupt = () -> raise(VirtioMmio.INTERRUPT_USED_BUFFER);
    private MmioBus bus;

    // Registers, written on vCPU threads under this object's lock (MMIO exits are the slow path).
    private int deviceFeaturesSel;
    private int driverFeaturesSel;
    private int queueSel;
    private long driverFeatures;
    private long negotiated;
    private boolean pollerAdded;
    private boolean externalStarted;
    // Also written by the lcore (DEVICE_NEEDS_RESET, interrupts): atomic through the VarHandles.
    private volatile int status;
    private volatile int interruptStatus;
    private volatile String failure;
    private volatile long notifyExits;
    private volatile long interrupts;

    /**
     * A transport for {@code device} at guest-physical {@code base} (registers not yet visible: see
     * {@link #attach}). Guest memory is the VM's memory slots as they are now.
     *
     * @param name a short name for logs ("blk0")
     * @param device the device
     * @param vm the VM whose memory holds the rings and buffers
     * @param base guest-physical base, 512-byte aligned, outside memory
     * @param gsi the interrupt line completions raise through the irqfd
     * @param lcore the device's data-plane thread (owned by the caller)
     */
    public VirtioMmioTransport(String name, VirtioDevice device, Vm vm, long base, int gsi, Lcore lcore) {
        if ((base & (VirtioMmio.WINDOW - 1)) != 0) {
            throw new IllegalArgumentException("virtio-mmio base must be " + VirtioMmio.WINDOW + "-byte aligned, got 0x" + Long.toHexString(base));
        }
        for (Vm.MemorySlot s : vm.memorySlots()) {
            if (base < s.end() && s.gpa() < base + VirtioMmio.WINDOW) {
                throw new IllegalArgumentException("virtio-mmio window 0x" + Long.toHexString(base) + " overlaps memory slot "
                    + s.slot() + " [0x" + Long.toHexString(s.gpa()) + ", 0x" + Long.toHexString(s.end()) + ")");
            }
        }
        VirtioTransports.requireShareableMemory(name, device, vm);
        this.name = name;
        this.device = device;
        this.vm = vm;
        this.base = base;
        this.gsi = gsi;
        this.lcore = lcore;
        this.memory = VirtioTransports.guestMemory(vm);
        this.offered = device.deviceFeatures() & VirtioTransports.TRANSPORT_FEATURES;
        this.queues = new QueueRegisters[device.queueCount()];
        List<Virtqueue> dq = new ArrayList<>();
        for (int i = 0; i < queues.length; i++) {
            queues[i] = new QueueRegisters(new InterruptingQueue(usedBufferInterrupt));
            dq.add(queues[i].queue);
        }
        this.deviceQueues = Collections.unmodifiableList(dq);
        this.kick = EventFd.create(true);
        this.irq = EventFd.create(true);
        InterruptingQueue[] iq = new InterruptingQueue[queues.length];
        for (int i = 0; i < iq.length; i++) {
            iq[i] = queues[i].queue;
        }
        this.poller = new DeviceQueuePoller("virtio-mmio " + name, device, iq, kick,
            (queue, reason) -> markNeedsReset("queue " + queue + " stopped: " + reason));
        if (device instanceof ExternalRings external) {
            external.onFailure(this::markNeedsReset); // a dead vhost-user back-end: any thread, lock-free
        }
    }

    /**
     * Makes the device visible: claims [base, base + 0x200) on {@code bus}, wires QueueNotify to the
     * kick ioeventfd and the interrupt eventfd to the irqfd of {@link #gsi()} (the VM needs its
     * in-kernel irqchip, {@link Vm#createIrqchip()}).
     */
    public synchronized void attach(MmioBus bus) {
        if (this.bus != null) {
            throw new IllegalStateException(name + " is already attached");
        }
        vm.addIoeventfd(kick, base + VirtioMmio.QUEUE_NOTIFY, 0, false, null);
        try {
            vm.addIrqfd(irq, gsi);
            try {
                bus.register("virtio-mmio " + name, base, VirtioMmio.WINDOW, this);
            } catch (RuntimeException e) {
                vm.removeIrqfd(irq, gsi);
                throw e;
            }
        } catch (RuntimeException e) {
            vm.removeIoeventfd(kick, base + VirtioMmio.QUEUE_NOTIFY, 0, false, null);
            throw e;
        }
        this.bus = bus;
    }

    public String name() {
        return name;
    }

    public long base() {
        return base;
    }

    public int gsi() {
        return gsi;
    }

    /** The Status register as the driver would read it. */
    public int status() {
        return status;
    }

    /** The InterruptStatus register. */
    public int interruptStatus() {
        return interruptStatus;
    }

    /** Features the driver accepted at FEATURES_OK. */
    public synchronized long negotiatedFeatures() {
        return negotiated;
    }

    /** Why the device last went to DEVICE_NEEDS_RESET, or null. */
    public String failure() {
        return failure;
    }

    /** QueueNotify writes that reached userspace (0 while the ioeventfd absorbs them). */
    public long notifyExits() {
        return notifyExits;
    }

    /** Interrupts raised through the irqfd (used buffer and configuration change). */
    public long interrupts() {
        return interrupts;
    }

    // ---------------------------------------------------------------- registers (vCPU threads)

    @Override
    public synchronized long read(long offset, int size) {
        if (offset >= VirtioMmio.CONFIG) {
            byte[] b = device.readConfig((int) (offset - VirtioMmio.CONFIG), size);
            long v = 0;
            for (int i = b.length - 1; i >= 0; i--) {
                v = v << 8 | (b[i] & 0xff);
            }
            return v;
        }
        if (size != 4 || (offset & 3) != 0) {
            fail("register 0x" + Long.toHexString(offset) + " read as " + size + " bytes (virtio 1.2, 4.2.2.2: control registers are aligned 32-bit words)");
            return 0;
        }
        return switch ((int) offset) {
            case VirtioMmio.MAGIC_VALUE -> VirtioMmio.MAGIC;
            case VirtioMmio.VERSION -> VirtioMmio.VERSION_2;
            case VirtioMmio.DEVICE_ID -> device.deviceType();
            case VirtioMmio.VENDOR_ID -> VirtioMmio.VENDOR_RINGWAY;
            case VirtioMmio.DEVICE_FEATURES -> switch (deviceFeaturesSel) {
                case 0 -> offered & 0xffff_ffffL;
                case 1 -> offered >>> 32;
                default -> 0;
            };
            case VirtioMmio.QUEUE_NUM_MAX -> queueSel < queues.length ? Math.min(device.maxQueueSize(), 32768) : 0;
            case VirtioMmio.QUEUE_READY -> queueSel < queues.length && queues[queueSel].ready ? 1 : 0;
            case VirtioMmio.INTERRUPT_STATUS -> interruptStatus;
            case VirtioMmio.STATUS -> status;
            case VirtioMmio.SHM_LEN_LOW, VirtioMmio.SHM_LEN_HIGH -> 0xffff_ffffL; // no shared memory regions: length -1
            case VirtioMmio.CONFIG_GENERATION, VirtioMmio.QUEUE_RESET -> 0;
            default -> 0; // write-only and reserved registers read as 0
        };
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (offset >= VirtioMmio.CONFIG) {
            byte[] b = new byte[size];
            for (int i = 0; i < size; i++) {
                b[i] = (byte) (value >>> (8 * i));
            }
            device.writeConfig((int) (offset - VirtioMmio.CONFIG), b);
            return;
        }
        if (size != 4 || (offset & 3) != 0) {
            fail("register 0x" + Long.toHexString(offset) + " written as " + size + " bytes (virtio 1.2, 4.2.2.2: control registers are aligned 32-bit words)");
            return;
        }
        int v = (int) value;
        switch ((int) offset) {
            case VirtioMmio.DEVICE_FEATURES_SEL -> deviceFeaturesSel = v;
            case VirtioMmio.DRIVER_FEATURES_SEL -> driverFeaturesSel = v;
            case VirtioMmio.DRIVER_FEATURES -> writeDriverFeatures(v);
            case VirtioMmio.QUEUE_SEL -> queueSel = v;
            case VirtioMmio.QUEUE_NUM -> queueField(q -> q.num = v, "QueueNum");
            case VirtioMmio.QUEUE_DESC_LOW -> queueField(q -> q.desc = low(q.desc, v), "QueueDescLow");
            case VirtioMmio.QUEUE_DESC_HIGH -> queueField(q -> q.desc = high(q.desc, v), "QueueDescHigh");
            case VirtioMmio.QUEUE_DRIVER_LOW -> queueField(q -> q.driver = low(q.driver, v), "QueueDriverLow");
            case VirtioMmio.QUEUE_DRIVER_HIGH -> queueField(q -> q.driver = high(q.driver, v), "QueueDriverHigh");
            case VirtioMmio.QUEUE_DEVICE_LOW -> queueField(q -> q.device = low(q.device, v), "QueueDeviceLow");
            case VirtioMmio.QUEUE_DEVICE_HIGH -> queueField(q -> q.device = high(q.device, v), "QueueDeviceHigh");
            case VirtioMmio.QUEUE_READY -> writeQueueReady(v);
            case VirtioMmio.QUEUE_NOTIFY -> {
                // Only without the ioeventfd (or a kernel that let the write through): same effect.
                notifyExits++;
                kick.signal();
            }
            case VirtioMmio.INTERRUPT_ACK -> INTERRUPT_STATUS.getAndBitwiseAnd(this, ~v);
            case VirtioMmio.STATUS -> writeStatus(v);
            case VirtioMmio.QUEUE_RESET -> fail("QueueReset written, but VIRTIO_F_RING_RESET is not offered");
            default -> {
                // read-only and reserved registers ignore writes (virtio 1.2, 4.2.2.1)
            }
        }
    }

    private static long low(long old, int v) {
        return (old & 0xffff_ffff_0000_0000L) | (v & 0xffff_ffffL);
    }

    private static long high(long old, int v) {
        return (old & 0xffff_ffffL) | ((long) v << 32);
    }

    private interface QueueWrite {
        void apply(QueueRegisters q);
    }

    private void queueField(QueueWrite w, String register) {
        if (queueSel >= queues.length) {
            fail(register + " written for queue " + queueSel + ", but the device has " + queues.length + " queue(s)");
            return;
        }
        QueueRegisters q = queues[queueSel];
        if (q.ready) {
            // virtio 1.2, 4.2.2.3: the driver must not change a queue's registers while it is ready.
            fail(register + " written while queue " + queueSel + " is ready");
            return;
        }
        w.apply(q);
    }

    private void writeDriverFeatures(int v) {
        if ((status & VirtioMmio.STATUS_FEATURES_OK) != 0) {
            fail("DriverFeatures written after FEATURES_OK (virtio 1.2, 3.1.1)");
            return;
        }
        switch (driverFeaturesSel) {
            case 0 -> driverFeatures = low(driverFeatures, v);
            case 1 -> driverFeatures = high(driverFeatures, v);
            default -> {
                if (v != 0) {
                    fail("DriverFeatures word " + driverFeaturesSel + " = 0x" + Integer.toHexString(v) + ": no feature is offered there");
                }
            }
        }
    }

    private void writeQueueReady(int v) {
        if (queueSel >= queues.length) {
            fail("QueueReady written for queue " + queueSel + ", but the device has " + queues.length + " queue(s)");
            return;
        }
        QueueRegisters q = queues[queueSel];
        if (v == 0) {
            if (q.ready && externalStarted) {
                fail("QueueReady cleared on queue " + queueSel + " of a running vhost-user device (not supported: reset the device)");
                return;
            }
            if (q.ready) {
                stopPolling();
                q.ready = false;
                q.queue.reset();
                resumePolling();
            }
            return;
        }
        if (q.ready) {
            return;
        }
        if (externalStarted) {
            fail("QueueReady set on queue " + queueSel + " after DRIVER_OK of a vhost-user device (not supported: set up queues first)");
            return;
        }
        int s = status;
        if ((s & VirtioMmio.STATUS_FEATURES_OK) == 0) {
            fail("QueueReady set on queue " + queueSel + " before FEATURES_OK (virtio 1.2, 3.1.1: features first, then queues)");
            return;
        }
        if ((s & VirtioMmio.STATUS_DEVICE_NEEDS_RESET) != 0) {
            return; // a failed device accepts nothing until it is reset
        }
        int max = Math.min(device.maxQueueSize(), VirtioTransports.MAX_QUEUE_SIZE);
        QueueConfig config = QueueConfig.guestPhysical(q.num, q.desc, q.driver, q.device, negotiated);
        Virtqueue ring;
        try {
            // validated here for every device; an external one then gets the same addresses
            ring = VirtioTransports.activatedQueue(memory, config, max);
        } catch (VirtqueueException e) {
            fail("queue " + queueSel + ": " + e.getMessage() + " (size " + q.num + ", max " + max + ", desc 0x"
                + Long.toHexString(q.desc) + ", driver 0x" + Long.toHexString(q.driver) + ", device 0x" + Long.toHexString(q.device) + ")");
            return;
        }
        stopPolling();
        q.queue.delegate(ring);
        q.config = config;
        q.ready = true;
        resumePolling();
    }

    private void writeStatus(int v) {
        if (v == 0) {
            reset();
            return;
        }
        int old = status;
        if ((old & VirtioMmio.STATUS_DEVICE_NEEDS_RESET) != 0 && (v & VirtioMmio.STATUS_FAILED) == 0) {
            return; // only a reset (or FAILED) helps now; the failure was logged when it happened
        }
        int kept = old & VirtioMmio.STATUS_DEVICE_NEEDS_RESET; // device-owned bit
        int driverBits = v & ~VirtioMmio.STATUS_DEVICE_NEEDS_RESET;
        int cleared = old & ~VirtioMmio.STATUS_DEVICE_NEEDS_RESET & ~driverBits;
        if (cleared != 0) {
            fail("Status 0x" + Integer.toHexString(v) + " clears bits 0x" + Integer.toHexString(cleared)
                + " without a reset (virtio 1.2, 2.1.2: the driver must not clear status bits)");
            return;
        }
        int added = driverBits & ~old;
        if ((added & VirtioMmio.STATUS_FAILED) != 0) {
            LOG.log(System.Logger.Level.WARNING, name + ": the driver gave up on the device (Status FAILED)");
            stopPolling();
            STATUS.getAndBitwiseOr(this, VirtioMmio.STATUS_FAILED);
            return;
        }
        if ((added & VirtioMmio.STATUS_FEATURES_OK) != 0) {
            long unknown = driverFeatures & ~offered;
            if (unknown != 0 || !VirtioFeatures.has(driverFeatures, VirtioFeatures.VERSION_1)) {
                // virtio 1.2, 3.1.1 step 6: the device leaves FEATURES_OK clear when it cannot accept the subset.
                LOG.log(System.Logger.Level.WARNING, name + ": FEATURES_OK refused: driver features 0x" + Long.toHexString(driverFeatures)
                    + (unknown != 0 ? " include bits the device does not offer: 0x" + Long.toHexString(unknown)
                        : " lack VIRTIO_F_VERSION_1 (virtio-mmio version 2 has no legacy interface)"));
                driverBits &= ~VirtioMmio.STATUS_FEATURES_OK;
            } else {
                negotiated = driverFeatures;
            }
        }
        if ((added & VirtioMmio.STATUS_DRIVER_OK) != 0 && (driverBits & VirtioMmio.STATUS_FEATURES_OK) == 0) {
            fail("DRIVER_OK set without FEATURES_OK (virtio 1.2, 3.1.1)");
            return;
        }
        status = driverBits | kept;
        if ((added & VirtioMmio.STATUS_DRIVER_OK) != 0) {
            if (device instanceof ExternalRings external) {
                startExternal(external);
            } else {
                device.activate(negotiated, memory, deviceQueues);
                resumePolling();
            }
        }
    }

    /** virtio 1.2, 4.2.3.1: writing 0 to Status resets the device and every queue register. */
    private void reset() {
        stopPolling();
        device.reset();
        for (QueueRegisters q : queues) {
            q.queue.reset();
            q.queue.delegate(null);
            q.ready = false;
            q.config = null;
            q.num = 0;
            q.desc = 0;
            q.driver = 0;
            q.device = 0;
        }
        deviceFeaturesSel = 0;
        driverFeaturesSel = 0;
        queueSel = 0;
        driverFeatures = 0;
        negotiated = 0;
        failure = null;
        poller.rearm(); // the poller is off the lcore here
        interruptStatus = 0;
        status = 0;
        kick.read(); // stale kicks of the old rings
    }

    /** Takes the poller off the lcore (and waits) so that the queues can change under the lock. */
    private void stopPolling() {
        if (externalStarted) {
            externalStarted = false;
            ((ExternalRings) device).stop();
        }
        if (pollerAdded) {
            await(lcore.removePoller(poller), "remove the poller");
            pollerAdded = false;
        }
    }

    /**
     * Hands the rings to a device that serves them elsewhere (a vhost-user back-end): kicks reach it
     * through the ioeventfd, its calls reach the guest through the irqfd, both without this process.
     * The transport cannot tell which interrupts were used buffer notifications, so InterruptStatus
     * shows bit 0 while the device runs (a driver that sees it just checks its used rings).
     */
    private void startExternal(ExternalRings external) {
        List<QueueConfig> configs = new ArrayList<>();
        for (QueueRegisters q : queues) {
            configs.add(q.ready ? q.config : null);
        }
        try {
            int[] kicks = new int[queues.length];
            int[] calls = new int[queues.length];
            java.util.Arrays.fill(kicks, kick.fd());
            java.util.Arrays.fill(calls, irq.fd());
            external.start(negotiated, vm.memorySlots(), configs, kicks, calls);
        } catch (RuntimeException e) {
            fail("the vhost-user back-end refused the rings: " + e.getMessage());
            return;
        }
        externalStarted = true;
        INTERRUPT_STATUS.getAndBitwiseOr(this, VirtioMmio.INTERRUPT_USED_BUFFER);
    }

    /** Puts the poller back when the device runs (DRIVER_OK, not failed). */
    private void resumePolling() {
        int s = status;
        if (device instanceof ExternalRings) {
            return;
        }
        if (!pollerAdded && (s & VirtioMmio.STATUS_DRIVER_OK) != 0
                && (s & (VirtioMmio.STATUS_DEVICE_NEEDS_RESET | VirtioMmio.STATUS_FAILED)) == 0) {
            await(lcore.addPoller(poller), "add the poller");
            pollerAdded = true;
        }
    }

    private void await(java.util.concurrent.CompletableFuture<Void> f, String what) {
        try {
            f.get(CONTROL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(name + ": could not " + what + " on lcore " + lcore.name() + ": " + e, e);
        }
    }

    /**
     * DEVICE_NEEDS_RESET (virtio 1.2, 2.1.2), from the vCPU thread (under the lock): the poller
     * leaves the lcore, the driver gets a configuration change interrupt.
     */
    private void fail(String why) {
        stopPolling();
        for (QueueRegisters q : queues) {
            if (q.ready) {
                q.ready = false;
                q.queue.reset();
            }
        }
        markNeedsReset(why);
    }

    /** Sets DEVICE_NEEDS_RESET, logs once and raises the configuration change interrupt; any thread. */
    private void markNeedsReset(String why) {
        int old = (int) STATUS.getAndBitwiseOr(this, VirtioMmio.STATUS_DEVICE_NEEDS_RESET);
        if ((old & VirtioMmio.STATUS_DEVICE_NEEDS_RESET) == 0) {
            failure = why;
            LOG.log(System.Logger.Level.ERROR, name + ": DEVICE_NEEDS_RESET: " + why);
            raise(VirtioMmio.INTERRUPT_CONFIG_CHANGE);
        }
    }

    /** Sets {@code bits} in InterruptStatus and signals the irqfd. Lcore or vCPU thread; no allocation. */
    void raise(int bits) {
        INTERRUPT_STATUS.getAndBitwiseOr(this, bits);
        interrupts++; // one writer at a time in practice (the lcore); a lost count is harmless
        irq.signal();
    }

    /** Stops the device, unwires it from the VM and the bus, and closes its eventfds (not the lcore). */
    @Override
    public synchronized void close() {
        if (device instanceof ExternalRings external) {
            external.onFailure(null); // the irqfd is about to close: a later failure is only logged
        }
        try {
            stopPolling();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, name + ": " + e.getMessage());
        }
        device.reset();
        if (bus != null) {
            bus.unregister(base);
            vm.removeIoeventfd(kick, base + VirtioMmio.QUEUE_NOTIFY, 0, false, null);
            vm.removeIrqfd(irq, gsi);
            bus = null;
        }
        kick.close();
        irq.close();
    }
}

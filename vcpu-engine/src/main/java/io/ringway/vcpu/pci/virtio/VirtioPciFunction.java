package io.ringway.vcpu.pci.virtio;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.sys.EventFd;
import io.ringway.vcpu.kvm.Vm;
import io.ringway.vcpu.virtio.DeviceQueuePoller;
import io.ringway.vcpu.virtio.ExternalRings;
import io.ringway.vcpu.virtio.InterruptingQueue;
import io.ringway.vcpu.virtio.VirtioTransports;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.Virtqueue;
import io.ringway.vhost.virtio.VirtqueueException;

import static io.ringway.vcpu.pci.virtio.VirtioPciLayout.NOTIFY_OFF_MULTIPLIER;
import static io.ringway.vcpu.pci.virtio.VirtioPciLayout.NO_VECTOR;

/**
 * One virtio device as a virtio-pci function of a KVM VM: the {@link VirtioPciDevice} transport
 * wired to KVM so that the data path never exits to userspace, and to the device:
 *
 * <ul>
 *   <li><b>notify</b>: an ioeventfd on each queue's notify address in BAR 0 (zero-length, any value),
 *       registered when the guest maps the BAR (memory decoding on, address programmed), moved with it,
 *       removed when it is unmapped; a write that still exits (before the BAR is mapped through KVM,
 *       or through the pci_cfg window) signals the same eventfd;</li>
 *   <li><b>interrupts</b>: each MSI-X vector has a GSI of its own and an eventfd; while the vector is
 *       deliverable (MSI-X enabled, vector and function unmasked) the GSI routes to the message the
 *       driver wrote (KVM_SET_GSI_ROUTING) and the eventfd is an irqfd of it; masking detaches the
 *       irqfd, so what the device signals meanwhile stays in the eventfd and is injected when the
 *       vector is unmasked (KVM polls the eventfd when the irqfd is attached);</li>
 *   <li><b>the device</b>: an in-process {@link VirtioDevice} (Ringway's virtio-blk over any bdev,
 *       virtio-net) runs on its own data-plane {@link Lcore}: at DRIVER_OK its queues are checked
 *       against guest memory and handed to it, a {@link DeviceQueuePoller} serves them, sleeping on
 *       the kick eventfd (one for all queues) when the lcore's idle policy says so. A device that also
 *       implements {@link ExternalRings} ({@code VhostUserDevice}: a vhost-user back-end through the
 *       frontend) instead gets the VM's memory, the rings, one kick eventfd per queue (its ioeventfd)
 *       and its vector's eventfd as call fd: kicks and completions pass through KVM only.</li>
 * </ul>
 *
 * A reset (device_status 0) takes the poller off the lcore, resets the device and its queues (or
 * stops the back-end's rings); the driver can bring it up again. A ring that breaks a rule stops the
 * device with DEVICE_NEEDS_RESET and a configuration interrupt; the VM and other devices go on.
 * {@link #close()} frees every eventfd, ioeventfd, irqfd and route; the device and the lcore stay
 * with the caller.
 */
public final class VirtioPciFunction implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VirtioPciFunction.class.getName());
    private static final long CONTROL_TIMEOUT_SECONDS = 10;
    /** Bytes of device configuration exposed: more than virtio-blk's (60) or virtio-net's; the rest reads 0. */
    static final int CONFIG_WINDOW = 0x100;
    private static final Runnable NO_INTERRUPT = () -> { };

    private final String name;
    private final Vm vm;
    private final VirtioDevice device;
    private final ExternalRings external;
    private final Lcore lcore;
    private final int queueCount;
    private final int vectors;
    /** Per queue: its kick eventfd (in-process: the same one for every queue, the poller's wakeup fd). */
    private final EventFd[] kicks;
    /** Per MSI-X vector: the eventfd the device signals, an irqfd of {@link #gsis} while deliverable. */
    private final EventFd[] calls;
    private final Runnable[] vectorInterrupts;
    /** Call fd of a vhost-user queue without a vector (MSI-X off or NO_VECTOR): signalled into the void. */
    private final EventFd spareCall;
    private final int[] gsis;
    private final boolean[] irqfdAttached;
    private final boolean[] routed;
    private final long[] routedAddress;
    private final int[] routedData;
    private final InterruptingQueue[] queues;
    private final DeviceQueuePoller poller;
    private final VirtioPciDevice pci;
    private long notifyBase = -1;
    private boolean pollerAdded;
    private boolean externalStarted;
    private volatile int activation;
    private volatile long slowNotifies;
    private long badMessages;
    private boolean closed;

    private VirtioPciFunction(String name, Vm vm, VirtioDevice device, Lcore lcore) {
        this.name = name;
        this.vm = vm;
        this.device = device;
        this.external = device instanceof ExternalRings e ? e : null;
        if (external == null && lcore == null) {
            throw new IllegalArgumentException(name + ": an in-process virtio device needs an lcore to run on");
        }
        VirtioTransports.requireShareableMemory(name, device, vm);
        this.lcore = lcore;
        this.queueCount = device.queueCount();
        this.vectors = queueCount + 1;
        this.kicks = new EventFd[queueCount];
        this.calls = new EventFd[vectors];
        this.vectorInterrupts = new Runnable[vectors];
        this.gsis = new int[vectors];
        this.irqfdAttached = new boolean[vectors];
        this.routed = new boolean[vectors];
        this.routedAddress = new long[vectors];
        this.routedData = new int[vectors];
        this.queues = new InterruptingQueue[queueCount];
        List<EventFd> opened = new ArrayList<>();
        try {
            EventFd shared = external == null ? open(opened) : null;
            for (int q = 0; q < queueCount; q++) {
                kicks[q] = shared != null ? shared : open(opened);
                queues[q] = new InterruptingQueue(NO_INTERRUPT);
            }
            for (int v = 0; v < vectors; v++) {
                EventFd call = open(opened);
                calls[v] = call;
                vectorInterrupts[v] = call::signal;
                gsis[v] = vm.allocateGsi();
            }
            spareCall = open(opened);
            this.poller = external == null ? new DeviceQueuePoller("virtio-pci " + name, device, queues, kicks[0], this::queueBroken) : null;
            this.pci = new VirtioPciDevice(new Backend(), classCode(device.deviceType()), new KvmWiring());
            if (external != null) {
                external.onFailure(this::backendFailed);
            }
        } catch (RuntimeException e) {
            opened.forEach(EventFd::close);
            throw e;
        }
    }

    private static EventFd open(List<EventFd> opened) {
        EventFd fd = EventFd.create(true);
        opened.add(fd);
        return fd;
    }

    /**
     * A virtio-pci function for {@code device} in {@code vm} (put it on the VM's PCI bus with
     * {@code PciBus.add(function.pciDevice())}). The VM needs its in-kernel irqchip and GSI routing
     * (KVM_CAP_IRQ_ROUTING), ioeventfds and irqfds.
     *
     * @param name   a short name for logs ("blk0")
     * @param device an in-process device, or an {@link ExternalRings} one (a vhost-user back-end)
     * @param lcore  the data-plane thread an in-process device runs on (owned by the caller); null for an external one
     * @throws IllegalArgumentException when the device cannot be a modern virtio-pci function (no VERSION_1, too many queues)
     */
    public static VirtioPciFunction create(String name, Vm vm, VirtioDevice device, Lcore lcore) {
        return new VirtioPciFunction(name, vm, device, lcore);
    }

    /** The PCI function to add to the bus. */
    public VirtioPciDevice pciDevice() {
        return pci;
    }

    public String name() {
        return name;
    }

    /** Notifications that reached userspace (written before KVM had the BAR, or through pci_cfg); 0 while the ioeventfds absorb them. */
    public long slowNotifies() {
        return slowNotifies;
    }

    /** MSI-X messages the driver programmed that cannot be routed (outside the APIC window, a reserved vector); such a vector stays silent. */
    public synchronized long badMessages() {
        return badMessages;
    }

    /** The GSI vector {@code vector} is routed through (queue {@code q}'s vector is what the driver chose; the last one is for configuration changes by convention). */
    public int gsi(int vector) {
        return gsis[vector];
    }

    /** Whether vector {@code vector}'s eventfd is an irqfd now (the driver enabled MSI-X and unmasked the vector with a routable message). */
    public synchronized boolean irqfdAttached(int vector) {
        return irqfdAttached[vector];
    }

    /** Whether the ioeventfds are on the notify addresses (BAR 0 mapped). */
    public synchronized boolean notifyWired() {
        return notifyBase >= 0;
    }

    static int classCode(int deviceType) {
        return switch (deviceType) {
            case 1 -> 0x02_00_00; // network, Ethernet
            case 2 -> 0x01_00_00; // mass storage, SCSI (what QEMU gives virtio-blk)
            default -> 0xff_00_00; // device does not fit a defined class
        };
    }

    // ------------------------------------------------------------------ KVM: ioeventfds and irqfds

    /** Called by the {@link VirtioPciDevice} under its lock, on vCPU threads. */
    private final class KvmWiring implements VirtioPciDevice.Wiring {
        @Override
        public void send(int vector, long address, int data) {
            calls[vector].signal(); // an irqfd while the vector is deliverable: KVM injects the routed message
        }

        @Override
        public void vectorChanged(int vector, boolean deliverable, long address, int data) {
            synchronized (VirtioPciFunction.this) {
                if (closed) {
                    return;
                }
                if (!deliverable) {
                    detachIrqfd(vector);
                    return;
                }
                if (!routed[vector] || routedAddress[vector] != address || routedData[vector] != data) {
                    try {
                        vm.setMsiRoute(gsis[vector], address, data);
                    } catch (IllegalArgumentException e) {
                        badMessages++;
                        LOG.log(System.Logger.Level.WARNING, name + ": MSI-X vector " + vector + " not routed: " + e.getMessage());
                        detachIrqfd(vector);
                        return;
                    }
                    routed[vector] = true;
                    routedAddress[vector] = address;
                    routedData[vector] = data;
                }
                if (!irqfdAttached[vector]) {
                    vm.addIrqfd(calls[vector], gsis[vector]); // a count left from while it was masked is injected now
                    irqfdAttached[vector] = true;
                }
            }
        }

        @Override
        public void notifyRegionMoved(long base) {
            synchronized (VirtioPciFunction.this) {
                if (closed || base == notifyBase) {
                    return;
                }
                unwireNotify();
                if (base >= 0) {
                    int q = 0;
                    try {
                        for (; q < queueCount; q++) {
                            vm.addIoeventfd(kicks[q], base + (long) q * NOTIFY_OFF_MULTIPLIER, 0, false, null);
                        }
                        notifyBase = base;
                    } catch (RuntimeException e) {
                        for (int i = 0; i < q; i++) {
                            vm.removeIoeventfd(kicks[i], base + (long) i * NOTIFY_OFF_MULTIPLIER, 0, false, null);
                        }
                        // notifications keep working through exits (Backend.notify)
                        LOG.log(System.Logger.Level.WARNING, name + ": notify ioeventfds not registered at 0x" + Long.toHexString(base)
                            + ", kicks take the exit path: " + e.getMessage());
                    }
                }
            }
        }
    }

    private void detachIrqfd(int vector) {
        if (irqfdAttached[vector]) {
            vm.removeIrqfd(calls[vector], gsis[vector]);
            irqfdAttached[vector] = false;
        }
    }

    private void unwireNotify() {
        if (notifyBase >= 0) {
            for (int q = 0; q < queueCount; q++) {
                vm.removeIoeventfd(kicks[q], notifyBase + (long) q * NOTIFY_OFF_MULTIPLIER, 0, false, null);
            }
            notifyBase = -1;
        }
    }

    // ------------------------------------------------------------------ the device behind the transport

    /** The transport's view of the device; called under the {@link VirtioPciDevice}'s lock. */
    private final class Backend implements VirtioPciDevice.Backend {
        @Override
        public int deviceId() {
            return device.deviceType();
        }

        @Override
        public long features() {
            return device.deviceFeatures() & VirtioTransports.TRANSPORT_FEATURES;
        }

        @Override
        public int queueCount() {
            return queueCount;
        }

        @Override
        public int maxQueueSize(int queue) {
            return Math.min(device.maxQueueSize(), VirtioTransports.MAX_QUEUE_SIZE);
        }

        @Override
        public int configSize() {
            return CONFIG_WINDOW;
        }

        @Override
        public long readConfig(int offset, int size) {
            byte[] b = device.readConfig(offset, size);
            long v = 0;
            for (int i = Math.min(b.length, size) - 1; i >= 0; i--) {
                v = v << 8 | (b[i] & 0xff);
            }
            return v;
        }

        @Override
        public void writeConfig(int offset, int size, long value) {
            byte[] b = new byte[size];
            for (int i = 0; i < size; i++) {
                b[i] = (byte) (value >>> (8 * i));
            }
            device.writeConfig(offset, b);
        }

        @Override
        public void activate(long features, List<VirtioPciDevice.Queue> enabled) {
            GuestMemory memory = VirtioTransports.guestMemory(vm);
            int max = maxQueueSize(0);
            Virtqueue[] rings = new Virtqueue[queueCount];
            QueueConfig[] configs = new QueueConfig[queueCount];
            int[] vectorOf = new int[queueCount];
            Arrays.fill(vectorOf, NO_VECTOR);
            for (VirtioPciDevice.Queue q : enabled) {
                QueueConfig config = QueueConfig.guestPhysical(q.size(), q.desc(), q.driver(), q.device(), features);
                try {
                    // checked for every device; a vhost-user back-end then gets the same addresses
                    rings[q.index()] = VirtioTransports.activatedQueue(memory, config, max);
                } catch (VirtqueueException e) {
                    throw new IllegalArgumentException(name + " queue " + q.index() + ": " + e.getMessage() + " (size " + q.size()
                        + ", desc 0x" + Long.toHexString(q.desc()) + ", driver 0x" + Long.toHexString(q.driver())
                        + ", device 0x" + Long.toHexString(q.device()) + ")", e);
                }
                configs[q.index()] = config;
                vectorOf[q.index()] = q.msixVector();
            }
            activation = pci.activation();
            if (external != null) {
                startExternal(features, configs, vectorOf);
            } else {
                startInProcess(features, memory, rings, vectorOf);
            }
        }

        @Override
        public void notify(int queue) {
            slowNotifies++;
            kicks[queue].signal();
        }

        @Override
        public void reset() {
            stopDevice();
        }
    }

    private void startExternal(long features, QueueConfig[] configs, int[] vectorOf) {
        int[] kickFds = new int[queueCount];
        int[] callFds = new int[queueCount];
        for (int q = 0; q < queueCount; q++) {
            kickFds[q] = kicks[q].fd();
            callFds[q] = vectorOf[q] < vectors ? calls[vectorOf[q]].fd() : spareCall.fd();
        }
        try {
            external.start(features, vm.memorySlots(), Arrays.asList(configs), kickFds, callFds);
        } catch (RuntimeException e) {
            external.stop();
            throw new IllegalArgumentException(name + ": the vhost-user back-end refused the rings: " + e.getMessage(), e);
        }
        externalStarted = true;
    }

    private void startInProcess(long features, GuestMemory memory, Virtqueue[] rings, int[] vectorOf) {
        List<Virtqueue> deviceQueues = new ArrayList<>();
        for (int q = 0; q < queueCount; q++) {
            queues[q].delegate(rings[q]);
            queues[q].interrupt(vectorOf[q] < vectors ? vectorInterrupts[vectorOf[q]] : NO_INTERRUPT);
            deviceQueues.add(rings[q] == null ? null : queues[q]);
        }
        try {
            device.activate(features, memory, deviceQueues);
            await(lcore.addPoller(poller), "add the poller");
            pollerAdded = true;
        } catch (RuntimeException e) {
            stopDevice();
            throw new IllegalArgumentException(name + ": the device did not start: " + e.getMessage(), e);
        }
    }

    /** Takes the poller off the lcore (or stops the back-end's rings) and resets the device and its queues. */
    private void stopDevice() {
        if (externalStarted) {
            externalStarted = false;
            external.stop();
        }
        if (pollerAdded) {
            await(lcore.removePoller(poller), "remove the poller");
            pollerAdded = false;
        }
        if (external == null) {
            device.reset();
            for (InterruptingQueue q : queues) {
                q.reset();
                q.delegate(null);
                q.interrupt(NO_INTERRUPT);
            }
            poller.rearm();
            kicks[0].read(); // stale kicks of the old rings
        }
    }

    /**
     * The vhost-user back-end died or broke the protocol (any thread; no lock of ours held on the
     * watcher's, the transport's own on a vCPU's): DEVICE_NEEDS_RESET and a configuration interrupt
     * while the device runs; the driver's reset then stops nothing that can throw.
     */
    private void backendFailed(String reason) {
        if (!pci.dataPlaneFailed(activation, name + ": " + reason)) {
            LOG.log(System.Logger.Level.ERROR, name + ": " + reason + " (the device is not running; the next DRIVER_OK is refused)");
        }
    }

    /** On the lcore: a queue broke a rule. The transport's lock may be held by a vCPU waiting for this lcore: report from another thread. */
    private void queueBroken(int queue, String reason) {
        int stamp = activation;
        String why = name + " queue " + queue + " stopped: " + reason;
        Thread.ofPlatform().daemon().name("virtio-pci-" + name + "-failure").start(() -> pci.dataPlaneFailed(stamp, why));
    }

    private void await(CompletableFuture<Void> f, String what) {
        try {
            f.get(CONTROL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(name + ": could not " + what + " on lcore " + lcore.name() + ": " + e, e);
        }
    }

    /** Stops the device, removes the ioeventfds, irqfds and routes, and closes the eventfds (not the device, not the lcore). */
    @Override
    public void close() {
        synchronized (pci) { // no guest access in between
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
                if (external != null) {
                    external.onFailure(null); // the eventfds are about to close: a later failure is only logged
                }
                try {
                    stopDevice();
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, name + ": " + e.getMessage());
                }
                unwireNotify();
                for (int v = 0; v < vectors; v++) {
                    detachIrqfd(v);
                    if (routed[v]) {
                        vm.removeGsiRoute(gsis[v]);
                        routed[v] = false;
                    }
                }
                EventFd last = null;
                for (EventFd k : kicks) {
                    if (k != last) {
                        k.close();
                    }
                    last = k;
                }
                for (EventFd c : calls) {
                    c.close();
                }
                spareCall.close();
            }
        }
    }
}

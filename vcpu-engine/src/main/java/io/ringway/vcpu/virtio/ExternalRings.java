package io.ringway.vcpu.virtio;

import java.util.List;
import java.util.function.Consumer;

import io.ringway.vcpu.kvm.Vm;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.Virtqueue;

/**
 * A {@code VirtioDevice} whose rings are served outside the transport, by a vhost-user back-end in
 * another process or thread: at DRIVER_OK the transport ({@link VirtioMmioTransport}, or a virtio-pci
 * function) hands it guest memory
 * (the VM's memory slots, whose fds the back-end maps), the ring addresses the driver wrote, the
 * kick eventfd (the QueueNotify ioeventfd: the guest's write reaches the back-end without any
 * userspace exit) and the call eventfd (the irqfd: the back-end's completion interrupts the guest
 * without passing through this process). The transport polls nothing for such a device.
 */
public interface ExternalRings extends VirtioDevice {
    /**
     * Starts the rings.
     *
     * @param features the features the driver accepted
     * @param memory   the VM's memory slots
     * @param queues   per queue index, its configuration (guest-physical addresses), or null when the driver left it unused
     * @param kickFds  per queue index, the kick eventfd (virtio-mmio: one fd for every queue; virtio-pci: one per queue)
     * @param callFds  per queue index, the call eventfd (virtio-mmio: one fd for every queue; virtio-pci: the queue's MSI-X vector's)
     */
    void start(long features, List<Vm.MemorySlot> memory, List<QueueConfig> queues, int[] kickFds, int[] callFds);

    /** Stops the rings (a reset, a failure, the end). Does nothing when they are not running; never throws for a dead back-end. */
    void stop();

    /**
     * Who to tell when the rings die on their own (the back-end closed its connection or broke the
     * protocol): the transport sets DEVICE_NEEDS_RESET (virtio 1.2, 2.1.2). The listener gets a reason
     * naming the back-end; it may run on any thread, with no lock of the device held. Rings that
     * cannot die on their own ignore it.
     */
    default void onFailure(Consumer<String> listener) {
    }

    /** Nothing to do: the back-end activates its device when its rings start. */
    @Override
    default void activate(long negotiatedFeatures, GuestMemory memory, List<Virtqueue> queues) {
    }

    /** Stops the rings. */
    @Override
    default void reset() {
        stop();
    }

    /** Never called for an {@code ExternalRings} device: the back-end polls. */
    @Override
    default int process(int queueIndex) {
        return 0;
    }
}

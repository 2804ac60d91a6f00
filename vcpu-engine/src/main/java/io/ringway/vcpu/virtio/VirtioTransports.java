package io.ringway.vcpu.virtio;

import java.util.ArrayList;
import java.util.List;

import io.ringway.vcpu.kvm.Vm;
import io.ringway.vhost.virtio.GuestMemory;
import io.ringway.vhost.virtio.GuestMemoryRegion;
import io.ringway.vhost.virtio.PackedQueue;
import io.ringway.vhost.virtio.QueueConfig;
import io.ringway.vhost.virtio.SplitQueue;
import io.ringway.vhost.virtio.VirtioDevice;
import io.ringway.vhost.virtio.VirtioFeatures;
import io.ringway.vhost.virtio.Virtqueue;
import io.ringway.vhost.virtio.VirtqueueException;

/** What the VMM's virtio transports (virtio-mmio, virtio-pci) share: the features they pass on, guest memory, queue set-up. */
public final class VirtioTransports {
    private VirtioTransports() {
    }

    /**
     * The feature bits a transport passes from a device to the driver: the device-specific bits
     * 0..23 and the ring features the queues implement (INDIRECT_DESC, EVENT_IDX, VERSION_1,
     * RING_PACKED); nothing else (no ACCESS_PLATFORM, no notification data) is implemented.
     */
    public static final long TRANSPORT_FEATURES = 0xff_ffffL
        | VirtioFeatures.mask(VirtioFeatures.INDIRECT_DESC)
        | VirtioFeatures.mask(VirtioFeatures.EVENT_IDX)
        | VirtioFeatures.mask(VirtioFeatures.VERSION_1)
        | VirtioFeatures.mask(VirtioFeatures.RING_PACKED);

    /** The largest queue size a virtqueue may have (virtio 1.2, 2.6/2.7: 32768). */
    public static final int MAX_QUEUE_SIZE = 32768;

    /** The VM's memory slots as they are now, as guest memory a device reads and writes. */
    public static GuestMemory guestMemory(Vm vm) {
        List<GuestMemoryRegion> regions = new ArrayList<>();
        for (Vm.MemorySlot s : vm.memorySlots()) {
            regions.add(GuestMemoryRegion.of(s.gpa(), s.region().segment()));
        }
        return GuestMemory.of(regions);
    }

    /**
     * Refuses an {@link ExternalRings} device (a vhost-user back-end maps guest RAM from its fds) on a VM
     * whose RAM has no fd (anonymous memory), before anything is wired: at device creation, not at the
     * driver's DRIVER_OK.
     *
     * @throws IllegalArgumentException naming the device and the memory slot without an fd
     */
    public static void requireShareableMemory(String name, VirtioDevice device, Vm vm) {
        if (!(device instanceof ExternalRings)) {
            return;
        }
        for (Vm.MemorySlot s : vm.memorySlots()) {
            try {
                s.sharedRegion();
            } catch (IllegalStateException e) {
                throw new IllegalArgumentException(name + ": a vhost-user back-end serves this device, but " + e.getMessage(), e);
            }
        }
    }

    /**
     * A split or packed queue of at most {@code max} entries (packed per {@code config}'s features),
     * activated on the rings the driver wrote; every address is checked against {@code memory}.
     *
     * @throws VirtqueueException naming the rule the driver's rings break
     */
    public static Virtqueue activatedQueue(GuestMemory memory, QueueConfig config, int max) {
        boolean packed = VirtioFeatures.has(config.features(), VirtioFeatures.RING_PACKED);
        Virtqueue ring = packed ? new PackedQueue(max) : new SplitQueue(max);
        if (packed) {
            ring.setLastAvailIdx(1 << 15); // virtio 1.2, 2.8.1: both wrap counters start at 1
        }
        ring.activate(memory, config);
        return ring;
    }
}

package io.ringway.vhost.virtio;

/**
 * Where a virtqueue lives and how it is used: what the driver (or vhost-user SET_VRING_NUM,
 * SET_VRING_ADDR and SET_FEATURES) told the device.
 *
 * @param size queue size (number of descriptors)
 * @param descAddr address of the Descriptor Area (split: descriptor table; packed: descriptor ring)
 * @param driverAddr address of the Driver Area (split: available ring; packed: driver event suppression)
 * @param deviceAddr address of the Device Area (split: used ring; packed: device event suppression)
 * @param addressSpace whether the three addresses are guest-physical or frontend user addresses
 * @param features negotiated feature bits ({@link VirtioFeatures}); the queue looks at
 *     EVENT_IDX and INDIRECT_DESC
 */
public record QueueConfig(int size, long descAddr, long driverAddr, long deviceAddr, AddressSpace addressSpace,
        long features) {

    /** Which address space the ring addresses are in. */
    public enum AddressSpace {
        /** Guest-physical addresses (virtio-pci queue registers, vhost-user with IOMMU off and log). */
        GUEST_PHYSICAL,
        /** Frontend user addresses (vhost-user SET_VRING_ADDR). */
        FRONTEND_USER
    }

    /**
     * A configuration with guest-physical ring addresses.
     *
     * @param size queue size
     * @param descAddr Descriptor Area
     * @param driverAddr Driver Area
     * @param deviceAddr Device Area
     * @param features negotiated features
     * @return the configuration
     */
    public static QueueConfig guestPhysical(int size, long descAddr, long driverAddr, long deviceAddr,
            long features) {
        return new QueueConfig(size, descAddr, driverAddr, deviceAddr, AddressSpace.GUEST_PHYSICAL, features);
    }

    /** @return true if VIRTIO_F_EVENT_IDX was negotiated */
    public boolean eventIdx() {
        return VirtioFeatures.has(features, VirtioFeatures.EVENT_IDX);
    }

    /** @return true if VIRTIO_F_INDIRECT_DESC was negotiated */
    public boolean indirectDesc() {
        return VirtioFeatures.has(features, VirtioFeatures.INDIRECT_DESC);
    }
}

package io.ringway.vhost.virtio;

import java.util.List;

/**
 * What a virtio device type (net, blk) implements; the transport (vhost-user backend, virtio-pci
 * in the vCPU engine) drives it. The transport owns feature negotiation, the queues' memory and
 * addresses, and the notification fds; the device owns the meaning of the buffers.
 *
 * <p>Control-plane methods may be called from a control thread; {@link #process(int)} is called on
 * the data-plane thread (lcore) that owns the queue.
 */
public interface VirtioDevice {

    /** @return the virtio device ID (virtio 1.2, 5: 1 network, 2 block, ...) */
    int deviceType();

    /**
     * @return the feature bits the device offers, device-specific ones and reserved ones such as
     *     {@link VirtioFeatures#VERSION_1}, {@link VirtioFeatures#EVENT_IDX}
     */
    long deviceFeatures();

    /** @return the number of virtqueues the device has */
    int queueCount();

    /** @return the largest queue size the device accepts (at most 32768) */
    int maxQueueSize();

    /**
     * Reads device configuration space (virtio 1.2, 2.5).
     *
     * @param offset byte offset into the configuration space
     * @param length number of bytes
     * @return the bytes; a range past the end reads as zeros
     */
    byte[] readConfig(int offset, int length);

    /**
     * Writes device configuration space (virtio 1.2, 2.5); read-only fields ignore writes.
     *
     * @param offset byte offset into the configuration space
     * @param data the bytes
     */
    void writeConfig(int offset, byte[] data);

    /**
     * Starts the device after feature negotiation and queue setup (DRIVER_OK).
     *
     * @param negotiatedFeatures the features both sides accepted
     * @param memory guest memory
     * @param queues the activated queues, indexed by queue number; an entry may be null for a queue the driver left unused
     */
    void activate(long negotiatedFeatures, GuestMemory memory, List<Virtqueue> queues);

    /** Stops the device and forgets its queues (virtio 1.2, 2.1: reset). */
    void reset();

    /**
     * Serves one queue: pops available buffers, handles them, publishes used ones and signals the
     * driver when it wants it. Called repeatedly on the lcore; must not block.
     *
     * @param queueIndex queue number
     * @return work done (buffers handled); 0 lets the idle strategy back off
     */
    int process(int queueIndex);
}

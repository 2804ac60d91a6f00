/**
 * The virtio core: guest memory translation ({@link io.ringway.vhost.virtio.GuestMemory}), split
 * and packed virtqueues on the device side ({@link io.ringway.vhost.virtio.SplitQueue},
 * {@link io.ringway.vhost.virtio.PackedQueue}) and the driver side
 * ({@link io.ringway.vhost.virtio.DriverSplitQueue}, {@link io.ringway.vhost.virtio.DriverPackedQueue}),
 * feature bits and the {@link io.ringway.vhost.virtio.VirtioDevice} SPI. Follows the virtio 1.2
 * specification, chapter 2; comments quote the section they enforce.
 */
package io.ringway.vhost.virtio;

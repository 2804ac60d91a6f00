/**
 * The vhost-user back-end: {@link io.ringway.vhost.backend.VhostUserBackend} serves a
 * {@link io.ringway.vhost.virtio.VirtioDevice} over a unix socket (server or client mode), one
 * front-end at a time, with the device's queues on one or more
 * {@link io.ringway.runtime.poll.Lcore}s (each vring on the lcore its placement names; a device's
 * {@code process(queue)} may then run for different queues on different threads at once).
 *
 * <h2>Promises</h2>
 * <ul>
 *   <li>A front-end cannot stop the process: a malformed message, a bad memory table or ring, a
 *       socket closed mid-message ends that connection with a log line naming the
 *       {@link io.ringway.vhost.backend.SessionRule}; every fd it sent is closed, the device is
 *       reset, the memory unmapped, and the next front-end is served.</li>
 *   <li>A memory table is unmapped only after every lcore of the device acknowledged the new one
 *       ({@link io.ringway.vhost.backend.MemoryTableObserver}).</li>
 *   <li>A received fd is sized before it is mapped: nothing past its end is ever mapped (SIGBUS).</li>
 *   <li>The transport signals the call eventfd whenever a queue's {@code needsNotification()} says
 *       so (EVENT_IDX honoured); devices never see fds.</li>
 * </ul>
 *
 * <h2>Device lifecycle</h2>
 * The device is activated when its first vring starts (size, addresses, kick and memory known, and
 * enabled), and reset when the last started vring is stopped by GET_VRING_BASE, on RESET_OWNER or
 * RESET_DEVICE, and when the front-end goes away.
 */
package io.ringway.vhost.backend;

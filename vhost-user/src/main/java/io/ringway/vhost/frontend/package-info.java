/**
 * The vhost-user front-end: {@link io.ringway.vhost.frontend.VhostUserFrontend} drives any
 * vhost-user back-end (Ringway's, DPDK's vhost PMD) over guest memory made of
 * {@link io.ringway.runtime.mem.SharedRegion}s ({@link io.ringway.vhost.frontend.FrontendMemory}),
 * with driver queues from {@code io.ringway.vhost.virtio}.
 */
package io.ringway.vhost.frontend;

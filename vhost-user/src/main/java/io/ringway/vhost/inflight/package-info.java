/**
 * In-flight I/O tracking (vhost-user.rst, "Inflight I/O tracking", VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD):
 * the layouts of the shared area ({@link io.ringway.vhost.inflight.SplitInflightDescriptor},
 * {@link io.ringway.vhost.inflight.PackedInflightDescriptor}), a view of one queue's region that
 * records each request the device takes and returns ({@link io.ringway.vhost.inflight.SplitInflightQueue},
 * {@link io.ringway.vhost.inflight.PackedInflightQueue}), and the recovery computation a restarted
 * back-end runs before it pops anything new.
 */
package io.ringway.vhost.inflight;

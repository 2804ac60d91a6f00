/**
 * In-flight I/O tracking (vhost-user.rst, "Inflight I/O tracking", VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD):
 * the layout of the shared area ({@link io.ringway.vhost.inflight.SplitInflightDescriptor}), a view of
 * one split queue's region that records each head the device takes and returns
 * ({@link io.ringway.vhost.inflight.SplitInflightQueue}), and the recovery computation a restarted
 * back-end runs before it pops anything new. Packed rings are not supported yet.
 */
package io.ringway.vhost.inflight;

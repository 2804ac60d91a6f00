/**
 * Ringway storage-plane: the block-device layer ({@code bdev}: malloc, null, file via io_uring or
 * preadv/pwritev, delay) and the vhost-user-blk device ({@code blk}). In-flight requests are
 * resubmitted after a back-end restart, for split and packed rings (io.ringway.vhost.inflight), and a
 * ring restarted while the device's other rings run completes each request once (see BlkQueue).
 */
package io.ringway.storage;

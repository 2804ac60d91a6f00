/**
 * Ringway storage-plane: the block-device layer ({@code bdev}: malloc, null, file via io_uring or
 * preadv/pwritev, delay) and the vhost-user-blk device ({@code blk}). In-flight requests are
 * resubmitted after a back-end restart for split rings (io.ringway.vhost.inflight); packed rings
 * are not tracked yet.
 */
package io.ringway.storage;

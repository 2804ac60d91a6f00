/**
 * Ringway storage-plane: the block-device layer ({@code bdev}: malloc, null, file via io_uring or
 * preadv/pwritev, delay) and the vhost-user-blk device ({@code blk}). In-flight resubmission after a
 * back-end restart is not implemented yet (issue 5).
 */
package io.ringway.storage;

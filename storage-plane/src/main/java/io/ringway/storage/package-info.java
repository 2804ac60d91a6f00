/**
 * Ringway storage-plane: block-device layer and vhost-user-blk backend (issue 5: not implemented yet).
 */
package io.ringway.storage;

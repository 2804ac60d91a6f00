/**
 * Ringway vhost-user: virtio core and the vhost-user protocol (issue 3: in progress).
 */
package io.ringway.vhost;

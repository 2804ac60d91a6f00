/**
 * Ringway packet-plane: vhost-user-net backend, ports, switch and capture (issue 4: not implemented yet).
 */
package io.ringway.net;

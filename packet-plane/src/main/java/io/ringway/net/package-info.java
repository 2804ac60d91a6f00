/**
 * Ringway packet-plane: the vhost-user-net device ({@code device}), packet buffers ({@code packet}),
 * ports ({@code port}) and testpmd-style forwarding modes ({@code forward}). The L2 switch, the tap
 * port and packet capture are not built yet (issue 4, later slices).
 */
package io.ringway.net;

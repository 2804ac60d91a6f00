/**
 * The control plane of {@code ringway serve}: one daemon owning the lcores, managed at run time over
 * JSON-RPC 2.0 on a unix socket, method names in SPDK's style.
 *
 * <ul>
 *   <li>{@link io.ringway.control.DataPlane}: the running objects (bdevs, vhost-user-blk controllers,
 *       net ports, the L2 switch) and the rules between them (a bdev under a controller or a delay
 *       bdev cannot be deleted; names and sockets are unique; paths must lie under the allowed
 *       directories).</li>
 *   <li>{@link io.ringway.control.ControlService}: the methods, the config file (the answer of
 *       {@code framework_get_config}) and {@code framework_reload}, which applies a config as a diff.</li>
 *   <li>{@link io.ringway.control.RpcServer} / {@link io.ringway.control.RpcClient}: the socket (mode
 *       0600, one daemon per socket through a lock file), framing of back-to-back JSON values, request
 *       validation; {@link io.ringway.control.Json}: a bounded JSON reader and writer.</li>
 * </ul>
 *
 * <p>Methods: bdev_malloc_create, bdev_null_create, bdev_file_create, bdev_delay_create, bdev_delete,
 * bdev_get_bdevs, vhost_create_blk_controller, vhost_delete_controller, vhost_get_controllers,
 * net_port_create (vhost-user, tap, ring), net_port_delete, net_switch_attach, net_switch_detach,
 * net_get_ports, capture_start, capture_stop, stats_get, framework_get_config, framework_reload,
 * rpc_get_methods. Captures are runtime-only: {@code framework_get_config} does not list them.
 */
package io.ringway.control;

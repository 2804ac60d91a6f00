package io.ringway.vhost.backend;

import io.ringway.vhost.virtio.GuestMemory;

/**
 * Optional vhost-user extras a {@link io.ringway.vhost.virtio.VirtioDevice} may implement; the
 * back-end forwards the matching requests to them. A device that does not implement this interface
 * answers SEND_RARP and NET_SET_MTU with a failure status.
 */
public interface VhostUserDeviceHooks {

    /**
     * SEND_RARP: broadcast a fake RARP for {@code mac} (after a migration). Control thread.
     *
     * @param mac the 6-byte MAC address
     * @return true if done
     */
    default boolean sendRarp(byte[] mac) {
        return false;
    }

    /**
     * NET_SET_MTU: the MTU the front-end exposes to the guest. Control thread.
     *
     * @param mtu the MTU in bytes
     * @return true if accepted
     */
    default boolean setMtu(int mtu) {
        return false;
    }

    /**
     * GET_QUEUE_NUM answer. vhost-user-net counts queue pairs, vhost-user-blk counts queues.
     *
     * @param queueCount the device's {@link io.ringway.vhost.virtio.VirtioDevice#queueCount()}
     * @return the number to report
     */
    default int vhostUserQueueNum(int queueCount) {
        return queueCount;
    }

    /**
     * A new memory table is in force (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG while the device is
     * active). Runs on the lcore between two iterations, after the running queues were moved to
     * {@code memory}; the old mappings are unmapped after this returns. A device that keeps its own
     * reference to guest memory (instead of reaching it through each DescriptorChain) switches here.
     *
     * <p>With the vrings spread over several lcores this is called once per swap, on the lcore of
     * vring 0, after that lcore's queues moved (see {@link #memoryTableChanged(GuestMemory, int[])}):
     * a device whose per-queue state lives on several lcores overrides the per-lcore variant instead.
     *
     * @param memory the new guest memory
     */
    default void memoryTableChanged(GuestMemory memory) {
    }

    /**
     * A new memory table is in force, seen from one lcore: called on every lcore the device's
     * vrings are placed on, between two iterations, after the started queues of {@code vrings}
     * moved to {@code memory}. The old mappings are unmapped only after every lcore returned. The
     * default calls {@link #memoryTableChanged(GuestMemory)} on the lcore that holds vring 0 (so
     * with one lcore nothing changes).
     *
     * @param memory the new guest memory
     * @param vrings the vrings placed on the calling lcore (started or not), ascending
     */
    default void memoryTableChanged(GuestMemory memory, int[] vrings) {
        if (vrings.length > 0 && vrings[0] == 0) {
            memoryTableChanged(memory);
        }
    }

    /**
     * A vring's poller joins or leaves its lcore. Runs on that lcore: {@code true} after the ring
     * was activated and just before its poller runs, {@code false} just after its poller stopped
     * and before the ring is reset or its memory unmapped. Between the two the ring may be used from
     * any work on the same lcore, not only from {@code process(vring)} (a switch that writes a frame
     * from one device's transmit buffer straight into another device's receive buffers).
     *
     * @param vring   the vring index
     * @param polling whether its poller runs from now on
     */
    default void vringPolling(int vring, boolean polling) {
    }

    /**
     * Placement group of a vring: vrings of one group run on the same lcore, and groups are spread
     * round-robin over the back-end's lcores ({@code group % n}). The default is the vring itself
     * (one queue per group: right for blk, queue {@code i} on lcore {@code i % n}); a net device
     * returns {@code vring / 2} to keep a queue pair's RX and TX on one lcore.
     *
     * @param vring the vring index
     * @return its group, non-negative
     */
    default int lcoreGroupOf(int vring) {
        return vring;
    }

    /**
     * Whether the back-end tracks this device's split queues in the in-flight area
     * (INFLIGHT_SHMFD) and resubmits what a crashed back-end left in flight. Only a device whose
     * requests may be executed twice (block I/O) says yes; a network device would send a packet
     * twice.
     *
     * @return true to track in-flight requests
     */
    default boolean tracksInflight() {
        return false;
    }
}

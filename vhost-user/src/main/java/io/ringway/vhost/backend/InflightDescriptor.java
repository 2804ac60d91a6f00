package io.ringway.vhost.backend;

import io.ringway.vhost.inflight.PackedInflightDescriptor;
import io.ringway.vhost.inflight.SplitInflightDescriptor;

/**
 * Sizes of the in-flight tracking area (vhost-user.rst, "Inflight I/O tracking"): one queue region
 * per virtqueue, back to back, each rounded up to 64 bytes as DPDK and libvhost-user do. The
 * layouts are in {@link SplitInflightDescriptor} and {@link PackedInflightDescriptor}.
 */
final class InflightDescriptor {
    private InflightDescriptor() {
    }

    /** Bytes of one queue's region. */
    static long queueRegionSize(boolean packed, int queueSize) {
        return packed ? PackedInflightDescriptor.queueRegionSize(queueSize)
                : SplitInflightDescriptor.queueRegionSize(queueSize);
    }

    /** Bytes of the whole area for {@code numQueues} queues of {@code queueSize} descriptors. */
    static long areaSize(boolean packed, int numQueues, int queueSize) {
        return queueRegionSize(packed, queueSize) * numQueues;
    }
}

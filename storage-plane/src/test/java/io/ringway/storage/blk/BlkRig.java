package io.ringway.storage.blk;

import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.frontend.FrontendMemory;
import io.ringway.vhost.frontend.VhostUserFrontend;
import io.ringway.vhost.virtio.VirtioFeatures;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A VirtioBlkDevice behind a real vhost-user back-end, driven by the Ringway front-end. */
final class BlkRig implements AutoCloseable {
    final VirtioBlkDevice device;
    final VhostUserBackend backend;
    final FrontendMemory memory;
    final VhostUserFrontend frontend;
    final List<BlkDriver> drivers = new ArrayList<>();

    BlkRig(Lcore lcore, Path socket, BlockDevice bdev, VirtioBlkDevice.Builder options, boolean packed, int queues) {
        this(List.of(lcore), socket, bdev, options, packed, queues);
    }

    /** The device's queues spread over {@code lcores} (queue i on lcore i % n). */
    BlkRig(List<Lcore> lcores, Path socket, BlockDevice bdev, VirtioBlkDevice.Builder options, boolean packed, int queues) {
        device = options.queues(queues).build();
        backend = VhostUserBackend.builder(device, lcores).name("blk-test").listen(socket);
        memory = FrontendMemory.create("guest", BlkDriver.MEMORY_SIZE);
        frontend = VhostUserFrontend.connect(socket, Duration.ofSeconds(5));
        long wanted = device.deviceFeatures();
        if (!packed) {
            wanted &= ~VirtioFeatures.mask(VirtioFeatures.RING_PACKED);
        }
        frontend.negotiate(wanted, VhostUserBackend.DEFAULT_PROTOCOL_FEATURES);
        frontend.setMemTable(memory);
        for (int q = 0; q < queues; q++) {
            drivers.add(new BlkDriver(frontend, memory, q, 128));
        }
    }

    BlkDriver driver(int q) {
        return drivers.get(q);
    }

    @Override
    public void close() {
        drivers.forEach(BlkDriver::close);
        frontend.close();
        backend.close();
        memory.close();
        device.close();
    }
}

package io.ringway.vcpu.virtio;

import java.nio.file.Path;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vhost.backend.VhostUserBackend;

/**
 * Ringway's virtio-blk device (queue size 128) on a 1 MiB malloc disk, with an lcore of its own
 * (adaptive idle): the device the transport tests drive in-process, or serve over vhost-user with
 * {@link #listen(Path)}. Closes the back-end, the device, the disk and the lcore.
 */
public final class BlkDeviceFixture implements AutoCloseable {
    public final Lcore lcore;
    public final MallocBlockDevice disk;
    public final VirtioBlkDevice device;
    private final String name;
    private VhostUserBackend backend;

    /** @param name the device's and the lcore's name */
    public BlkDeviceFixture(String name) {
        this.name = name;
        lcore = Lcore.builder(name).idlePolicy(IdlePolicy.adaptive()).start();
        MallocBlockDevice d = null;
        try {
            d = new MallocBlockDevice("malloc-" + name, 1 << 20, 512, false);
            device = VirtioBlkDevice.builder(d).name(name).queueSize(128).build();
        } catch (RuntimeException e) {
            if (d != null) {
                d.close();
            }
            lcore.close();
            throw e;
        }
        disk = d;
    }

    /** Serves the device on the lcore through a vhost-user back-end listening on {@code socket}. */
    public VhostUserBackend listen(Path socket) {
        backend = VhostUserBackend.builder(device, lcore).name(name).listen(socket);
        return backend;
    }

    @Override
    public void close() {
        if (backend != null) {
            backend.close();
        }
        device.close();
        disk.close();
        lcore.close();
    }
}

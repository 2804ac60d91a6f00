package io.ringway.storage.interop;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.bdev.DelayBlockDevice;
import io.ringway.storage.bdev.LatencyDistribution;
import io.ringway.storage.bdev.FileBlockDevice;
import io.ringway.storage.blk.BlkMetrics;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vhost.backend.VhostUserBackend;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A vhost-user-blk back-end in a child process (so a test can kill it with SIGKILL):
 * {@code BlkBackendMain SOCKET IMAGE QUEUES [DELAY]} (DELAY a latency spec such as {@code fixed:300ms}:
 * requests stay in flight that long, so a kill finds some). Prints {@code READY} once listening, then
 * {@code STATS writes=W reads=R errors=E connected=C in_flight=F} every 50 ms; exits when stdin closes.
 */
public final class BlkBackendMain {
    private BlkBackendMain() {
    }

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        Path image = Path.of(args[1]);
        int queues = Integer.parseInt(args[2]);
        BlockDevice file = FileBlockDevice.open("f0", image, false, false, 512, FileBlockDevice.Engine.AUTO);
        BlockDevice delayed = args.length > 3 ? new DelayBlockDevice(file, LatencyDistribution.parse(args[3])) : file;
        try (BlockDevice bdev = delayed;
             VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).queues(queues).build();
             Lcore lcore = Lcore.builder("child-blk").idlePolicy(IdlePolicy.backoff()).start();
             VhostUserBackend backend = VhostUserBackend.builder(device, lcore).name("child-blk").listen(socket)) {
            System.out.println("READY " + ProcessHandle.current().pid());
            Thread stats = Thread.ofPlatform().daemon().start(() -> {
                try {
                    while (true) {
                        TimeUnit.MILLISECONDS.sleep(50);
                        System.out.printf("STATS writes=%d reads=%d errors=%d connected=%s in_flight=%d%n",
                                device.metrics().stream().mapToLong(BlkMetrics::writes).sum(),
                                device.metrics().stream().mapToLong(BlkMetrics::reads).sum(),
                                device.metrics().stream().mapToLong(BlkMetrics::errors).sum(), backend.connected(),
                                device.inFlight());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            while (System.in.read() >= 0) {
                // runs until stdin closes (or SIGKILL)
            }
            stats.interrupt();
        }
    }
}

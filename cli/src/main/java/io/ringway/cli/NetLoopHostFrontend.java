package io.ringway.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;

import io.ringway.net.device.VirtioNetDevice;
import io.ringway.perf.net.NetLoadGenerator;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.vcpu.workload.NetLoopWorkload;
import io.ringway.vhost.backend.VhostUserBackend;
import io.ringway.vhost.virtio.VirtioDevice;

/**
 * {@code vm run --guest net-loop --vs host}: the host-side vhost-user frontend
 * ({@link NetLoadGenerator}, one frame in flight, as the guest) against the same kind of device the
 * guest drives — a {@link VirtioNetDevice} in loopback behind Ringway's vhost-user back-end in this
 * process, on an lcore like the guest's device — or against the guest's vhost-user back-end.
 */
final class NetLoopHostFrontend {
    private NetLoopHostFrontend() {
    }

    /** One frame in flight against the back-end at {@code socket} (which must send every frame back). */
    static NetLoadGenerator.Result against(Path socket, int frameBytes, double seconds, int driverCpu) {
        return NetLoadGenerator.run(new NetLoadGenerator.Options(socket, NetLoadGenerator.Role.LOOP, frameBytes, seconds, 0.2, driverCpu), 1);
    }

    /** One frame in flight against a loopback VirtioNetDevice served from this process on an lcore. */
    static NetLoadGenerator.Result inProcess(int frameBytes, double seconds, String idle, int lcoreCpu, int driverCpu) {
        try (Mempool pool = NetLoopWorkload.createPool();
             VirtioNetDevice device = NetLoopWorkload.loopbackDevice(pool, "vm-run-host");
             NetLoopWorkload.Loopback loop = new NetLoopWorkload.Loopback(device)) {
            device.attachLocal(0, loop);
            return serve(device, idle, lcoreCpu, socket -> against(socket, frameBytes, seconds, driverCpu));
        }
    }

    /**
     * Serves {@code device} from Ringway's vhost-user back-end on a fresh lcore ({@code idle} policy,
     * pinned to {@code lcoreCpu} unless -1) at a socket in a temporary directory, runs {@code driver}
     * against that socket, then stops everything and removes the socket.
     * ({@code VmRunCommand.hostFrontend} does the same for blk: it can call this once the
     * multi-vCPU work on that class is merged.)
     */
    static <T> T serve(VirtioDevice device, String idle, int lcoreCpu, Function<Path, T> driver) {
        Path dir;
        try {
            dir = Files.createTempDirectory("ringway-vm-run");
        } catch (IOException e) {
            throw new IllegalStateException("cannot create a socket directory: " + e.getMessage(), e);
        }
        Path socket = dir.resolve("vhost.sock");
        try {
            Lcore lcore = Lcore.builder("vm-run-host").idlePolicy(IdlePolicy.parse(idle)).cpu(lcoreCpu).start();
            try (VhostUserBackend backend = VhostUserBackend.builder(device, lcore).name("vm-run-host").listen(socket)) {
                return driver.apply(socket);
            } finally {
                lcore.close();
            }
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(socket);
                Files.deleteIfExists(dir);
            } catch (IOException ignored) {
                // a temp dir left behind is harmless
            }
        }
    }
}

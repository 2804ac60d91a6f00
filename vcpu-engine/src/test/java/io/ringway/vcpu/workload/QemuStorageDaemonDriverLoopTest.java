package io.ringway.vcpu.workload;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmTestSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The blk-driver micro-guest against qemu-storage-daemon's vhost-user-blk export of a raw file:
 * QEMU's back-end maps the guest's memory, reads the guest's kicks from the ioeventfd and
 * interrupts the guest through the irqfd; this process only relays the set-up.
 */
class QemuStorageDaemonDriverLoopTest {
    private static final Path QSD = Path.of("/usr/bin/qemu-storage-daemon");

    @Test
    void aGuestDriverMovesCheckedRequestsThroughQemuStorageDaemon(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(QSD), "skipped, needs " + QSD + " (Debian package qemu-system-common)");
        Path disk = dir.resolve("disk.raw");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        Path socket = dir.resolve("qsd.sock");
        int requests = 5_000;
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            Process qsd = new ProcessBuilder(List.of(QSD.toString(),
                "--blockdev", "driver=file,node-name=f0,filename=" + disk + ",cache.direct=off",
                "--blockdev", "driver=raw,node-name=n0,file=f0",
                "--export", "type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=" + socket + ",writable=on"))
                .redirectErrorStream(true).redirectOutput(dir.resolve("qsd.log").toFile()).start();
            try {
                awaitSocket(socket, qsd, dir.resolve("qsd.log"));
                DriverLoop.Result r = BlkDriverWorkload.runVhost(kvm, socket, DriverLoop.Options.requests(requests, 512));

                assertNull(r.error(), r.error());
                assertEquals(requests, r.completed());
                assertEquals(r.negotiationMmioAccesses(), r.mmioExits(), "MMIO exits to userspace");
                assertEquals(0, r.notifyExits());
                assertNull(BlkDriverWorkload.checkDiskContents(MemorySegment.ofArray(Files.readAllBytes(disk)), r), "file contents");
            } finally {
                qsd.destroy(); // SIGTERM
                if (!qsd.waitFor(10, TimeUnit.SECONDS)) {
                    qsd.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static void awaitSocket(Path socket, Process qsd, Path log) throws InterruptedException, IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.exists(socket)) {
            if (!qsd.isAlive()) {
                throw new AssertionError("qemu-storage-daemon exited with " + qsd.exitValue() + ": " + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("qemu-storage-daemon did not create " + socket + " within 20 s: " + Files.readString(log));
            }
            Thread.sleep(10);
        }
    }
}

package io.ringway.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import org.HdrHistogram.Histogram;

import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.bdev.BlockDeviceSpec;
import io.ringway.storage.bdev.MallocBlockDevice;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmUnavailableException;
import io.ringway.vcpu.workload.BlkDriverWorkload;
import io.ringway.vcpu.workload.DriverLoop;

/**
 * {@code ringway vm run --guest blk-driver --cpus N} with N &gt; 1: N vCPU threads, each a CPL-3
 * driver loop on its own queue of one multi-queue virtio-blk device (VIRTIO_BLK_F_MQ) on an
 * in-process bdev, each on its own block range; prints the total and every vCPU's figures.
 */
final class VmRunSmp {
    private VmRunSmp() {
    }

    /** Runs and prints; returns the exit code (0 ok, 1 failed, 2 bad arguments or no KVM). */
    static int run(int cpus, String spec, DriverLoop.Options o, long memoryBytes, String idle, Path json) throws IOException {
        DriverLoop.SmpResult smp;
        String hostCheck = null;
        String bdevDescription;
        try (Kvm kvm = Kvm.open(); BlockDevice bdev = BlockDeviceSpec.open(spec, 512, false, null)) {
            bdevDescription = bdev.describe();
            smp = BlkDriverWorkload.runSmp(kvm, bdev, o, cpus);
            if (bdev instanceof MallocBlockDevice m && o.verify()) {
                hostCheck = BlkDriverWorkload.checkDiskContents(m.memory(), smp);
            }
        } catch (KvmUnavailableException | IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 2;
        } catch (Exception e) {
            System.err.println("vm run failed: " + e.getMessage());
            return 1;
        }
        DriverLoop.Result first = smp.vcpus().get(0);
        System.out.printf(Locale.ROOT, "KVM flavour: %s; guest blk-driver at CPL 3 on %d vCPUs (native under PVM), %d MiB;"
                + " one virtio-blk device with %d queues (VIRTIO_BLK_F_MQ) on %s over virtio-mmio, one lcore polls them all, idle %s%n",
            first.flavour(), cpus, memoryBytes >> 20, cpus, bdevDescription, idle);
        if (smp.note() != null) {
            System.out.println("note: " + smp.note());
        }
        System.out.printf(Locale.ROOT, "total: %,d requests of %d B: %,.0f requests/s; %,d blocks per vCPU; %,d kicks reached userspace;"
                + " %,d irqfd interrupts; device lcore slept %,d times%n",
            smp.completed(), o.dataBytes(), smp.requestsPerSecond(), smp.blocksPerVcpu(), first.notifyExits(), first.interrupts(),
            first.lcoreSleeps());
        for (int k = 0; k < cpus; k++) {
            DriverLoop.Result r = smp.vcpus().get(k);
            Histogram g = r.guestNanos();
            System.out.printf(Locale.ROOT, "  vCPU %d (queue %d, blocks from %,d): %,d requests in %.2f s: %,.0f requests/s;"
                    + " p50 %.1f us  p99 %.1f us  max %.1f us; %d MMIO exits; %s%n",
                k, k, k * smp.blocksPerVcpu(), r.completed(), r.guestSeconds(), r.requestsPerSecond(),
                g.getValueAtPercentile(50) / 1e3, g.getValueAtPercentile(99) / 1e3, g.getMaxValue() / 1e3, r.mmioExits(),
                r.error() == null ? "ok" : r.error());
        }
        if (o.verify()) {
            System.out.println("  data: every read compared in the guest" + (hostCheck == null && spec.startsWith("malloc:")
                ? "; bdev contents (every vCPU's range) checked by the host: ok" : hostCheck != null ? "; HOST CHECK FAILED: " + hostCheck : ""));
        }
        if (json != null) {
            writeJson(json, smp, spec, idle);
            System.out.println("results: " + json);
        }
        if (smp.error() != null || hostCheck != null) {
            System.err.println("FAILED: " + (smp.error() != null ? smp.error() : "host check: " + hostCheck));
            return 1;
        }
        return 0;
    }

    private static void writeJson(Path json, DriverLoop.SmpResult smp, String spec, String idle) throws IOException {
        StringBuilder sb = new StringBuilder();
        DriverLoop.Result first = smp.vcpus().get(0);
        sb.append(String.format(Locale.ROOT, "{\n  \"kvm_flavour\": \"%s\",\n  \"guest\": \"blk-driver\",\n  \"guest_cpl\": 3,\n  \"vcpus\": %d,\n"
                + "  \"bdev\": \"%s\",\n  \"bs\": %d,\n  \"idle\": \"%s\",\n  \"requests\": %d,\n  \"requests_per_s\": %.1f,\n"
                + "  \"notify_exits\": %d,\n  \"interrupts\": %d,\n  \"per_vcpu\": [",
            first.flavour().name(), smp.vcpus().size(), spec.replace("\\", "\\\\").replace("\"", "\\\""), first.program().dataBytes(), idle,
            smp.completed(), smp.requestsPerSecond(), first.notifyExits(), first.interrupts()));
        for (int k = 0; k < smp.vcpus().size(); k++) {
            DriverLoop.Result r = smp.vcpus().get(k);
            sb.append(k == 0 ? "\n" : ",\n").append(String.format(Locale.ROOT,
                "    {\"vcpu\": %d, \"requests\": %d, \"seconds\": %.3f, \"requests_per_s\": %.1f, \"guest_p50_ns\": %d, \"guest_p99_ns\": %d,"
                    + " \"mmio_exits\": %d, \"kicks\": %d, \"error\": %s}",
                k, r.completed(), r.guestSeconds(), r.requestsPerSecond(), r.guestNanos().getValueAtPercentile(50),
                r.guestNanos().getValueAtPercentile(99), r.mmioExits(), r.kicks(),
                r.error() == null ? "null" : "\"" + r.error().replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\""));
        }
        sb.append("\n  ]\n}\n");
        Path parent = json.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(json, sb);
    }
}

package io.ringway.vcpu.workload;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.virtio.VhostUserDevice;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The {@code blk-driver} workload: {@link BlkDriverProgram} against a Ringway
 * {@link VirtioBlkDevice} over a {@link BlockDevice} in this process, or against any vhost-user-blk
 * back-end ({@link #runVhost}), run by {@link DriverLoop}.
 */
public final class BlkDriverWorkload {
    private static final int VIRTIO_BLK_ID = 2;
    private BlkDriverWorkload() {
    }

    /** Runs the workload on {@code bdev} (not closed here). */
    public static DriverLoop.Result run(Kvm kvm, BlockDevice bdev, DriverLoop.Options o) {
        long blocks = bdev.capacityBytes() / o.dataBytes();
        if (blocks < 1) {
            throw new IllegalArgumentException("block device " + bdev.describe() + " is smaller than one request of " + o.dataBytes() + " bytes");
        }
        long sectorMask = Long.highestOneBit(Math.min(blocks, 1L << 16)) - 1;
        // blocks used: a power of 2 (the guest masks the pair index), at most 65536
        DriverProgram program = BlkDriverProgram.build(MicroGuest.MMIO_BASE, o.dataBytes());
        try (VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).name("vm-blk0").build()) {
            return DriverLoop.run(kvm, device, program, o, sectorMask);
        }
    }

    /**
     * Runs the workload on {@code vcpus} vCPUs against one Ringway {@link VirtioBlkDevice} with
     * {@code vcpus} queues (VIRTIO_BLK_F_MQ) on {@code bdev} (not closed here): vCPU k drives queue
     * k from its own thread, on its own range of the disk (the bdev's blocks split in {@code vcpus}
     * equal parts, a power of 2 each, at most 65536). One transport poller on one lcore serves all
     * queues: the zero-length kick ioeventfd does not say which queue was kicked.
     */
    public static DriverLoop.SmpResult runSmp(Kvm kvm, BlockDevice bdev, DriverLoop.Options o, int vcpus) {
        if (vcpus < 1 || vcpus > BlkDriverProgram.MAX_VCPUS) {
            throw new IllegalArgumentException("the blk-driver guest runs on 1 to " + BlkDriverProgram.MAX_VCPUS + " vCPUs, got " + vcpus);
        }
        long blocks = bdev.capacityBytes() / o.dataBytes() / Math.max(1, vcpus);
        if (blocks < 1) {
            throw new IllegalArgumentException("block device " + bdev.describe() + " is smaller than " + vcpus
                + " requests of " + o.dataBytes() + " bytes (one block per vCPU)");
        }
        long blocksPerVcpu = Long.highestOneBit(Math.min(blocks, 1L << 16));
        List<DriverProgram> programs = new ArrayList<>();
        for (int k = 0; k < vcpus; k++) {
            programs.add(BlkDriverProgram.build(MicroGuest.MMIO_BASE, o.dataBytes(), k, vcpus));
        }
        try (VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).name("vm-blk0").queues(vcpus).build()) {
            return DriverLoop.runSmp(kvm, device, programs, o, blocksPerVcpu - 1, blocksPerVcpu);
        }
    }

    /**
     * The host's check of a disk after a run on several vCPUs: each vCPU's range holds what
     * {@link #checkDiskContents} expects of that vCPU. Returns null when all match, else the first
     * difference, naming the vCPU.
     */
    public static String checkDiskContents(MemorySegment disk, DriverLoop.SmpResult result) {
        for (int k = 0; k < result.vcpus().size(); k++) {
            DriverLoop.Result r = result.vcpus().get(k);
            long bytes = result.blocksPerVcpu() * r.program().dataBytes();
            String error = checkDiskContents(disk.asSlice(k * bytes, bytes), r);
            if (error != null) {
                return "vCPU " + k + " (from block " + k * result.blocksPerVcpu() + "): " + error;
            }
        }
        return null;
    }

    /**
     * Runs the workload against a virtio-blk device served by the vhost-user back-end listening on
     * {@code socket}: kicks reach the back-end through the ioeventfd and its completions reach the
     * guest through the irqfd, neither through this process.
     */
    public static DriverLoop.Result runVhost(Kvm kvm, Path socket, DriverLoop.Options o) {
        DriverProgram program = BlkDriverProgram.build(MicroGuest.MMIO_BASE, o.dataBytes());
        try (VhostUserDevice device = VhostUserDevice.connect(socket, VIRTIO_BLK_ID, 1, 256)) {
            long capacityBytes = MemorySegment.ofArray(device.readConfig(0, 8)).get(JAVA_LONG_UNALIGNED, 0) * 512;
            long blocks = capacityBytes / o.dataBytes();
            if (blocks < 1) {
                throw new IllegalArgumentException("the vhost-user device at " + socket + " reports " + capacityBytes
                    + " bytes, less than one request of " + o.dataBytes() + " bytes (does it offer VHOST_USER_PROTOCOL_F_CONFIG?)");
            }
            return DriverLoop.run(kvm, device, program, o, Long.highestOneBit(Math.min(blocks, 1L << 16)) - 1);
        }
    }

    /**
     * The host's check of a disk's bytes after a run (a malloc bdev's memory, a raw file read
     * back): every block the guest wrote holds the pattern of the last pair that wrote it. Returns
     * null when all match, else the first difference.
     */
    public static String checkDiskContents(MemorySegment disk, DriverLoop.Result result) {
        long seed = result.seed();
        long blocks = result.sectorMask() + 1;
        int dataBytes = result.program().dataBytes();
        long writes = (result.completed() + 1) / 2; // even requests are writes
        long checked = 0;
        for (long block = 0; block < blocks && block < writes; block++) {
            long lastPair = block + ((writes - 1 - block) / blocks) * blocks;
            long base = seed + (lastPair << 12);
            for (int k = 0; k < dataBytes / 8; k++) {
                long got = disk.get(JAVA_LONG_UNALIGNED, block * dataBytes + 8L * k);
                if (got != base + k) {
                    return "block " + block + " qword " + k + ": 0x" + Long.toHexString(got) + ", expected 0x"
                        + Long.toHexString(base + k) + " (pair " + lastPair + ")";
                }
            }
            checked++;
        }
        return checked == 0 ? "no block was written" : null;
    }
}

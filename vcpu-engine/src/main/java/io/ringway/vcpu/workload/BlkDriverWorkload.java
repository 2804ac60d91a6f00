package io.ringway.vcpu.workload;

import java.lang.foreign.MemorySegment;

import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The {@code blk-driver} workload: {@link BlkDriverProgram} against a Ringway
 * {@link VirtioBlkDevice} over a {@link BlockDevice}, run by {@link DriverLoop}.
 */
public final class BlkDriverWorkload {
    private BlkDriverWorkload() {
    }

    /** Runs the workload on {@code bdev} (not closed here). */
    public static DriverLoop.Result run(Kvm kvm, BlockDevice bdev, DriverLoop.Options o) {
        long blocks = bdev.capacityBytes() / o.dataBytes();
        if (blocks < 1) {
            throw new IllegalArgumentException("block device " + bdev.describe() + " is smaller than one request of " + o.dataBytes() + " bytes");
        }
        long sectorMask = Long.highestOneBit(Math.min(blocks, 1L << 16)) - 1;
        DriverProgram program = BlkDriverProgram.build(MicroGuest.MMIO_BASE, o.dataBytes());
        try (VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).name("vm-blk0").build()) {
            return DriverLoop.run(kvm, device, program, o, sectorMask);
        }
    }

    /**
     * The host's check of a RAM disk after a run: every block the guest wrote holds the pattern of
     * the last pair that wrote it. Returns null when all match, else the first difference.
     */
    public static String checkMallocContents(MemorySegment disk, DriverLoop.Result result) {
        long seed = result.seed();
        long blocks = result.sectorMask() + 1;
        int dataBytes = result.program().dataBytes();
        long writes = (result.completed() + 1) / 2; // even requests are writes
        long checked = 0;
        for (long block = 0; block < blocks && block < writes; block++) {
            long lastPair = block + ((writes - 1 - block) / blocks) * blocks;
            long base = seed + (lastPair << 12);
            for (int k = 0; k < dataBytes / 8; k++) {
                long got = disk.get(JAVA_LONG, block * dataBytes + 8L * k);
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

package io.ringway.vcpu.workload;

import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.virtio.VirtioMmio;

import static io.ringway.vcpu.asm.Reg.*;

/**
 * A virtio-blk driver loop for a CPL-3 micro-guest, built with the {@link X86Assembler}.
 *
 * <p>At start the guest negotiates the device over virtio-mmio (virtio 1.2, 3.1.1 and 4.2.3: magic,
 * version, device ID, ACKNOWLEDGE, DRIVER, VERSION_1 only, FEATURES_OK read back, queue 0 of
 * {@link #QUEUE_SIZE} entries, QueueReady, DRIVER_OK): these are MMIO exits. It then writes its
 * three descriptors (header, data, status) and loops, one request in flight:
 * <ol>
 *   <li>request i: pair j = i / 2; even i writes the pattern {@code seed + (j << 12) + k} (qword k)
 *       to block {@code j & sectorMask}, odd i reads that block back;</li>
 *   <li>rdtsc, avail ring entry and avail idx, kick (a write to QueueNotify: the ioeventfd, no
 *       exit), then poll the used idx;</li>
 *   <li>rdtsc again: the latency in TSC cycles goes to the latency array; the used id and the
 *       status byte are checked, and a read's data is compared qword by qword with the pattern.</li>
 * </ol>
 * The loop ends after {@code requests} requests (0: until the host sets the stop flag); the guest
 * reports through the done port, with an error code and details in {@link GuestResults} if a
 * check failed.
 *
 * <pre>
 * guest-physical (micro-guest layout, see {@link MicroGuest} and {@link DriverProgram})
 *   0x10_0000 descriptor table   0x10_1000 avail ring   0x10_2000 used ring
 *   0x10_3000 request header     0x10_3100 status byte
 *   0x10_4000 write buffer       0x10_6000 read buffer  (up to 8 KiB each)
 * </pre>
 * With several vCPUs ({@link #build(long, int, int, int)}) vCPU k's copy of this layout (and of
 * the results area) is {@code k * VCPU_STRIDE} higher, and it drives queue k.
 */
public final class BlkDriverProgram {
    public static final long DESC = MicroGuest.DATA;
    public static final long AVAIL = MicroGuest.DATA + 0x1000;
    public static final long USED = MicroGuest.DATA + 0x2000;
    public static final long HEADER = MicroGuest.DATA + 0x3000;
    public static final long STATUS = MicroGuest.DATA + 0x3100;
    public static final long WRITE_BUFFER = MicroGuest.DATA + 0x4000;
    public static final long READ_BUFFER = MicroGuest.DATA + 0x6000;
    /** Queue size the driver asks for. */
    public static final int QUEUE_SIZE = 16;
    /** Largest data buffer. */
    public static final int MAX_DATA_BYTES = 8192;

    /** Most vCPUs a blk-driver guest runs on: their areas fill the data region up to the stacks. */
    public static final int MAX_VCPUS = 8;
    /** Bytes between two vCPUs' rings, buffers and results areas. */
    public static final long VCPU_STRIDE = 0x1_0000;
    /** Bytes between two vCPUs' copies of the code. */
    public static final int CODE_STRIDE = 0x4000;

    private static final int VIRTIO_BLK_ID = 2;
    private static final int F_MQ = 12;
    private static final int T_IN = 0;
    private static final int T_OUT = 1;

    private BlkDriverProgram() {
    }

    /** vCPU {@code vcpu}'s rings, buffers and results are this many bytes above vCPU 0's. */
    public static long offset(int vcpu) {
        return vcpu * VCPU_STRIDE;
    }

    /** Where vCPU {@code vcpu}'s program is loaded. */
    public static long codeAddress(int vcpu) {
        return MicroGuest.CODE + (long) vcpu * CODE_STRIDE;
    }

    /** Rejects a request size the program cannot use, naming the rule. */
    public static void checkDataBytes(int dataBytes) {
        if (dataBytes < 512 || dataBytes > MAX_DATA_BYTES || Integer.bitCount(dataBytes) != 1) {
            throw new IllegalArgumentException("data bytes per request must be a power of 2 in [512, " + MAX_DATA_BYTES + "], got " + dataBytes);
        }
    }

    /**
     * Builds the program for the device at {@code mmioBase}.
     *
     * @param dataBytes bytes per request: a power of 2 in [512, {@link #MAX_DATA_BYTES}]
     */
    public static DriverProgram build(long mmioBase, int dataBytes) {
        return build(mmioBase, dataBytes, 0, 1);
    }

    /**
     * Builds the program vCPU {@code vcpu} of {@code vcpus} runs against one multi-queue device at
     * {@code mmioBase} (with one vCPU: exactly {@link #build(long, int)}). Each vCPU drives queue
     * {@code vcpu} with its own rings, buffers and results area, {@link #VCPU_STRIDE} bytes apart
     * (see {@link #offset}); the host puts its block range and latency array in its parameters
     * (BLOCK_OFFSET, LATENCY_BASE). vCPU 0 negotiates VIRTIO_BLK_F_MQ, checks num_queues, sets up
     * every vCPU's queue and sets GO in its results area at DRIVER_OK; the others wait for GO.
     * Load it at {@link #codeAddress(int)}.
     */
    public static DriverProgram build(long mmioBase, int dataBytes, int vcpu, int vcpus) {
        checkDataBytes(dataBytes);
        if (vcpus < 1 || vcpus > MAX_VCPUS || vcpu < 0 || vcpu >= vcpus) {
            throw new IllegalArgumentException("vCPU " + vcpu + " of " + vcpus + ": the blk-driver guest runs on 1 to " + MAX_VCPUS + " vCPUs");
        }
        boolean multi = vcpus > 1;
        long off = offset(vcpu);
        long desc = DESC + off;
        long avail = AVAIL + off;
        long used = USED + off;
        long header = HEADER + off;
        long status = STATUS + off;
        long writeBuffer = WRITE_BUFFER + off;
        long readBuffer = READ_BUFFER + off;
        int sectorShift = Integer.numberOfTrailingZeros(dataBytes / 512);
        DriverAsm d = new DriverAsm();
        X86Assembler a = d.a;
        Label done = a.newLabel("done");

        // r15: device registers, r14: results area
        a.mov(R15, mmioBase).mov(R14, DriverProgram.RESULTS + off);
        if (!multi) {
            d.negotiate(VIRTIO_BLK_ID);
            d.queue(0, QUEUE_SIZE, DESC, AVAIL, USED);
            d.driverOk();
        } else if (vcpu == 0) {
            d.negotiate(VIRTIO_BLK_ID, 1 << F_MQ);
            // virtio 1.2, 5.2.4: le16 num_queues at offset 34 of struct virtio_blk_config
            d.readConfig32(32);
            a.shr(RAX, 16).and(RAX, 0xffff);
            d.failUnless(Cond.AE, () -> a.cmp(RAX, vcpus), DriverAsm.ERR_QUEUE_COUNT);
            for (int q = 0; q < vcpus; q++) {
                d.queue(q, QUEUE_SIZE, DESC + offset(q), AVAIL + offset(q), USED + offset(q));
            }
            d.driverOk();
            a.mov(RAX, 1).store(Mem.at(R14, GuestResults.GO), RAX);
        } else {
            d.waitGo(DriverProgram.RESULTS + GuestResults.GO);
        }

        // ---- the descriptor chain: 0 header (device-readable), 1 data, 2 status (device-writable)
        // virtio 1.2, 2.7.5: struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; }
        a.mov(RBX, desc);
        a.mov(RAX, header).store(Mem.at(RBX, 0), RAX).store32(Mem.at(RBX, 8), 16).store32(Mem.at(RBX, 12), 1 << 16 | DriverAsm.F_NEXT);
        a.store32(Mem.at(RBX, 24), dataBytes);
        a.mov(RAX, status).store(Mem.at(RBX, 32), RAX).store32(Mem.at(RBX, 40), 1).store32(Mem.at(RBX, 44), DriverAsm.F_WRITE);

        // ---- R12 requests, R11 seed, RSI latency mask, RBP latency array; R13 i, R8 kicks
        d.interruptFlag(avail);
        d.loopParameters();
        if (multi) {
            d.latencyBaseFromResults();
        }
        Label loop = a.newLabel("loop");
        Label isRead = a.newLabel("isRead");
        Label post = a.newLabel("post");
        Label next = a.newLabel("next");
        Label stoppedWaiting = a.newLabel("stoppedWaiting");
        d.loopHead(loop, done);
        // r9 = pair j; header sector = ((j & sectorMask) + block offset) << sectorShift
        a.mov(R9, R13).shr(R9, 1);
        a.mov(RBX, header);
        a.mov(RAX, R9).load(RCX, Mem.at(R14, GuestResults.SECTOR_MASK)).and(RAX, RCX);
        if (multi) {
            a.load(RCX, Mem.at(R14, GuestResults.BLOCK_OFFSET)).add(RAX, RCX);
        }
        if (sectorShift > 0) {
            a.shl(RAX, sectorShift);
        }
        a.store(Mem.at(RBX, 8), RAX);
        a.store32(Mem.at(RBX, 4), 0);
        a.test(R13, 1).jcc(Cond.NZ, isRead);
        // a write: header type OUT, the write buffer filled with the pattern
        a.store32(Mem.at(RBX, 0), T_OUT);
        d.fill(writeBuffer, dataBytes / 8);
        a.mov(RBX, desc).mov(RAX, writeBuffer).store(Mem.at(RBX, 16), RAX).store32(Mem.at(RBX, 28), 2 << 16 | DriverAsm.F_NEXT);
        a.jmp(post);
        // a read: header type IN, data descriptor device-writable
        a.bind(isRead);
        a.store32(Mem.at(RBX, 0), T_IN);
        a.mov(RBX, desc).mov(RAX, readBuffer).store(Mem.at(RBX, 16), RAX)
            .store32(Mem.at(RBX, 28), 2 << 16 | DriverAsm.F_NEXT | DriverAsm.F_WRITE);

        a.bind(post);
        a.mov(RBX, status).mov(RAX, 0xff).store8(Mem.at(RBX), RAX);
        d.rdtsc();
        a.mov(R10, RAX);
        d.postHead(avail, QUEUE_SIZE);
        // the kick: QueueNotify = the queue index, absorbed by the ioeventfd
        a.store32(Mem.at(R15, VirtioMmio.QUEUE_NOTIFY), vcpu);
        a.inc(R8);
        d.pollUsed(used, stoppedWaiting);
        d.recordLatency();
        d.checkUsedHeadZero(QUEUE_SIZE);
        a.mov(RBX, status).load8(RCX, Mem.at(RBX));
        d.failKeeping(Cond.Z, () -> a.test(RCX, RCX), DriverAsm.ERR_STATUS);
        a.test(R13, 1).jcc(Cond.Z, next);
        a.load(RAX, Mem.at(R14, GuestResults.VERIFY)).test(RAX, RAX).jcc(Cond.Z, next);
        d.compare(readBuffer, dataBytes / 8);
        a.bind(next);
        d.next(loop);
        d.epilogue(done, stoppedWaiting, DriverProgram.DONE_PORT);
        byte[] code = a.assemble();
        if (multi && code.length > CODE_STRIDE) {
            throw new IllegalStateException("blk-driver code is " + code.length + " bytes, above the " + CODE_STRIDE + " bytes each vCPU's copy has");
        }
        return new DriverProgram("blk-driver", code, d.mmioAccesses(), dataBytes, QUEUE_SIZE);
    }
}

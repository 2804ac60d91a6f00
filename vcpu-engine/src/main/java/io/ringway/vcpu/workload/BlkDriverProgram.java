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

    private static final int VIRTIO_BLK_ID = 2;
    private static final int T_IN = 0;
    private static final int T_OUT = 1;

    private BlkDriverProgram() {
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
        checkDataBytes(dataBytes);
        int sectorShift = Integer.numberOfTrailingZeros(dataBytes / 512);
        DriverAsm d = new DriverAsm();
        X86Assembler a = d.a;
        Label done = a.newLabel("done");

        // r15: device registers, r14: results area
        a.mov(R15, mmioBase).mov(R14, DriverProgram.RESULTS);
        d.negotiate(VIRTIO_BLK_ID);
        d.queue(0, QUEUE_SIZE, DESC, AVAIL, USED);
        d.driverOk();

        // ---- the descriptor chain: 0 header (device-readable), 1 data, 2 status (device-writable)
        // virtio 1.2, 2.7.5: struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; }
        a.mov(RBX, DESC);
        a.mov(RAX, HEADER).store(Mem.at(RBX, 0), RAX).store32(Mem.at(RBX, 8), 16).store32(Mem.at(RBX, 12), 1 << 16 | DriverAsm.F_NEXT);
        a.store32(Mem.at(RBX, 24), dataBytes);
        a.mov(RAX, STATUS).store(Mem.at(RBX, 32), RAX).store32(Mem.at(RBX, 40), 1).store32(Mem.at(RBX, 44), DriverAsm.F_WRITE);

        // ---- R12 requests, R11 seed, RSI latency mask, RBP latency array; R13 i, R8 kicks
        d.interruptFlag(AVAIL);
        d.loopParameters();
        Label loop = a.newLabel("loop");
        Label isRead = a.newLabel("isRead");
        Label post = a.newLabel("post");
        Label next = a.newLabel("next");
        Label stoppedWaiting = a.newLabel("stoppedWaiting");
        d.loopHead(loop, done);
        // r9 = pair j; header sector = (j & sectorMask) << sectorShift
        a.mov(R9, R13).shr(R9, 1);
        a.mov(RBX, HEADER);
        a.mov(RAX, R9).load(RCX, Mem.at(R14, GuestResults.SECTOR_MASK)).and(RAX, RCX);
        if (sectorShift > 0) {
            a.shl(RAX, sectorShift);
        }
        a.store(Mem.at(RBX, 8), RAX);
        a.store32(Mem.at(RBX, 4), 0);
        a.test(R13, 1).jcc(Cond.NZ, isRead);
        // a write: header type OUT, the write buffer filled with the pattern
        a.store32(Mem.at(RBX, 0), T_OUT);
        d.fill(WRITE_BUFFER, dataBytes / 8);
        a.mov(RBX, DESC).mov(RAX, WRITE_BUFFER).store(Mem.at(RBX, 16), RAX).store32(Mem.at(RBX, 28), 2 << 16 | DriverAsm.F_NEXT);
        a.jmp(post);
        // a read: header type IN, data descriptor device-writable
        a.bind(isRead);
        a.store32(Mem.at(RBX, 0), T_IN);
        a.mov(RBX, DESC).mov(RAX, READ_BUFFER).store(Mem.at(RBX, 16), RAX)
            .store32(Mem.at(RBX, 28), 2 << 16 | DriverAsm.F_NEXT | DriverAsm.F_WRITE);

        a.bind(post);
        a.mov(RBX, STATUS).mov(RAX, 0xff).store8(Mem.at(RBX), RAX);
        d.rdtsc();
        a.mov(R10, RAX);
        d.postHead(AVAIL, QUEUE_SIZE);
        // the kick: QueueNotify = 0, absorbed by the ioeventfd
        a.store32(Mem.at(R15, VirtioMmio.QUEUE_NOTIFY), 0);
        a.inc(R8);
        d.pollUsed(USED, stoppedWaiting);
        d.recordLatency();
        d.checkUsedHeadZero(QUEUE_SIZE);
        a.mov(RBX, STATUS).load8(RCX, Mem.at(RBX));
        d.failKeeping(Cond.Z, () -> a.test(RCX, RCX), DriverAsm.ERR_STATUS);
        a.test(R13, 1).jcc(Cond.Z, next);
        a.load(RAX, Mem.at(R14, GuestResults.VERIFY)).test(RAX, RAX).jcc(Cond.Z, next);
        d.compare(READ_BUFFER, dataBytes / 8);
        a.bind(next);
        d.next(loop);
        d.epilogue(done, stoppedWaiting, DriverProgram.DONE_PORT);
        return new DriverProgram("blk-driver", a.assemble(), d.mmioAccesses(), dataBytes, QUEUE_SIZE);
    }
}

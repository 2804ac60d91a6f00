package io.ringway.vcpu.workload;

import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
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
 *       to sector {@code (j & sectorMask) * (dataBytes / 512)}, odd i reads that sector back;</li>
 *   <li>rdtsc, avail ring entry and avail idx, kick (a write to QueueNotify: the ioeventfd, no
 *       exit), then poll the used idx;</li>
 *   <li>rdtsc again: the latency in TSC cycles goes to the latency array (a ring of
 *       {@code latencyMask + 1} entries); the used id and the status byte are checked, and a read's
 *       data is compared qword by qword with the pattern.</li>
 * </ol>
 * The loop ends after {@code requests} requests (0: until the host sets the stop flag), and the
 * guest reports by writing the done port. A failure ends it early with an error code and details
 * in the results area ({@link GuestResults}).
 *
 * <pre>
 * guest-physical (micro-guest layout, see {@link MicroGuest})
 *   0x10_0000 descriptor table   0x10_1000 avail ring   0x10_2000 used ring
 *   0x10_3000 request header     0x10_3100 status byte
 *   0x10_4000 write buffer       0x10_6000 read buffer  (up to 8 KiB each)
 *   0x10_8000 parameters and results ({@link GuestResults})
 *   0x40_0000 latency array (u64 TSC cycles per request)
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
    public static final long RESULTS = MicroGuest.DATA + 0x8000;
    public static final long LATENCIES = 0x40_0000;
    /** The port the guest writes when it is done (the value: 0 or an error code). */
    public static final int DONE_PORT = 0x10;
    /** Queue size the driver asks for. */
    public static final int QUEUE_SIZE = 16;
    /** Largest data buffer. */
    public static final int MAX_DATA_BYTES = 8192;

    // Error codes the guest reports (GuestResults.ERROR).
    public static final int ERR_MAGIC = 1;
    public static final int ERR_VERSION = 2;
    public static final int ERR_DEVICE_ID = 3;
    public static final int ERR_NO_VERSION_1 = 4;
    public static final int ERR_FEATURES_REFUSED = 5;
    public static final int ERR_QUEUE_TOO_SMALL = 6;
    public static final int ERR_QUEUE_NOT_READY = 7;
    public static final int ERR_NEEDS_RESET = 8;
    public static final int ERR_USED_ID = 9;
    public static final int ERR_STATUS = 10;
    public static final int ERR_DATA = 11;
    public static final int ERR_STOPPED_WAITING = 12;

    private static final int VIRTIO_BLK_ID = 2;
    private static final int T_IN = 0;
    private static final int T_OUT = 1;
    private static final int F_NEXT = 1;
    private static final int F_WRITE = 2;

    private final byte[] code;
    private final int negotiationMmioAccesses;
    private final int dataBytes;

    private BlkDriverProgram(byte[] code, int negotiationMmioAccesses, int dataBytes) {
        this.code = code;
        this.negotiationMmioAccesses = negotiationMmioAccesses;
        this.dataBytes = dataBytes;
    }

    /** Describes the error code the guest reported. */
    public static String describeError(long code) {
        return switch ((int) code) {
            case 0 -> "none";
            case ERR_MAGIC -> "MagicValue is not \"virt\"";
            case ERR_VERSION -> "Version is not 2";
            case ERR_DEVICE_ID -> "DeviceID is not 2 (block)";
            case ERR_NO_VERSION_1 -> "the device does not offer VIRTIO_F_VERSION_1";
            case ERR_FEATURES_REFUSED -> "FEATURES_OK did not stick";
            case ERR_QUEUE_TOO_SMALL -> "QueueNumMax is below " + QUEUE_SIZE;
            case ERR_QUEUE_NOT_READY -> "QueueReady reads 0 after it was set";
            case ERR_NEEDS_RESET -> "the device reports DEVICE_NEEDS_RESET after DRIVER_OK";
            case ERR_USED_ID -> "a used element names another head than 0";
            case ERR_STATUS -> "a request completed with a non-zero status";
            case ERR_DATA -> "data read back differs from what was written";
            case ERR_STOPPED_WAITING -> "stopped by the host while waiting for a completion";
            default -> "unknown error " + code;
        };
    }

    /**
     * Builds the program for the device at {@code mmioBase}.
     *
     * @param dataBytes bytes per request: a multiple of 512, at most {@link #MAX_DATA_BYTES}
     */
    public static BlkDriverProgram build(long mmioBase, int dataBytes) {
        if (dataBytes < 512 || dataBytes > MAX_DATA_BYTES || Integer.bitCount(dataBytes) != 1) {
            throw new IllegalArgumentException("data bytes per request must be a power of 2 in [512, " + MAX_DATA_BYTES + "], got " + dataBytes);
        }
        int sectorShift = Integer.numberOfTrailingZeros(dataBytes / 512);
        X86Assembler a = new X86Assembler();
        Label fail = a.newLabel("fail");
        Label done = a.newLabel("done");
        int[] mmio = {0};

        // r15: device registers, r14: results area
        a.mov(R15, mmioBase).mov(R14, RESULTS);

        // ---- virtio 1.2, 3.1.1: device initialization, over MMIO exits
        expect(a, mmio, VirtioMmio.MAGIC_VALUE, VirtioMmio.MAGIC, ERR_MAGIC, fail);
        expect(a, mmio, VirtioMmio.VERSION, VirtioMmio.VERSION_2, ERR_VERSION, fail);
        expect(a, mmio, VirtioMmio.DEVICE_ID, VIRTIO_BLK_ID, ERR_DEVICE_ID, fail);
        write(a, mmio, VirtioMmio.STATUS, 0);
        write(a, mmio, VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE);
        write(a, mmio, VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER);
        write(a, mmio, VirtioMmio.DEVICE_FEATURES_SEL, 1);
        read(a, mmio, VirtioMmio.DEVICE_FEATURES);
        failUnless(a, Cond.NZ, () -> a.test(RAX, 1), ERR_NO_VERSION_1, fail); // bit 32: VERSION_1
        write(a, mmio, VirtioMmio.DRIVER_FEATURES_SEL, 0);
        write(a, mmio, VirtioMmio.DRIVER_FEATURES, 0);
        write(a, mmio, VirtioMmio.DRIVER_FEATURES_SEL, 1);
        write(a, mmio, VirtioMmio.DRIVER_FEATURES, 1);
        int featuresOk = VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER | VirtioMmio.STATUS_FEATURES_OK;
        write(a, mmio, VirtioMmio.STATUS, featuresOk);
        read(a, mmio, VirtioMmio.STATUS);
        failUnless(a, Cond.NZ, () -> a.test(RAX, VirtioMmio.STATUS_FEATURES_OK), ERR_FEATURES_REFUSED, fail);
        write(a, mmio, VirtioMmio.QUEUE_SEL, 0);
        read(a, mmio, VirtioMmio.QUEUE_NUM_MAX);
        failUnless(a, Cond.AE, () -> a.cmp(RAX, QUEUE_SIZE), ERR_QUEUE_TOO_SMALL, fail);
        write(a, mmio, VirtioMmio.QUEUE_NUM, QUEUE_SIZE);
        write(a, mmio, VirtioMmio.QUEUE_DESC_LOW, (int) DESC);
        write(a, mmio, VirtioMmio.QUEUE_DESC_HIGH, 0);
        write(a, mmio, VirtioMmio.QUEUE_DRIVER_LOW, (int) AVAIL);
        write(a, mmio, VirtioMmio.QUEUE_DRIVER_HIGH, 0);
        write(a, mmio, VirtioMmio.QUEUE_DEVICE_LOW, (int) USED);
        write(a, mmio, VirtioMmio.QUEUE_DEVICE_HIGH, 0);
        write(a, mmio, VirtioMmio.QUEUE_READY, 1);
        expect(a, mmio, VirtioMmio.QUEUE_READY, 1, ERR_QUEUE_NOT_READY, fail);
        write(a, mmio, VirtioMmio.STATUS, featuresOk | VirtioMmio.STATUS_DRIVER_OK);
        read(a, mmio, VirtioMmio.STATUS);
        failUnless(a, Cond.Z, () -> a.test(RAX, VirtioMmio.STATUS_DEVICE_NEEDS_RESET), ERR_NEEDS_RESET, fail);

        // ---- the descriptor chain: 0 header (device-readable), 1 data, 2 status (device-writable)
        // virtio 1.2, 2.7.5: struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; }
        a.mov(RBX, DESC);
        a.mov(RAX, HEADER).store(Mem.at(RBX, 0), RAX).store32(Mem.at(RBX, 8), 16).store32(Mem.at(RBX, 12), 1 << 16 | F_NEXT);
        a.store32(Mem.at(RBX, 24), dataBytes);
        a.mov(RAX, STATUS).store(Mem.at(RBX, 32), RAX).store32(Mem.at(RBX, 40), 1).store32(Mem.at(RBX, 44), F_WRITE);

        // ---- parameters
        a.load(R12, Mem.at(R14, GuestResults.REQUESTS));
        a.load(R11, Mem.at(R14, GuestResults.SEED));
        a.load(RSI, Mem.at(R14, GuestResults.LATENCY_MASK));
        a.mov(RBP, LATENCIES);
        a.xor(R13, R13).xor(R8, R8);
        rdtsc(a);
        a.store(Mem.at(R14, GuestResults.TSC_START), RAX);

        Label loop = a.newLabel("loop");
        Label go = a.newLabel("go");
        Label isRead = a.newLabel("isRead");
        Label post = a.newLabel("post");
        Label poll = a.newLabel("poll");
        Label got = a.newLabel("got");
        Label next = a.newLabel("next");
        Label fill = a.newLabel("fill");
        Label compare = a.newLabel("compare");
        Label stoppedWaiting = a.newLabel("stoppedWaiting");

        a.bind(loop);
        Label unbounded = a.newLabel("unbounded");
        a.test(R12, R12).jcc(Cond.Z, unbounded);
        a.cmp(R13, R12).jcc(Cond.AE, done).jmp(go);
        a.bind(unbounded);
        a.load(RAX, Mem.at(R14, GuestResults.STOP)).test(RAX, RAX).jcc(Cond.NZ, done);

        a.bind(go);
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
        // a write: header type OUT, fill the write buffer with the pattern
        a.store32(Mem.at(RBX, 0), T_OUT);
        pattern(a, RAX);
        a.mov(RDI, WRITE_BUFFER).mov(RCX, dataBytes / 8);
        a.bind(fill).store(Mem.at(RDI), RAX).add(RDI, 8).inc(RAX).dec(RCX).jcc(Cond.NZ, fill);
        a.mov(RBX, DESC).mov(RAX, WRITE_BUFFER).store(Mem.at(RBX, 16), RAX).store32(Mem.at(RBX, 28), 2 << 16 | F_NEXT);
        a.jmp(post);
        // a read: header type IN, data descriptor device-writable
        a.bind(isRead);
        a.store32(Mem.at(RBX, 0), T_IN);
        a.mov(RBX, DESC).mov(RAX, READ_BUFFER).store(Mem.at(RBX, 16), RAX).store32(Mem.at(RBX, 28), 2 << 16 | F_NEXT | F_WRITE);

        a.bind(post);
        a.mov(RBX, STATUS).mov(RAX, 0xff).store8(Mem.at(RBX), RAX);
        rdtsc(a);
        a.mov(R10, RAX);
        // virtio 1.2, 2.7.13: ring[idx % size] = head, then idx + 1 (x86 keeps the two stores in order)
        a.mov(RBX, AVAIL);
        a.mov(RAX, R13).and(RAX, QUEUE_SIZE - 1).shl(RAX, 1).add(RAX, RBX);
        a.xor32(RCX, RCX).store16(Mem.at(RAX, 4), RCX);
        a.mov(RAX, R13).inc(RAX).store16(Mem.at(RBX, 2), RAX);
        // the kick: QueueNotify = 0, absorbed by the ioeventfd
        a.store32(Mem.at(R15, VirtioMmio.QUEUE_NOTIFY), 0);
        a.inc(R8);
        // poll the used idx until it reaches i + 1 (mod 2^16), or the host says stop
        a.mov(RBX, USED).mov(RCX, R13).inc(RCX).and(RCX, 0xffff);
        a.bind(poll);
        a.load16(RAX, Mem.at(RBX, 2)).cmp(RAX, RCX).jcc(Cond.E, got);
        a.load(RAX, Mem.at(R14, GuestResults.STOP)).test(RAX, RAX).jcc(Cond.NZ, stoppedWaiting);
        a.pause().jmp(poll);

        a.bind(got);
        rdtsc(a);
        a.sub(RAX, R10);
        a.mov(RCX, R13).and(RCX, RSI).shl(RCX, 3).add(RCX, RBP).store(Mem.at(RCX), RAX);
        // virtio 1.2, 2.7.8: struct virtq_used_elem { le32 id; le32 len; } at 4 + 8 * (i % size)
        a.mov(RAX, R13).and(RAX, QUEUE_SIZE - 1).shl(RAX, 3).add(RAX, RBX);
        a.load32(RCX, Mem.at(RAX, 4)).xor32(RDX, RDX);
        failUnless(a, Cond.Z, () -> a.test(RCX, RCX), ERR_USED_ID, fail);
        a.mov(RBX, STATUS).load8(RCX, Mem.at(RBX));
        failUnless(a, Cond.Z, () -> a.test(RCX, RCX), ERR_STATUS, fail);
        a.test(R13, 1).jcc(Cond.Z, next);
        a.load(RAX, Mem.at(R14, GuestResults.VERIFY)).test(RAX, RAX).jcc(Cond.Z, next);
        pattern(a, RDX);
        a.mov(RDI, READ_BUFFER).mov(RAX, dataBytes / 8);
        a.bind(compare);
        a.load(RCX, Mem.at(RDI)).cmp(RCX, RDX);
        failUnless(a, Cond.E, () -> { }, ERR_DATA, fail);
        a.add(RDI, 8).inc(RDX).dec(RAX).jcc(Cond.NZ, compare);
        a.bind(next);
        a.inc(R13).store(Mem.at(R14, GuestResults.COMPLETED), R13);
        a.jmp(loop);

        a.bind(stoppedWaiting);
        a.mov(RAX, ERR_STOPPED_WAITING).xor32(RCX, RCX).xor32(RDX, RDX).jmp(fail);

        // ---- the end: rax = error code, rcx/rdx = details
        a.bind(done);
        a.xor32(RAX, RAX).xor32(RCX, RCX).xor32(RDX, RDX);
        a.bind(fail);
        a.store(Mem.at(R14, GuestResults.ERROR), RAX);
        a.store(Mem.at(R14, GuestResults.DETAIL), RCX);
        a.store(Mem.at(R14, GuestResults.DETAIL2), RDX);
        a.store(Mem.at(R14, GuestResults.COMPLETED), R13);
        a.store(Mem.at(R14, GuestResults.KICKS), R8);
        a.mov(RDI, RAX);
        rdtsc(a);
        a.store(Mem.at(R14, GuestResults.TSC_END), RAX);
        a.mov(RAX, RDI).outImm(DONE_PORT, 1);
        Label hang = a.newLabel("hang");
        a.bind(hang).pause().jmp(hang); // the host ends the run at the done port
        return new BlkDriverProgram(a.assemble(), mmio[0], dataBytes);
    }

    /** {@code reg = seed + (j << 12)}: qword k of pair j's data is this plus k. */
    private static void pattern(X86Assembler a, Reg reg) {
        a.mov(reg, R9).shl(reg, 12).add(reg, R11);
    }

    private static void rdtsc(X86Assembler a) {
        a.rdtsc().shl(RDX, 32).or(RAX, RDX);
    }

    private static void read(X86Assembler a, int[] count, int register) {
        a.load32(RAX, Mem.at(R15, register));
        count[0]++;
    }

    private static void write(X86Assembler a, int[] count, int register, int value) {
        a.store32(Mem.at(R15, register), value);
        count[0]++;
    }

    private static void expect(X86Assembler a, int[] count, int register, int value, int error, Label fail) {
        read(a, count, register);
        failUnless(a, Cond.E, () -> a.cmp(RAX, value), error, fail);
    }

    /** Emits {@code check}, then: unless {@code ok}, rax = error (rcx = what was read) and jump to fail. */
    private static void failUnless(X86Assembler a, Cond ok, Runnable check, int error, Label fail) {
        Label pass = a.newLabel("pass");
        check.run();
        a.jcc(ok, pass);
        if (error != ERR_DATA && error != ERR_USED_ID && error != ERR_STATUS) {
            a.mov(RCX, RAX).xor32(RDX, RDX);
        }
        a.mov(RAX, error).jmp(fail);
        a.bind(pass);
    }

    /** The machine code, to load at {@link MicroGuest#CODE}. */
    public byte[] code() {
        return code;
    }

    /** MMIO register accesses of the negotiation: every MMIO exit of a run that went right. */
    public int negotiationMmioAccesses() {
        return negotiationMmioAccesses;
    }

    public int dataBytes() {
        return dataBytes;
    }
}

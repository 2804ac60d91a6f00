package io.ringway.vcpu.workload;

import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.virtio.VirtioMmio;

import static io.ringway.vcpu.asm.Reg.*;

/**
 * What every driver-loop program emits: virtio-mmio register accesses (R15 holds the device's
 * base), the device initialization of virtio 1.2, 3.1.1 with VERSION_1 only, queue set-up, rdtsc
 * into RAX, and the checks that jump to the common failure exit with RAX = error code and RCX =
 * the value read. Counts the MMIO register accesses it emits: each is an MMIO exit.
 */
final class DriverAsm {
    // Error codes the guest reports (GuestResults.ERROR), shared by every program.
    static final int ERR_MAGIC = 1;
    static final int ERR_VERSION = 2;
    static final int ERR_DEVICE_ID = 3;
    static final int ERR_NO_VERSION_1 = 4;
    static final int ERR_FEATURES_REFUSED = 5;
    static final int ERR_QUEUE_TOO_SMALL = 6;
    static final int ERR_QUEUE_NOT_READY = 7;
    static final int ERR_NEEDS_RESET = 8;
    static final int ERR_USED_ID = 9;
    static final int ERR_STATUS = 10;
    static final int ERR_DATA = 11;
    static final int ERR_STOPPED_WAITING = 12;
    static final int ERR_LENGTH = 13;
    static final int ERR_NO_MQ = 14;
    static final int ERR_QUEUE_COUNT = 15;
    static final int ERR_NOT_STARTED = 16;

    static final int F_NEXT = 1;
    static final int F_WRITE = 2;
    static final int FEATURES_OK = VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER | VirtioMmio.STATUS_FEATURES_OK;

    final X86Assembler a = new X86Assembler();
    final Label fail = a.newLabel("fail");
    private int mmioAccesses;

    static String describeError(long code, int queueSize) {
        return switch ((int) code) {
            case 0 -> "none";
            case ERR_MAGIC -> "MagicValue is not \"virt\"";
            case ERR_VERSION -> "Version is not 2";
            case ERR_DEVICE_ID -> "DeviceID is not the expected device type";
            case ERR_NO_VERSION_1 -> "the device does not offer VIRTIO_F_VERSION_1";
            case ERR_FEATURES_REFUSED -> "FEATURES_OK did not stick";
            case ERR_QUEUE_TOO_SMALL -> "QueueNumMax is below " + queueSize;
            case ERR_QUEUE_NOT_READY -> "QueueReady reads 0 after it was set";
            case ERR_NEEDS_RESET -> "the device reports DEVICE_NEEDS_RESET after DRIVER_OK";
            case ERR_USED_ID -> "a used element names another head than the one posted";
            case ERR_STATUS -> "a request completed with a non-zero status";
            case ERR_DATA -> "data read back differs from what was written";
            case ERR_STOPPED_WAITING -> "stopped by the host while waiting for a completion";
            case ERR_LENGTH -> "a used element has an unexpected length";
            case ERR_NO_MQ -> "the device does not offer VIRTIO_BLK_F_MQ";
            case ERR_QUEUE_COUNT -> "the device's num_queues is below the number of vCPUs";
            case ERR_NOT_STARTED -> "stopped by the host while waiting for vCPU 0 to set the device up";
            default -> "unknown error " + code;
        };
    }

    int mmioAccesses() {
        return mmioAccesses;
    }

    void read(int register) {
        a.load32(RAX, Mem.at(R15, register));
        mmioAccesses++;
    }

    void write(int register, int value) {
        a.store32(Mem.at(R15, register), value);
        mmioAccesses++;
    }

    void expect(int register, int value, int error) {
        read(register);
        failUnless(Cond.E, () -> a.cmp(RAX, value), error);
    }

    /** Emits {@code check}; unless {@code ok} holds then, fails with {@code error} (RCX = RAX, RDX = 0). */
    void failUnless(Cond ok, Runnable check, int error) {
        Label pass = a.newLabel("pass");
        check.run();
        a.jcc(ok, pass);
        a.mov(RCX, RAX).xor32(RDX, RDX);
        a.mov(RAX, error).jmp(fail);
        a.bind(pass);
    }

    /** Emits {@code check}; unless {@code ok} holds, fails with {@code error} and RCX/RDX as they are. */
    void failKeeping(Cond ok, Runnable check, int error) {
        Label pass = a.newLabel("pass");
        check.run();
        a.jcc(ok, pass);
        a.mov(RAX, error).jmp(fail);
        a.bind(pass);
    }

    /** virtio 1.2, 3.1.1 steps 1-6 for device {@code deviceId}, accepting VERSION_1 only. */
    void negotiate(int deviceId) {
        negotiate(deviceId, 0);
    }

    /**
     * virtio 1.2, 3.1.1 steps 1-6 for device {@code deviceId}, accepting VERSION_1 and the feature
     * bits {@code featuresLow} (bits 0-31), each of which the device must offer.
     */
    void negotiate(int deviceId, int featuresLow) {
        expect(VirtioMmio.MAGIC_VALUE, VirtioMmio.MAGIC, ERR_MAGIC);
        expect(VirtioMmio.VERSION, VirtioMmio.VERSION_2, ERR_VERSION);
        expect(VirtioMmio.DEVICE_ID, deviceId, ERR_DEVICE_ID);
        write(VirtioMmio.STATUS, 0);
        write(VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE);
        write(VirtioMmio.STATUS, VirtioMmio.STATUS_ACKNOWLEDGE | VirtioMmio.STATUS_DRIVER);
        write(VirtioMmio.DEVICE_FEATURES_SEL, 1);
        read(VirtioMmio.DEVICE_FEATURES);
        failUnless(Cond.NZ, () -> a.test(RAX, 1), ERR_NO_VERSION_1); // bit 32: VERSION_1
        if (featuresLow != 0) {
            write(VirtioMmio.DEVICE_FEATURES_SEL, 0);
            read(VirtioMmio.DEVICE_FEATURES);
            a.and(RAX, featuresLow);
            failUnless(Cond.E, () -> a.cmp(RAX, featuresLow), ERR_NO_MQ);
        }
        write(VirtioMmio.DRIVER_FEATURES_SEL, 0);
        write(VirtioMmio.DRIVER_FEATURES, featuresLow);
        write(VirtioMmio.DRIVER_FEATURES_SEL, 1);
        write(VirtioMmio.DRIVER_FEATURES, 1);
        write(VirtioMmio.STATUS, FEATURES_OK);
        read(VirtioMmio.STATUS);
        failUnless(Cond.NZ, () -> a.test(RAX, VirtioMmio.STATUS_FEATURES_OK), ERR_FEATURES_REFUSED);
    }

    /** virtio 1.2, 4.2.3.2: queue {@code index} of {@code size} entries at the three addresses (below 4 GiB). */
    void queue(int index, int size, long desc, long avail, long used) {
        write(VirtioMmio.QUEUE_SEL, index);
        read(VirtioMmio.QUEUE_NUM_MAX);
        failUnless(Cond.AE, () -> a.cmp(RAX, size), ERR_QUEUE_TOO_SMALL);
        write(VirtioMmio.QUEUE_NUM, size);
        write(VirtioMmio.QUEUE_DESC_LOW, (int) desc);
        write(VirtioMmio.QUEUE_DESC_HIGH, 0);
        write(VirtioMmio.QUEUE_DRIVER_LOW, (int) avail);
        write(VirtioMmio.QUEUE_DRIVER_HIGH, 0);
        write(VirtioMmio.QUEUE_DEVICE_LOW, (int) used);
        write(VirtioMmio.QUEUE_DEVICE_HIGH, 0);
        write(VirtioMmio.QUEUE_READY, 1);
        expect(VirtioMmio.QUEUE_READY, 1, ERR_QUEUE_NOT_READY);
    }

    /** DRIVER_OK, then checks the device did not fail. */
    void driverOk() {
        write(VirtioMmio.STATUS, FEATURES_OK | VirtioMmio.STATUS_DRIVER_OK);
        read(VirtioMmio.STATUS);
        failUnless(Cond.Z, () -> a.test(RAX, VirtioMmio.STATUS_DEVICE_NEEDS_RESET), ERR_NEEDS_RESET);
    }

    /** Reads the aligned 32-bit word at {@code offset} of the device configuration space into RAX. */
    void readConfig32(int offset) {
        read(VirtioMmio.CONFIG + offset);
    }

    /**
     * A vCPU other than 0: zeroes R13 and R8, then waits until vCPU 0 writes GO at {@code goAddress}
     * (the device is at DRIVER_OK); STOP_NOW in its own results area (R14) fails with ERR_NOT_STARTED.
     */
    void waitGo(long goAddress) {
        Label poll = a.newLabel("waitGo");
        Label go = a.newLabel("go");
        Label stopped = a.newLabel("notStarted");
        a.xor(R13, R13).xor(R8, R8);
        a.mov(RBX, goAddress);
        a.bind(poll);
        a.load(RAX, Mem.at(RBX)).test(RAX, RAX).jcc(Cond.NZ, go);
        a.load(RAX, Mem.at(R14, GuestResults.STOP)).cmp(RAX, GuestResults.STOP_NOW).jcc(Cond.AE, stopped);
        a.pause().jmp(poll);
        a.bind(stopped);
        a.xor32(RCX, RCX).xor32(RDX, RDX).mov(RAX, ERR_NOT_STARTED).jmp(fail);
        a.bind(go);
    }

    /** Loads RBP (the latency array) from the results area's LATENCY_BASE instead of the fixed address. */
    void latencyBaseFromResults() {
        a.load(RBP, Mem.at(R14, GuestResults.LATENCY_BASE));
    }

    /**
     * Loads the parameters (R12 requests, R11 seed, RSI latency mask, RBP latency array), zeroes
     * R13 (requests done) and R8 (kicks), and records the start TSC.
     */
    void loopParameters() {
        a.load(R12, Mem.at(R14, GuestResults.REQUESTS));
        a.load(R11, Mem.at(R14, GuestResults.SEED));
        a.load(RSI, Mem.at(R14, GuestResults.LATENCY_MASK));
        a.mov(RBP, DriverProgram.LATENCIES);
        a.xor(R13, R13).xor(R8, R8);
        rdtsc();
        a.store(Mem.at(R14, GuestResults.TSC_START), RAX);
    }

    /**
     * virtio 1.2, 2.7.7: when the host asked for it (NO_INTERRUPTS), sets VRING_AVAIL_F_NO_INTERRUPT
     * in the avail ring's flags: the driver polls the used ring, so the device need not signal.
     */
    void interruptFlag(long avail) {
        Label keep = a.newLabel("keep");
        a.load(RAX, Mem.at(R14, GuestResults.NO_INTERRUPTS)).test(RAX, RAX).jcc(Cond.Z, keep);
        a.mov(RBX, avail).mov(RAX, 1).store16(Mem.at(RBX, 0), RAX);
        a.bind(keep);
    }

    /** Binds {@code loop}: ends at {@code done} after R12 requests (R12 = 0: when the host sets STOP). */
    void loopHead(Label loop, Label done) {
        Label go = a.newLabel("go");
        Label unbounded = a.newLabel("unbounded");
        a.bind(loop);
        a.test(R12, R12).jcc(Cond.Z, unbounded);
        a.cmp(R13, R12).jcc(Cond.AE, done).jmp(go);
        a.bind(unbounded);
        a.load(RAX, Mem.at(R14, GuestResults.STOP)).test(RAX, RAX).jcc(Cond.NZ, done);
        a.bind(go);
    }

    /** virtio 1.2, 2.7.13: avail ring[i % size] = head 0, then avail idx = i + 1 (R13 = i; x86 keeps the stores in order). */
    void postHead(long avail, int queueSize) {
        a.mov(RBX, avail);
        a.mov(RAX, R13).and(RAX, queueSize - 1).shl(RAX, 1).add(RAX, RBX);
        a.xor32(RCX, RCX).store16(Mem.at(RAX, 4), RCX);
        a.mov(RAX, R13).inc(RAX).store16(Mem.at(RBX, 2), RAX);
    }

    /** Polls the used idx at {@code used} (left in RBX) until it is R13 + 1 mod 2^16; STOP_NOW from the host jumps to {@code stopped}. */
    void pollUsed(long used, Label stopped) {
        Label poll = a.newLabel("poll");
        Label got = a.newLabel("got");
        a.mov(RBX, used).mov(RCX, R13).inc(RCX).and(RCX, 0xffff);
        a.bind(poll);
        a.load16(RAX, Mem.at(RBX, 2)).cmp(RAX, RCX).jcc(Cond.E, got);
        a.load(RAX, Mem.at(R14, GuestResults.STOP)).cmp(RAX, GuestResults.STOP_NOW).jcc(Cond.AE, stopped);
        a.pause().jmp(poll);
        a.bind(got);
    }

    /** Stores rdtsc - R10 (the request's start) in latency slot R13 &amp; RSI. Keeps RBX. */
    void recordLatency() {
        rdtsc();
        a.sub(RAX, R10);
        a.mov(RCX, R13).and(RCX, RSI).shl(RCX, 3).add(RCX, RBP).store(Mem.at(RCX), RAX);
    }

    /** Checks that used element R13 % size of the ring at RBX names head 0 (virtio 1.2, 2.7.8: {le32 id; le32 len;}); RAX = its address. */
    void checkUsedHeadZero(int queueSize) {
        a.mov(RAX, R13).and(RAX, queueSize - 1).shl(RAX, 3).add(RAX, RBX);
        a.load32(RCX, Mem.at(RAX, 4)).xor32(RDX, RDX);
        failKeeping(Cond.Z, () -> a.test(RCX, RCX), ERR_USED_ID);
    }

    /** {@code reg = seed + (R9 << 12)}: qword k of payload R9 is this plus k. */
    void pattern(Reg reg) {
        a.mov(reg, R9).shl(reg, 12).add(reg, R11);
    }

    /** Writes payload R9's pattern, {@code qwords} of it, at {@code buffer}. */
    void fill(long buffer, int qwords) {
        Label fill = a.newLabel("fill");
        pattern(RAX);
        a.mov(RDI, buffer).mov(RCX, qwords);
        a.bind(fill).store(Mem.at(RDI), RAX).add(RDI, 8).inc(RAX).dec(RCX).jcc(Cond.NZ, fill);
    }

    /** Compares {@code qwords} at {@code buffer} with payload R9's pattern; a difference fails with ERR_DATA (RCX read, RDX expected). */
    void compare(long buffer, int qwords) {
        Label compare = a.newLabel("compare");
        pattern(RDX);
        a.mov(RDI, buffer).mov(RAX, qwords);
        a.bind(compare);
        a.load(RCX, Mem.at(RDI)).cmp(RCX, RDX);
        failKeeping(Cond.E, () -> { }, ERR_DATA);
        a.add(RDI, 8).inc(RDX).dec(RAX).jcc(Cond.NZ, compare);
    }

    /** R13 + 1, published as COMPLETED, and back to {@code loop}. */
    void next(Label loop) {
        a.inc(R13).store(Mem.at(R14, GuestResults.COMPLETED), R13);
        a.jmp(loop);
    }

    /** RAX = the 64-bit TSC (RDX clobbered). */
    void rdtsc() {
        a.rdtsc().shl(RDX, 32).or(RAX, RDX);
    }

    /**
     * The common end: {@code done} reports success; {@code fail} stores RAX (error), RCX, RDX, the
     * completed count (R13) and the kicks (R8) in the results area (R14), the end TSC, then writes
     * the error code to the done port.
     */
    void epilogue(Label done, Label stoppedWaiting, int donePort) {
        a.bind(stoppedWaiting);
        a.mov(RAX, ERR_STOPPED_WAITING).xor32(RCX, RCX).xor32(RDX, RDX).jmp(fail);
        a.bind(done);
        a.xor32(RAX, RAX).xor32(RCX, RCX).xor32(RDX, RDX);
        a.bind(fail);
        a.store(Mem.at(R14, GuestResults.ERROR), RAX);
        a.store(Mem.at(R14, GuestResults.DETAIL), RCX);
        a.store(Mem.at(R14, GuestResults.DETAIL2), RDX);
        a.store(Mem.at(R14, GuestResults.COMPLETED), R13);
        a.store(Mem.at(R14, GuestResults.KICKS), R8);
        a.mov(RDI, RAX);
        rdtsc();
        a.store(Mem.at(R14, GuestResults.TSC_END), RAX);
        a.mov(RAX, RDI).outImm(donePort, 1);
        Label hang = a.newLabel("hang");
        a.bind(hang).pause().jmp(hang); // the host ends the run at the done port
    }
}

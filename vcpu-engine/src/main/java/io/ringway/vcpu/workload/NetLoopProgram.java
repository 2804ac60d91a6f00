package io.ringway.vcpu.workload;

import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.virtio.VirtioMmio;

import static io.ringway.vcpu.asm.Reg.*;

/**
 * A virtio-net driver loop for a CPL-3 micro-guest: the guest sends a frame on transmitq 1 and
 * waits for it to come back on receiveq 0 through a device in loopback; one frame in flight.
 *
 * <p>Negotiation as {@link BlkDriverProgram} (device ID 1, VERSION_1 only, so the virtio-net header
 * is 12 bytes with num_buffers, virtio 1.2, 5.1.6), then queues 0 and 1. Per frame i: the receive
 * buffer (one device-writable descriptor of {@link #RX_BUFFER_BYTES}) is posted, the frame
 * (qword k = {@code seed + (i << 12) + k}) is written after a zeroed header and posted, rdtsc, one
 * kick (QueueNotify: the ioeventfd), then the guest polls the receive used idx; rdtsc again, and
 * it checks the used element (head 0, length = header + frame), compares the frame, and waits for
 * the transmit used idx too before the next frame. The loopback does not parse the frame, so it
 * is pattern bytes from the first byte on.
 *
 * <pre>
 * guest-physical (see {@link MicroGuest} and {@link DriverProgram})
 *   0x10_0000 rx descriptors  0x10_1000 rx avail  0x10_2000 rx used
 *   0x10_3000 tx descriptors  0x10_4000 tx avail  0x10_5000 tx used
 *   0x10_6000 tx buffer (header + frame)          0x10_7000 rx buffer (2 KiB)
 * </pre>
 */
public final class NetLoopProgram {
    public static final long RX_DESC = MicroGuest.DATA;
    public static final long RX_AVAIL = MicroGuest.DATA + 0x1000;
    public static final long RX_USED = MicroGuest.DATA + 0x2000;
    public static final long TX_DESC = MicroGuest.DATA + 0x3000;
    public static final long TX_AVAIL = MicroGuest.DATA + 0x4000;
    public static final long TX_USED = MicroGuest.DATA + 0x5000;
    public static final long TX_BUFFER = MicroGuest.DATA + 0x6000;
    public static final long RX_BUFFER = MicroGuest.DATA + 0x7000;
    public static final int RX_BUFFER_BYTES = 2048;
    /** virtio 1.2, 5.1.6: struct virtio_net_hdr with num_buffers (VERSION_1). */
    public static final int HEADER_BYTES = 12;
    public static final int QUEUE_SIZE = 16;
    public static final int MIN_FRAME = 64;
    public static final int MAX_FRAME = 1512;
    private static final int VIRTIO_NET_ID = 1;

    private NetLoopProgram() {
    }

    /** Rejects a frame length the program cannot use, naming the rule. */
    public static void checkFrameBytes(int frameBytes) {
        if (frameBytes < MIN_FRAME || frameBytes > MAX_FRAME || frameBytes % 8 != 0) {
            throw new IllegalArgumentException("frame bytes must be a multiple of 8 in [" + MIN_FRAME + ", " + MAX_FRAME + "], got " + frameBytes);
        }
    }

    /**
     * Builds the program for the device at {@code mmioBase}.
     *
     * @param frameBytes frame length: a multiple of 8 in [{@link #MIN_FRAME}, {@link #MAX_FRAME}]
     */
    public static DriverProgram build(long mmioBase, int frameBytes) {
        checkFrameBytes(frameBytes);
        DriverAsm d = new DriverAsm();
        X86Assembler a = d.a;
        Label done = a.newLabel("done");

        a.mov(R15, mmioBase).mov(R14, DriverProgram.RESULTS);
        d.negotiate(VIRTIO_NET_ID);
        d.queue(0, QUEUE_SIZE, RX_DESC, RX_AVAIL, RX_USED);
        d.queue(1, QUEUE_SIZE, TX_DESC, TX_AVAIL, TX_USED);
        d.driverOk();

        // rx descriptor 0: the receive buffer, device-writable; tx descriptor 0: header + frame
        a.mov(RBX, RX_DESC).mov(RAX, RX_BUFFER).store(Mem.at(RBX, 0), RAX)
            .store32(Mem.at(RBX, 8), RX_BUFFER_BYTES).store32(Mem.at(RBX, 12), DriverAsm.F_WRITE);
        a.mov(RBX, TX_DESC).mov(RAX, TX_BUFFER).store(Mem.at(RBX, 0), RAX)
            .store32(Mem.at(RBX, 8), HEADER_BYTES + frameBytes).store32(Mem.at(RBX, 12), 0);
        // the transmit header: all zero (no offloads negotiated)
        a.mov(RBX, TX_BUFFER).xor32(RAX, RAX).store(Mem.at(RBX, 0), RAX).store32(Mem.at(RBX, 8), RAX);

        d.interruptFlag(RX_AVAIL);
        d.interruptFlag(TX_AVAIL);
        d.loopParameters();
        Label loop = a.newLabel("loop");
        Label checked = a.newLabel("checked");
        Label stoppedWaiting = a.newLabel("stoppedWaiting");
        d.loopHead(loop, done);
        a.mov(R9, R13);
        d.postHead(RX_AVAIL, QUEUE_SIZE); // the receive buffer
        d.fill(TX_BUFFER + HEADER_BYTES, frameBytes / 8);
        d.rdtsc();
        a.mov(R10, RAX);
        d.postHead(TX_AVAIL, QUEUE_SIZE); // the frame
        a.store32(Mem.at(R15, VirtioMmio.QUEUE_NOTIFY), 1);
        a.inc(R8);
        d.pollUsed(RX_USED, stoppedWaiting);
        d.recordLatency();
        d.checkUsedHeadZero(QUEUE_SIZE);
        a.load32(RCX, Mem.at(RAX, 8)).mov(RDX, HEADER_BYTES + frameBytes);
        d.failKeeping(Cond.E, () -> a.cmp(RCX, RDX), DriverAsm.ERR_LENGTH);
        a.load(RAX, Mem.at(R14, GuestResults.VERIFY)).test(RAX, RAX).jcc(Cond.Z, checked);
        d.compare(RX_BUFFER + HEADER_BYTES, frameBytes / 8);
        a.bind(checked);
        d.pollUsed(TX_USED, stoppedWaiting); // the transmit buffer is back before it is rewritten
        d.next(loop);
        d.epilogue(done, stoppedWaiting, DriverProgram.DONE_PORT);
        return new DriverProgram("net-loop", a.assemble(), d.mmioAccesses(), frameBytes, QUEUE_SIZE);
    }
}

package io.ringway.net.forward;

import io.ringway.net.packet.MbufDescriptor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The frame txonly sends, built once: Ethernet (IPv4 ethertype), IPv4 198.18.0.1 to 198.18.0.2
 * (checksum filled), UDP port 9 to 9 (checksum 0), zero payload; as testpmd's txonly does. The
 * length counts from the destination MAC to the end of the payload, without a CRC.
 */
public final class UdpPacketTemplate {
    /** Ethernet + IPv4 + UDP headers. */
    public static final int MIN_LENGTH = 14 + 20 + 8;
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final MemorySegment frame;
    private final int length;

    /**
     * @param length frame length, {@value #MIN_LENGTH} up to a packet buffer's data room
     * @param src    source MAC
     * @param dst    destination MAC
     */
    public UdpPacketTemplate(int length, byte[] src, byte[] dst) {
        if (length < MIN_LENGTH || length > MbufDescriptor.DATA_ROOM) {
            throw new IllegalArgumentException("packet length must be " + MIN_LENGTH + ".." + MbufDescriptor.DATA_ROOM
                    + ", got " + length);
        }
        this.length = length;
        this.frame = Arena.ofAuto().allocate(length, 8);
        MemorySegment.copy(dst, 0, frame, ValueLayout.JAVA_BYTE, 0, 6);
        MemorySegment.copy(src, 0, frame, ValueLayout.JAVA_BYTE, 6, 6);
        frame.set(BE16, 12, (short) 0x0800);
        int ip = 14;
        frame.set(ValueLayout.JAVA_BYTE, ip, (byte) 0x45);
        frame.set(BE16, ip + 2, (short) (length - 14));
        frame.set(ValueLayout.JAVA_BYTE, ip + 8, (byte) 64);
        frame.set(ValueLayout.JAVA_BYTE, ip + 9, (byte) 17);
        byte[] srcIp = {(byte) 198, 18, 0, 1};
        byte[] dstIp = {(byte) 198, 18, 0, 2};
        MemorySegment.copy(srcIp, 0, frame, ValueLayout.JAVA_BYTE, ip + 12, 4);
        MemorySegment.copy(dstIp, 0, frame, ValueLayout.JAVA_BYTE, ip + 16, 4);
        int sum = 0;
        for (int i = 0; i < 20; i += 2) {
            sum += Short.toUnsignedInt(frame.get(BE16, ip + i));
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        frame.set(BE16, ip + 10, (short) ~sum);
        int udp = ip + 20;
        frame.set(BE16, udp, (short) 9);
        frame.set(BE16, udp + 2, (short) 9);
        frame.set(BE16, udp + 4, (short) (length - 34));
    }

    /** @return the frame length */
    public int length() {
        return length;
    }

    /** @return the frame bytes */
    public MemorySegment frame() {
        return frame;
    }
}

package io.ringway.storage.blk;

import io.ringway.storage.bdev.SgList;
import io.ringway.vhost.virtio.DescriptorChain;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One virtio-blk request in flight: parsed from a descriptor chain once, every guest-controlled
 * field copied into a field here and validated (virtio 1.2, 5.2.6). Reused: a queue owns one per
 * slot, so parsing allocates nothing.
 *
 * <p>The chain may lay the request out in any way (virtio 1.2, 2.6.4: no framing assumptions): the
 * header may span descriptors, the data may share a descriptor with the header or the status. The
 * status byte is the last byte of the last descriptor.
 */
final class BlkRequest {
    /** Parse result: hand to the block device. */
    static final int SUBMIT = -1;
    /** Parse result: finished at parse time (GET_ID, empty request); {@link #status} says how. */
    static final int DONE = -2;

    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED;

    final SgList sg;
    int head;
    int ringSlots;
    boolean hasStatus;
    MemorySegment statusSegment;
    long statusOffset;
    int type;
    long offset;
    long length;
    int usedLen;
    int status;
    boolean flushAfterWrite;
    long startNanos;

    BlkRequest(int segMax) {
        sg = new SgList(segMax);
    }

    /**
     * Parses {@code c} (x86-64: little-endian loads are native loads).
     *
     * @return {@link #SUBMIT}, {@link #DONE}, or the ordinal of a {@link BlkRequestError}
     */
    int parse(DescriptorChain c, BlkLimits limits) {
        head = c.head();
        ringSlots = c.ringSlots();
        sg.clear();
        flushAfterWrite = false;
        usedLen = 0;
        status = VirtioBlk.S_OK;
        hasStatus = false;
        type = -1;
        offset = 0;
        length = 0;
        int n = c.length();
        int last = n - 1;
        long lastLen = n > 0 ? c.lenUnsigned(last) : 0;
        if (n > 0 && c.isWritable(last) && lastLen >= 1) {
            statusSegment = c.segment(last);
            statusOffset = c.offset(last) + lastLen - 1;
            hasStatus = true;
            usedLen = 1;
        }
        if (n < 2) {
            return BlkRequestError.TOO_FEW_DESCRIPTORS.ordinal();
        }
        if (!c.isWritable(last)) {
            return BlkRequestError.STATUS_NOT_WRITABLE.ordinal();
        }
        if (lastLen < 1) {
            return BlkRequestError.STATUS_TOO_SMALL.ordinal();
        }
        long readable = c.readableBytes();
        if (readable < VirtioBlk.HEADER_SIZE) {
            return BlkRequestError.HEADER_TOO_SHORT.ordinal();
        }
        long sector;
        if (c.lenUnsigned(0) >= VirtioBlk.HEADER_SIZE) {
            MemorySegment s = c.segment(0);
            long at = c.offset(0);
            type = s.get(LE_INT, at);
            sector = s.get(LE_LONG, at + 8);
        } else {
            type = (int) readableLittleEndian(c, 0, 4);
            sector = readableLittleEndian(c, 8, 8);
        }
        long outData = readable - VirtioBlk.HEADER_SIZE;
        long inData = c.writableBytes() - 1;
        switch (type) {
            case VirtioBlk.T_IN -> {
                if (outData != 0) {
                    return BlkRequestError.DATA_WRONG_DIRECTION.ordinal();
                }
                int e = range(sector, inData, limits);
                if (e >= 0) {
                    return e;
                }
                e = addWritable(c, limits);
                if (e >= 0) {
                    return e;
                }
                usedLen = (int) (inData + 1);
                return inData == 0 ? DONE : SUBMIT;
            }
            case VirtioBlk.T_OUT -> {
                if (limits.readOnly()) {
                    return BlkRequestError.WRITE_TO_READ_ONLY.ordinal();
                }
                if (inData != 0) {
                    return BlkRequestError.DATA_WRONG_DIRECTION.ordinal();
                }
                int e = range(sector, outData, limits);
                if (e >= 0) {
                    return e;
                }
                e = addReadable(c, limits);
                if (e >= 0) {
                    return e;
                }
                return outData == 0 ? DONE : SUBMIT;
            }
            case VirtioBlk.T_FLUSH -> {
                return SUBMIT;
            }
            case VirtioBlk.T_GET_ID -> {
                if (inData < VirtioBlk.ID_BYTES) {
                    return BlkRequestError.GET_ID_BUFFER_TOO_SMALL.ordinal();
                }
                writeId(c, limits.id());
                usedLen = VirtioBlk.ID_BYTES + 1;
                return DONE;
            }
            case VirtioBlk.T_DISCARD, VirtioBlk.T_WRITE_ZEROES -> {
                boolean discard = type == VirtioBlk.T_DISCARD;
                if (discard ? !limits.discard() : !limits.writeZeroes()) {
                    return BlkRequestError.UNSUPPORTED_TYPE.ordinal();
                }
                if (limits.readOnly()) {
                    return BlkRequestError.WRITE_TO_READ_ONLY.ordinal();
                }
                if (outData == 0 || outData % VirtioBlk.DWZ_SEGMENT_SIZE != 0) {
                    return BlkRequestError.DWZ_MALFORMED.ordinal();
                }
                if (outData > VirtioBlk.DWZ_SEGMENT_SIZE) {
                    return BlkRequestError.DWZ_TOO_MANY_SEGMENTS.ordinal();
                }
                // Each field read once, into a local, then validated (guest memory may change under us).
                long dwzSector = readableLittleEndian(c, 16, 8);
                long numSectors = readableLittleEndian(c, 24, 4) & 0xffff_ffffL;
                int flags = (int) readableLittleEndian(c, 28, 4);
                if ((flags & ~VirtioBlk.DWZ_FLAG_UNMAP) != 0) {
                    return BlkRequestError.DWZ_UNKNOWN_FLAGS.ordinal();
                }
                if (discard && flags != 0) {
                    return BlkRequestError.DISCARD_WITH_UNMAP.ordinal();
                }
                if (numSectors > limits.maxDwzSectors()) {
                    return BlkRequestError.DWZ_TOO_LARGE.ordinal();
                }
                int e = range(dwzSector, numSectors << VirtioBlk.SECTOR_SHIFT, limits);
                if (e >= 0) {
                    return e;
                }
                return numSectors == 0 ? DONE : SUBMIT;
            }
            default -> {
                return BlkRequestError.UNSUPPORTED_TYPE.ordinal();
            }
        }
    }

    /** Checks a sector range; sets {@link #offset} and {@link #length}. Returns -1 or an error ordinal. */
    private int range(long sector, long bytes, BlkLimits limits) {
        if ((bytes & (VirtioBlk.SECTOR_SIZE - 1)) != 0) {
            return BlkRequestError.LENGTH_NOT_SECTOR_MULTIPLE.ordinal();
        }
        long sectors = bytes >>> VirtioBlk.SECTOR_SHIFT;
        long capacity = limits.capacitySectors();
        // sector is an unsigned 64-bit guest value: compare unsigned, subtract instead of adding.
        if (Long.compareUnsigned(sector, capacity) > 0 || sectors > capacity - sector) {
            return BlkRequestError.SECTOR_OUT_OF_RANGE.ordinal();
        }
        long off = sector << VirtioBlk.SECTOR_SHIFT;
        if (((off | bytes) & (limits.blockSize() - 1)) != 0) {
            return BlkRequestError.MISALIGNED_TO_BLOCK_SIZE.ordinal();
        }
        offset = off;
        length = bytes;
        return -1;
    }

    /** IN data: every writable byte but the last (the status). */
    private int addWritable(DescriptorChain c, BlkLimits limits) {
        int n = c.length();
        for (int i = c.readableCount(); i < n; i++) {
            long len = c.lenUnsigned(i) - (i == n - 1 ? 1 : 0);
            if (len == 0) {
                continue;
            }
            if (len > limits.sizeMax()) {
                return BlkRequestError.SEGMENT_TOO_LARGE.ordinal();
            }
            if (!sg.add(c.segment(i), c.offset(i), len)) {
                return BlkRequestError.TOO_MANY_SEGMENTS.ordinal();
            }
        }
        return -1;
    }

    /** OUT data: every readable byte after the header. */
    private int addReadable(DescriptorChain c, BlkLimits limits) {
        long skip = VirtioBlk.HEADER_SIZE;
        for (int i = 0, n = c.readableCount(); i < n; i++) {
            long len = c.lenUnsigned(i);
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long piece = len - skip;
            if (piece > limits.sizeMax()) {
                return BlkRequestError.SEGMENT_TOO_LARGE.ordinal();
            }
            if (!sg.add(c.segment(i), c.offset(i) + skip, piece)) {
                return BlkRequestError.TOO_MANY_SEGMENTS.ordinal();
            }
            skip = 0;
        }
        return -1;
    }

    /** {@code count} bytes (at most 8) at {@code at} in the readable part, little-endian. */
    private static long readableLittleEndian(DescriptorChain c, long at, int count) {
        long value = 0;
        int i = 0;
        long base = 0;
        int n = c.readableCount();
        for (int b = 0; b < count; b++) {
            long want = at + b;
            while (i < n && want >= base + c.lenUnsigned(i)) {
                base += c.lenUnsigned(i);
                i++;
            }
            if (i == n) {
                break;
            }
            long v = c.segment(i).get(ValueLayout.JAVA_BYTE, c.offset(i) + (want - base)) & 0xffL;
            value |= v << (8 * b);
        }
        return value;
    }

    private void writeId(DescriptorChain c, byte[] id) {
        int b = 0;
        for (int i = c.readableCount(), n = c.length(); i < n && b < id.length; i++) {
            MemorySegment s = c.segment(i);
            long off = c.offset(i);
            long len = c.lenUnsigned(i);
            for (long k = 0; k < len && b < id.length; k++) {
                s.set(ValueLayout.JAVA_BYTE, off + k, id[b++]);
            }
        }
    }

    /** Writes the status byte: the last thing the device writes before the used entry. */
    void writeStatus(int value) {
        if (hasStatus) {
            statusSegment.set(ValueLayout.JAVA_BYTE, statusOffset, (byte) value);
        }
    }
}

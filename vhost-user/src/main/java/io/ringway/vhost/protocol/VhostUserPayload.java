package io.ringway.vhost.protocol;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * A decoded vhost-user payload (vhost-user.rst, "Payload"). Unsigned 32- and 64-bit fields are held
 * in {@code int} and {@code long}; compare them with {@link Integer#compareUnsigned} and
 * {@link Long#compareUnsigned}.
 *
 * <p>The records check only what their Java types cannot express (an 8-bit field in an {@code int},
 * at most 8 regions); the protocol rules are checked by {@link VhostUserCodec} on decode and encode.
 */
public sealed interface VhostUserPayload {

    /** The payload shape of this value. */
    PayloadKind kind();

    /** No payload. */
    record Empty() implements VhostUserPayload {
        /** The one empty payload. */
        public static final Empty INSTANCE = new Empty();

        @Override
        public PayloadKind kind() {
            return PayloadKind.NONE;
        }
    }

    /**
     * "A single 64-bit integer": features, protocol features, queue count, memory slots, MTU,
     * status, crypto session id, or a REPLY_ACK status (0 success, non-zero failure).
     *
     * @param value the integer, unsigned
     */
    record U64(long value) implements VhostUserPayload {
        /** The REPLY_ACK success reply. */
        public static final U64 ACK_SUCCESS = new U64(0);

        @Override
        public PayloadKind kind() {
            return PayloadKind.U64;
        }
    }

    /**
     * The u64 of SET_VRING_KICK, SET_VRING_CALL and SET_VRING_ERR: "Bits (0-7) of the payload
     * contain the vring index. Bit 8 is the invalid FD flag."
     *
     * @param index the vring index, 0 to 255
     * @param noFd  the invalid-fd flag: no fd is attached (poll, or no call/error notification)
     */
    record VringFile(int index, boolean noFd) implements VhostUserPayload {
        /** @throws IllegalArgumentException if the index does not fit in bits 0-7 */
        public VringFile {
            if (index < 0 || index > VhostUserMessageDescriptor.VRING_U64_INDEX_MASK) {
                throw new IllegalArgumentException("vring index must be 0..255, got " + index);
            }
        }

        /** The u64 on the wire. */
        public long toU64() {
            return index | (noFd ? VhostUserMessageDescriptor.VRING_U64_NOFD : 0);
        }

        @Override
        public PayloadKind kind() {
            return PayloadKind.VRING_FILE;
        }
    }

    /**
     * "A vring state description".
     *
     * @param index the vring index, unsigned
     * @param num   the size (SET_VRING_NUM), next available index (SET/GET_VRING_BASE), enable flag
     *              (SET_VRING_ENABLE) or endianness (SET_VRING_ENDIAN), unsigned
     */
    record VringState(int index, int num) implements VhostUserPayload {
        @Override
        public PayloadKind kind() {
            return PayloadKind.VRING_STATE;
        }
    }

    /**
     * "A vring address description" ({@code struct vhost_vring_addr}). Ring addresses are user
     * addresses (IOVAs if VIRTIO_F_IOMMU_PLATFORM was negotiated); the log address is guest-physical.
     *
     * @param index         the vring index, unsigned
     * @param flags         vring flags: bit 0 VHOST_VRING_F_LOG
     * @param descUserAddr  address of the descriptor table
     * @param usedUserAddr  address of the used ring
     * @param availUserAddr address of the available ring
     * @param logGuestAddr  guest address used for logging writes to the used ring
     */
    record VringAddress(int index, int flags, long descUserAddr, long usedUserAddr, long availUserAddr,
                        long logGuestAddr) implements VhostUserPayload {
        @Override
        public PayloadKind kind() {
            return PayloadKind.VRING_ADDRESS;
        }

        @Override
        public String toString() {
            return "VringAddress[index=" + Integer.toUnsignedString(index) + ", flags=0x" + Integer.toHexString(flags)
                    + ", desc=0x" + Long.toHexString(descUserAddr) + ", used=0x" + Long.toHexString(usedUserAddr)
                    + ", avail=0x" + Long.toHexString(availUserAddr) + ", log=0x" + Long.toHexString(logGuestAddr) + "]";
        }
    }

    /**
     * "Memory regions description": the SET_MEM_TABLE payload. The fds of the message match the
     * regions in number and order.
     *
     * @param regions up to 8 regions
     */
    record MemoryTable(List<MemoryRegion> regions) implements VhostUserPayload {
        /** @throws IllegalArgumentException for more than 8 regions */
        public MemoryTable {
            regions = List.copyOf(regions);
            if (regions.size() > VhostUserMessageDescriptor.MAX_MEMORY_TABLE_REGIONS) {
                throw new IllegalArgumentException("a memory table holds at most "
                        + VhostUserMessageDescriptor.MAX_MEMORY_TABLE_REGIONS + " regions, got " + regions.size());
            }
        }

        @Override
        public PayloadKind kind() {
            return PayloadKind.MEMORY_TABLE;
        }
    }

    /**
     * "Single memory region description": the ADD_MEM_REG and REM_MEM_REG payload.
     *
     * @param region the region
     */
    record SingleMemoryRegion(MemoryRegion region) implements VhostUserPayload {
        /** Requires a region. */
        public SingleMemoryRegion {
            Objects.requireNonNull(region, "region");
        }

        @Override
        public PayloadKind kind() {
            return PayloadKind.SINGLE_MEMORY_REGION;
        }
    }

    /**
     * "Log description": the SET_LOG_BASE payload.
     *
     * @param mmapSize   size of the log area, unsigned
     * @param mmapOffset offset of the log in the supplied fd, unsigned
     */
    record Log(long mmapSize, long mmapOffset) implements VhostUserPayload {
        @Override
        public PayloadKind kind() {
            return PayloadKind.LOG;
        }
    }

    /**
     * "An IOTLB message" ({@code struct vhost_iotlb_msg}).
     *
     * @param iova        I/O virtual address
     * @param size        size, unsigned
     * @param userAddr    user address
     * @param permissions 0 none, 1 read, 2 write, 3 read/write
     * @param type        1 miss, 2 update, 3 invalidate, 4 access fail
     */
    record Iotlb(long iova, long size, long userAddr, int permissions, int type) implements VhostUserPayload {
        /** Type 1: IOTLB miss. */
        public static final int TYPE_MISS = 1;
        /** Type 2: IOTLB update. */
        public static final int TYPE_UPDATE = 2;
        /** Type 3: IOTLB invalidate. */
        public static final int TYPE_INVALIDATE = 3;
        /** Type 4: IOTLB access fail. */
        public static final int TYPE_ACCESS_FAIL = 4;
        /** Permission bit: read access. */
        public static final int PERM_READ = 1;
        /** Permission bit: write access. */
        public static final int PERM_WRITE = 2;

        /** @throws IllegalArgumentException if permissions or type do not fit in 8 bits */
        public Iotlb {
            if ((permissions & ~0xff) != 0 || (type & ~0xff) != 0) {
                throw new IllegalArgumentException("permissions and type are 8-bit fields, got "
                        + permissions + " and " + type);
            }
        }

        @Override
        public PayloadKind kind() {
            return PayloadKind.IOTLB;
        }
    }

    /**
     * "Virtio device config space": the GET_CONFIG and SET_CONFIG payload. The size field on the wire
     * is {@code data.length}.
     *
     * @param offset offset in the device config space, unsigned
     * @param flags  0: writable fields, 1: live migration
     * @param data   the config bytes (for a GET_CONFIG request, placeholders of the wanted size)
     */
    record Config(int offset, int flags, byte[] data) implements VhostUserPayload {
        /** Copies {@code data}. */
        public Config {
            data = data.clone();
        }

        /** The access size in bytes. */
        public int size() {
            return data.length;
        }

        /** A copy of the config bytes. */
        @Override
        public byte[] data() {
            return data.clone();
        }

        @Override
        public PayloadKind kind() {
            return PayloadKind.CONFIG;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Config other && offset == other.offset && flags == other.flags
                    && Arrays.equals(data, other.data);
        }

        @Override
        public int hashCode() {
            return Objects.hash(offset, flags, Arrays.hashCode(data));
        }

        @Override
        public String toString() {
            return "Config[offset=" + Integer.toUnsignedString(offset) + ", flags=" + flags + ", data="
                    + HexFormat.of().formatHex(data) + "]";
        }
    }

    /**
     * "Inflight description": the GET_INFLIGHT_FD and SET_INFLIGHT_FD payload.
     *
     * @param mmapSize   size of the in-flight tracking area, unsigned
     * @param mmapOffset offset of the area in the supplied fd, unsigned
     * @param numQueues  number of virtqueues, 0..65535
     * @param queueSize  size of each virtqueue, 0..65535
     */
    record Inflight(long mmapSize, long mmapOffset, int numQueues, int queueSize) implements VhostUserPayload {
        /** @throws IllegalArgumentException if numQueues or queueSize do not fit in 16 bits */
        public Inflight {
            if ((numQueues & ~0xffff) != 0 || (queueSize & ~0xffff) != 0) {
                throw new IllegalArgumentException("num_queues and queue_size are 16-bit fields, got "
                        + numQueues + " and " + queueSize);
            }
        }

        @Override
        public PayloadKind kind() {
            return PayloadKind.INFLIGHT;
        }
    }

    /**
     * A payload the codec carries without interpreting (the crypto session description).
     *
     * @param bytes the payload bytes
     */
    record Opaque(byte[] bytes) implements VhostUserPayload {
        /** Copies {@code bytes}. */
        public Opaque {
            bytes = bytes.clone();
        }

        /** A copy of the bytes. */
        @Override
        public byte[] bytes() {
            return bytes.clone();
        }

        @Override
        public PayloadKind kind() {
            return PayloadKind.OPAQUE;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Opaque other && Arrays.equals(bytes, other.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }

        @Override
        public String toString() {
            return "Opaque[" + bytes.length + " bytes]";
        }
    }
}

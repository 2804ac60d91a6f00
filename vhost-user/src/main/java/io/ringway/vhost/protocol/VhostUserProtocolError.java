package io.ringway.vhost.protocol;

/**
 * One violation of the vhost-user message rules, with the values that broke the rule. Each record
 * is one rule; {@link #describe()} says what was wrong in words a log reader can act on.
 *
 * <p>{@code request} components are the request whose schema was applied; {@code reply} says
 * whether the message was a reply (REPLY flag set) and so was checked against the reply schema.
 */
public sealed interface VhostUserProtocolError {

    /** A one-line description naming the rule and the offending values. */
    String describe();

    /** Which address space a memory region rule was broken in. */
    enum AddressSpace {
        /** Guest-physical addresses (guest_phys_addr .. + memory_size). */
        GUEST_PHYSICAL,
        /** The front-end's user addresses (userspace_addr .. + memory_size). */
        USERSPACE,
        /** Offsets in the region's fd (mmap_offset .. + memory_size). */
        MMAP_OFFSET
    }

    /**
     * Fewer bytes than the 12-byte header.
     *
     * @param received bytes received
     */
    record ShortHeader(int received) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return "message shorter than the " + VhostUserMessageDescriptor.HEADER_LENGTH
                    + "-byte header: " + received + " bytes";
        }
    }

    /**
     * The bytes after the header are not the number the header's size field declares.
     *
     * @param declared payload size in the header
     * @param received payload bytes received
     */
    record LengthMismatch(int declared, int received) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return "header declares a " + declared + "-byte payload but " + received + " bytes came";
        }
    }

    /**
     * A request code vhost-user.rst (QEMU 7.2) does not define.
     *
     * @param code the request code, unsigned
     */
    record UnknownRequest(int code) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return "unknown vhost-user request code " + Integer.toUnsignedString(code);
        }
    }

    /**
     * Flags bits 0-1 are not version 0x1 ("Lower 2 bits are the version (currently 0x01)").
     *
     * @param flags the header flags
     */
    record BadVersion(int flags) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return "unsupported vhost-user version " + (flags & VhostUserMessageDescriptor.VERSION_MASK)
                    + " (flags 0x" + Integer.toHexString(flags) + "), expected "
                    + VhostUserMessageDescriptor.VERSION;
        }
    }

    /**
     * A field has bits set (or a value) outside what the protocol defines: header flags bits 4-31,
     * vring u64 bits 9-63, vring address flags other than VHOST_VRING_F_LOG, config flags other than
     * 0/1, SET_VRING_ENABLE and SET_VRING_ENDIAN num other than 0/1, VRING_KICK num other than 0,
     * IOTLB permissions other than 0-3.
     *
     * @param request     the request whose message had the field
     * @param field       the field name, as in vhost-user.rst
     * @param value       the value received
     * @param allowedMask the bits the field may have set
     */
    record ReservedBitsSet(VhostUserRequest request, String field, long value, long allowedMask)
            implements VhostUserProtocolError {
        @Override
        public String describe() {
            return request + ": " + field + " 0x" + Long.toHexString(value) + " has bits outside 0x"
                    + Long.toHexString(allowedMask) + " set";
        }
    }

    /**
     * The header's size field exceeds the largest payload Ringway accepts.
     *
     * @param size  the declared size, unsigned 32-bit
     * @param limit {@link VhostUserMessageDescriptor#MAX_PAYLOAD_SIZE}
     */
    record PayloadTooLarge(long size, int limit) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return "payload of " + size + " bytes exceeds the limit of " + limit + " bytes";
        }
    }

    /**
     * The payload size does not match what the request's payload description needs (for the memory
     * table 8 + 32 x num_regions, for config 12 + size).
     *
     * @param request  the request
     * @param reply    whether the reply schema was applied
     * @param expected the size the request needs
     * @param actual   the size received
     */
    record PayloadSizeMismatch(VhostUserRequest request, boolean reply, int expected, int actual)
            implements VhostUserProtocolError {
        @Override
        public String describe() {
            return request + (reply ? " reply" : "") + ": payload must be " + expected + " bytes, got " + actual;
        }
    }

    /**
     * The number of fds in the ancillary data does not match the request.
     *
     * @param request     the request
     * @param reply       whether the reply schema was applied
     * @param expectedMin fewest fds allowed
     * @param expectedMax most fds allowed
     * @param actual      fds received
     */
    record FdCountMismatch(VhostUserRequest request, boolean reply, int expectedMin, int expectedMax, int actual)
            implements VhostUserProtocolError {
        @Override
        public String describe() {
            String expected = expectedMin == expectedMax ? Integer.toString(expectedMin) : expectedMin + ".." + expectedMax;
            return request + (reply ? " reply" : "") + ": expected " + expected + " fds, got " + actual;
        }
    }

    /**
     * A memory table with more regions than the message can hold.
     *
     * @param count num_regions received, unsigned
     * @param max   {@link VhostUserMessageDescriptor#MAX_MEMORY_TABLE_REGIONS}
     */
    record TooManyRegions(long count, int max) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return "memory table has " + count + " regions, at most " + max + " allowed";
        }
    }

    /**
     * A memory region of size 0.
     *
     * @param request the request
     * @param index   the region's position in the message
     */
    record RegionZeroSize(VhostUserRequest request, int index) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return request + ": memory region " + index + " has size 0";
        }
    }

    /**
     * A memory region whose start + size wraps past 2^64 in one of its address spaces.
     *
     * @param request the request
     * @param index   the region's position in the message
     * @param space   the address space that wraps
     * @param start   the region's start in that space
     * @param size    the region's size
     */
    record RegionAddressOverflow(VhostUserRequest request, int index, AddressSpace space, long start, long size)
            implements VhostUserProtocolError {
        @Override
        public String describe() {
            return request + ": memory region " + index + " wraps the " + space + " address space: start 0x"
                    + Long.toHexString(start) + " + size 0x" + Long.toHexString(size);
        }
    }

    /**
     * Two regions of one memory table overlap in guest-physical or user address space.
     *
     * @param first  position of the first region
     * @param second position of the second region
     * @param space  the address space they overlap in
     */
    record RegionOverlap(int first, int second, AddressSpace space) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return "memory regions " + first + " and " + second + " overlap in " + space + " address space";
        }
    }

    /**
     * A config access that is empty or reaches past the config space: size 0, or offset + size
     * greater than {@link VhostUserMessageDescriptor#MAX_CONFIG_SIZE}.
     *
     * @param request the request
     * @param offset  the offset, unsigned
     * @param size    the size, unsigned
     * @param max     the config space size
     */
    record ConfigSizeInvalid(VhostUserRequest request, int offset, int size, int max) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return request + ": config access offset " + Integer.toUnsignedString(offset) + " size "
                    + Integer.toUnsignedString(size) + " is empty or exceeds the " + max + "-byte config space";
        }
    }

    /**
     * A vring index at or above the number of vrings this codec was configured with.
     *
     * @param request the request
     * @param index   the vring index, unsigned
     * @param max     the number of vrings (valid indices are 0 .. max-1)
     */
    record VringIndexOutOfRange(VhostUserRequest request, long index, int max) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return request + ": vring index " + index + " out of range, " + max + " vrings";
        }
    }

    /**
     * SET_VRING_KICK/CALL/ERR with the invalid-fd flag set and an fd attached ("This flag is set
     * when there is no file descriptor in the ancillary data").
     *
     * @param request the request
     * @param index   the vring index
     * @param fdCount fds received
     */
    record NoFdFlagWithFd(VhostUserRequest request, int index, int fdCount) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return request + ": vring " + index + " has the invalid-fd flag set but " + fdCount + " fds came";
        }
    }

    /**
     * SET_VRING_KICK/CALL/ERR without the invalid-fd flag and without an fd.
     *
     * @param request the request
     * @param index   the vring index
     */
    record MissingFd(VhostUserRequest request, int index) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return request + ": vring " + index + " has no fd attached and the invalid-fd flag is clear";
        }
    }

    /**
     * A log or inflight area whose mmap offset + size wraps past 2^64.
     *
     * @param request the request
     * @param offset  mmap offset
     * @param size    mmap size
     */
    record AreaOverflow(VhostUserRequest request, long offset, long size) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return request + ": area at offset 0x" + Long.toHexString(offset) + " with size 0x"
                    + Long.toHexString(size) + " wraps past 2^64";
        }
    }

    /**
     * An IOTLB message type other than 1 (miss), 2 (update), 3 (invalidate), 4 (access fail).
     *
     * @param type the type received
     */
    record IotlbTypeInvalid(int type) implements VhostUserProtocolError {
        @Override
        public String describe() {
            return "IOTLB_MSG: unknown IOTLB message type " + type;
        }
    }
}

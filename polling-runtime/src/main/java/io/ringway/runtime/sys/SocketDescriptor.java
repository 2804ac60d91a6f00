package io.ringway.runtime.sys;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * x86-64 layouts of the socket structs used by {@link UnixSocket} (checked with gcc, glibc 2.36).
 *
 * <pre>
 * struct sockaddr_un (110 bytes)       struct iovec (16 bytes)
 *   0  sun_family  u16                   0  iov_base  void*
 *   2  sun_path    char[108]             8  iov_len   size_t
 *
 * struct msghdr (56 bytes)             struct cmsghdr (16 bytes, then data)
 *   0  msg_name        void*             0  cmsg_len    size_t (header + data, unpadded)
 *   8  msg_namelen     u32 (+4 pad)      8  cmsg_level  int
 *  16  msg_iov         iovec*           12  cmsg_type   int
 *  24  msg_iovlen      size_t           16  data, padded to 8: CMSG_SPACE(n) = 16 + align8(n)
 *  32  msg_control     void*
 *  40  msg_controllen  size_t
 *  48  msg_flags       int (+4 pad)
 * </pre>
 */
final class SocketDescriptor {
    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    /** x86-64 (and every 64-bit Linux but sparc/parisc): a struct timeval {long tv_sec; long tv_usec}. */
    static final int SO_RCVTIMEO = 20;
    static final int SCM_RIGHTS = 1;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int SHUT_RDWR = 2;
    /** The kernel's limit of fds in one SCM_RIGHTS message (SCM_MAX_FD). */
    static final int SCM_MAX_FD = 253;

    static final int SUN_PATH_SIZE = 108;
    static final StructLayout SOCKADDR_UN = MemoryLayout.structLayout(
        JAVA_SHORT.withName("sun_family"),
        MemoryLayout.sequenceLayout(SUN_PATH_SIZE, java.lang.foreign.ValueLayout.JAVA_BYTE).withName("sun_path"));
    static final long SUN_FAMILY_OFFSET = SOCKADDR_UN.byteOffset(groupElement("sun_family"));
    static final long SUN_PATH_OFFSET = SOCKADDR_UN.byteOffset(groupElement("sun_path"));

    static final StructLayout IOVEC = MemoryLayout.structLayout(
        ADDRESS.withName("iov_base"),
        JAVA_LONG.withName("iov_len"));
    static final long IOV_BASE_OFFSET = IOVEC.byteOffset(groupElement("iov_base"));
    static final long IOV_LEN_OFFSET = IOVEC.byteOffset(groupElement("iov_len"));

    static final StructLayout MSGHDR = MemoryLayout.structLayout(
        ADDRESS.withName("msg_name"),
        JAVA_INT.withName("msg_namelen"),
        MemoryLayout.paddingLayout(4),
        ADDRESS.withName("msg_iov"),
        JAVA_LONG.withName("msg_iovlen"),
        ADDRESS.withName("msg_control"),
        JAVA_LONG.withName("msg_controllen"),
        JAVA_INT.withName("msg_flags"),
        MemoryLayout.paddingLayout(4));
    static final long MSG_IOV_OFFSET = MSGHDR.byteOffset(groupElement("msg_iov"));
    static final long MSG_IOVLEN_OFFSET = MSGHDR.byteOffset(groupElement("msg_iovlen"));
    static final long MSG_CONTROL_OFFSET = MSGHDR.byteOffset(groupElement("msg_control"));
    static final long MSG_CONTROLLEN_OFFSET = MSGHDR.byteOffset(groupElement("msg_controllen"));
    static final long MSG_FLAGS_OFFSET = MSGHDR.byteOffset(groupElement("msg_flags"));

    static final StructLayout CMSGHDR = MemoryLayout.structLayout(
        JAVA_LONG.withName("cmsg_len"),
        JAVA_INT.withName("cmsg_level"),
        JAVA_INT.withName("cmsg_type"));
    static final long CMSG_LEN_OFFSET = CMSGHDR.byteOffset(groupElement("cmsg_len"));
    static final long CMSG_LEVEL_OFFSET = CMSGHDR.byteOffset(groupElement("cmsg_level"));
    static final long CMSG_TYPE_OFFSET = CMSGHDR.byteOffset(groupElement("cmsg_type"));
    static final long CMSG_DATA_OFFSET = CMSGHDR.byteSize();

    private SocketDescriptor() {
    }

    static long cmsgAlign(long length) {
        return (length + Long.BYTES - 1) & ~(Long.BYTES - 1);
    }

    /** CMSG_LEN(n): header plus n data bytes, the value of cmsg_len. */
    static long cmsgLen(long dataBytes) {
        return CMSG_DATA_OFFSET + dataBytes;
    }

    /** CMSG_SPACE(n): header plus n data bytes padded, the room one control message takes. */
    static long cmsgSpace(long dataBytes) {
        return CMSG_DATA_OFFSET + cmsgAlign(dataBytes);
    }
}

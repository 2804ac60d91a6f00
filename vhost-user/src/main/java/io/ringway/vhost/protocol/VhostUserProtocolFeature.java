package io.ringway.vhost.protocol;

import java.util.EnumSet;
import java.util.Set;

/**
 * vhost-user protocol feature bits (vhost-user.rst, "Protocol features"), negotiated with
 * GET_PROTOCOL_FEATURES / SET_PROTOCOL_FEATURES once the virtio feature bit
 * {@link #VIRTIO_F_PROTOCOL_FEATURES_BIT} has been offered.
 *
 * <p>Names follow the current spec; QEMU 7.2's document still calls {@link #BACKEND_REQ} and
 * {@link #BACKEND_SEND_FD} {@code SLAVE_REQ} and {@code SLAVE_SEND_FD}, and {@link #MTU}
 * {@code NET_MTU} in one place. The bit numbers are the same.
 */
public enum VhostUserProtocolFeature {
    /** Multiple queues, GET_QUEUE_NUM. */
    MQ(0),
    /** Dirty log in shared memory passed with SET_LOG_BASE. */
    LOG_SHMFD(1),
    /** SEND_RARP after migration. */
    RARP(2),
    /** NEED_REPLY flag honoured on every request. */
    REPLY_ACK(3),
    /** NET_SET_MTU. */
    MTU(4),
    /** Back-end to front-end channel, SET_BACKEND_REQ_FD. */
    BACKEND_REQ(5),
    /** SET_VRING_ENDIAN for legacy devices. */
    CROSS_ENDIAN(6),
    /** CREATE_CRYPTO_SESSION and CLOSE_CRYPTO_SESSION. */
    CRYPTO_SESSION(7),
    /** Postcopy migration with userfaultfd. */
    PAGEFAULT(8),
    /** GET_CONFIG and SET_CONFIG. */
    CONFIG(9),
    /** The back-end may send fds on the back-end channel. */
    BACKEND_SEND_FD(10),
    /** Host notifier areas on the back-end channel. */
    HOST_NOTIFIER(11),
    /** GET_INFLIGHT_FD and SET_INFLIGHT_FD. */
    INFLIGHT_SHMFD(12),
    /** RESET_DEVICE. */
    RESET_DEVICE(13),
    /** In-band VRING_KICK (and back-end VRING_CALL/ERR). */
    INBAND_NOTIFICATIONS(14),
    /** GET_MAX_MEM_SLOTS, ADD_MEM_REG and REM_MEM_REG. */
    CONFIGURE_MEM_SLOTS(15),
    /** SET_STATUS and GET_STATUS. */
    STATUS(16);

    /**
     * The virtio feature bit (30, the legacy UNUSED bit) with which a back-end says it supports
     * protocol feature negotiation: {@code #define VHOST_USER_F_PROTOCOL_FEATURES 30}.
     */
    public static final int VIRTIO_F_PROTOCOL_FEATURES_BIT = 30;

    private final int bit;

    VhostUserProtocolFeature(int bit) {
        this.bit = bit;
    }

    /** The bit number in the protocol features u64. */
    public int bit() {
        return bit;
    }

    /** This feature as a mask: {@code 1L << bit()}. */
    public long mask() {
        return 1L << bit;
    }

    /** Whether this feature is set in {@code features}. */
    public boolean isSetIn(long features) {
        return (features & mask()) != 0;
    }

    /** The mask of a set of features. */
    public static long maskOf(Set<VhostUserProtocolFeature> features) {
        long mask = 0;
        for (VhostUserProtocolFeature feature : features) {
            mask |= feature.mask();
        }
        return mask;
    }

    /** The known features set in {@code features}; unknown bits are ignored. */
    public static Set<VhostUserProtocolFeature> setOf(long features) {
        EnumSet<VhostUserProtocolFeature> set = EnumSet.noneOf(VhostUserProtocolFeature.class);
        for (VhostUserProtocolFeature feature : values()) {
            if (feature.isSetIn(features)) {
                set.add(feature);
            }
        }
        return set;
    }
}

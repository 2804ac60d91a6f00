package io.ringway.vhost.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The request and protocol feature tables against vhost-user.rst (QEMU 7.2). */
class VhostUserRequestTest {

    @Test
    void requestCodesAreTheFrontEndMessageIdsOfTheSpec() {
        Map<String, Integer> spec = new LinkedHashMap<>();
        String[] names = {"GET_FEATURES", "SET_FEATURES", "SET_OWNER", "RESET_OWNER", "SET_MEM_TABLE",
                "SET_LOG_BASE", "SET_LOG_FD", "SET_VRING_NUM", "SET_VRING_ADDR", "SET_VRING_BASE",
                "GET_VRING_BASE", "SET_VRING_KICK", "SET_VRING_CALL", "SET_VRING_ERR", "GET_PROTOCOL_FEATURES",
                "SET_PROTOCOL_FEATURES", "GET_QUEUE_NUM", "SET_VRING_ENABLE", "SEND_RARP", "NET_SET_MTU",
                "SET_BACKEND_REQ_FD", "IOTLB_MSG", "SET_VRING_ENDIAN", "GET_CONFIG", "SET_CONFIG",
                "CREATE_CRYPTO_SESSION", "CLOSE_CRYPTO_SESSION", "POSTCOPY_ADVISE", "POSTCOPY_LISTEN",
                "POSTCOPY_END", "GET_INFLIGHT_FD", "SET_INFLIGHT_FD", "GPU_SET_SOCKET", "RESET_DEVICE",
                "VRING_KICK", "GET_MAX_MEM_SLOTS", "ADD_MEM_REG", "REM_MEM_REG", "SET_STATUS", "GET_STATUS"};
        for (int i = 0; i < names.length; i++) {
            spec.put(names[i], i + 1);
        }
        assertEquals(spec.size(), VhostUserRequest.values().length);
        for (VhostUserRequest request : VhostUserRequest.values()) {
            assertEquals(spec.get(request.name()), request.code(), request.name());
            assertEquals(Optional.of(request), VhostUserRequest.fromCode(request.code()));
        }
    }

    @Test
    void codesOutsideTheSpecAreUnknown() {
        for (int code : new int[] {0, 41, 42, 1000, -1, Integer.MIN_VALUE}) {
            assertEquals(Optional.empty(), VhostUserRequest.fromCode(code), "code " + code);
        }
    }

    @Test
    void requestsThatAlwaysReplyAreTheOnesWithAReplyPayload() {
        EnumSet<VhostUserRequest> always = EnumSet.of(VhostUserRequest.GET_FEATURES,
                VhostUserRequest.GET_PROTOCOL_FEATURES, VhostUserRequest.GET_VRING_BASE, VhostUserRequest.SET_LOG_BASE,
                VhostUserRequest.GET_INFLIGHT_FD, VhostUserRequest.GET_QUEUE_NUM, VhostUserRequest.IOTLB_MSG,
                VhostUserRequest.GET_CONFIG, VhostUserRequest.CREATE_CRYPTO_SESSION, VhostUserRequest.POSTCOPY_ADVISE,
                VhostUserRequest.POSTCOPY_END, VhostUserRequest.GET_MAX_MEM_SLOTS, VhostUserRequest.GET_STATUS);
        for (VhostUserRequest request : VhostUserRequest.values()) {
            assertEquals(always.contains(request), request.alwaysReplies(), request.name());
            if (!request.alwaysReplies()) {
                assertEquals(PayloadKind.U64, request.replyPayload(), request + " acks with a u64");
            }
        }
    }

    @Test
    void requestsThatCarryFdsAreTheOnesTheSpecLists() {
        EnumSet<VhostUserRequest> withFds = EnumSet.of(VhostUserRequest.ADD_MEM_REG, VhostUserRequest.SET_MEM_TABLE,
                VhostUserRequest.SET_LOG_BASE, VhostUserRequest.SET_LOG_FD, VhostUserRequest.SET_VRING_KICK,
                VhostUserRequest.SET_VRING_CALL, VhostUserRequest.SET_VRING_ERR, VhostUserRequest.SET_BACKEND_REQ_FD,
                VhostUserRequest.SET_INFLIGHT_FD, VhostUserRequest.GPU_SET_SOCKET, VhostUserRequest.REM_MEM_REG);
        for (VhostUserRequest request : VhostUserRequest.values()) {
            assertEquals(withFds.contains(request), request.requestFds() != FdRule.NONE, request.name());
        }
    }

    @Test
    void requiredFeaturesFollowTheMessageDescriptions() {
        assertEquals(Optional.of(VhostUserProtocolFeature.CONFIG), VhostUserRequest.GET_CONFIG.requiredFeature());
        assertEquals(Optional.of(VhostUserProtocolFeature.MQ), VhostUserRequest.GET_QUEUE_NUM.requiredFeature());
        assertEquals(Optional.of(VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS),
                VhostUserRequest.ADD_MEM_REG.requiredFeature());
        assertEquals(Optional.of(VhostUserProtocolFeature.INBAND_NOTIFICATIONS),
                VhostUserRequest.VRING_KICK.requiredFeature());
        assertEquals(Optional.of(VhostUserProtocolFeature.STATUS), VhostUserRequest.GET_STATUS.requiredFeature());
        assertEquals(Optional.empty(), VhostUserRequest.SET_MEM_TABLE.requiredFeature());
        assertEquals(Optional.empty(), VhostUserRequest.GET_FEATURES.requiredFeature());
    }

    @Test
    void protocolFeatureBitsAreTheSpecDefines() {
        String[] names = {"MQ", "LOG_SHMFD", "RARP", "REPLY_ACK", "MTU", "BACKEND_REQ", "CROSS_ENDIAN",
                "CRYPTO_SESSION", "PAGEFAULT", "CONFIG", "BACKEND_SEND_FD", "HOST_NOTIFIER", "INFLIGHT_SHMFD",
                "RESET_DEVICE", "INBAND_NOTIFICATIONS", "CONFIGURE_MEM_SLOTS", "STATUS"};
        assertEquals(names.length, VhostUserProtocolFeature.values().length);
        for (int bit = 0; bit < names.length; bit++) {
            VhostUserProtocolFeature feature = VhostUserProtocolFeature.valueOf(names[bit]);
            assertEquals(bit, feature.bit(), names[bit]);
            assertEquals(1L << bit, feature.mask());
        }
        assertEquals(30, VhostUserProtocolFeature.VIRTIO_F_PROTOCOL_FEATURES_BIT);
    }

    @Test
    void protocolFeatureMaskRoundTripsAndIgnoresUnknownBits() {
        EnumSet<VhostUserProtocolFeature> set = EnumSet.of(VhostUserProtocolFeature.MQ,
                VhostUserProtocolFeature.REPLY_ACK, VhostUserProtocolFeature.CONFIG, VhostUserProtocolFeature.STATUS);
        long mask = VhostUserProtocolFeature.maskOf(set);
        assertEquals(0x1_0209L, mask);
        assertEquals(set, VhostUserProtocolFeature.setOf(mask | (1L << 40)));
        assertTrue(VhostUserProtocolFeature.CONFIG.isSetIn(mask));
        assertFalse(VhostUserProtocolFeature.RARP.isSetIn(mask));
    }
}

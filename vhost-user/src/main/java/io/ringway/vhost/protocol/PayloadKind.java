package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.VhostUserMessageDescriptor.*;

/**
 * The payload shapes of vhost-user.rst, "Payload", each with its size rule. Layouts are in
 * {@link VhostUserMessageDescriptor}; the decoded values are the {@link VhostUserPayload} records.
 */
public enum PayloadKind {
    /** No payload: size 0. Decodes to {@link VhostUserPayload.Empty}. */
    NONE(0),
    /** "A single 64-bit integer". Decodes to {@link VhostUserPayload.U64}. */
    U64(U64_LENGTH),
    /** A u64 holding a vring index (bits 0-7) and the invalid-fd flag (bit 8), for SET_VRING_KICK,
     *  SET_VRING_CALL and SET_VRING_ERR. Decodes to {@link VhostUserPayload.VringFile}. */
    VRING_FILE(U64_LENGTH),
    /** "A vring state description". Decodes to {@link VhostUserPayload.VringState}. */
    VRING_STATE(VRING_STATE_LENGTH),
    /** "A vring address description". Decodes to {@link VhostUserPayload.VringAddress}. */
    VRING_ADDRESS(VRING_ADDRESS_LENGTH),
    /** "Memory regions description": 8 + 32 x num_regions bytes. Decodes to
     *  {@link VhostUserPayload.MemoryTable}. */
    MEMORY_TABLE(-1),
    /** "Single memory region description". Decodes to {@link VhostUserPayload.SingleMemoryRegion}. */
    SINGLE_MEMORY_REGION(SINGLE_REGION_LENGTH),
    /** "Log description". Decodes to {@link VhostUserPayload.Log}. */
    LOG(LOG_LENGTH),
    /** "An IOTLB message". Decodes to {@link VhostUserPayload.Iotlb}. */
    IOTLB(IOTLB_LENGTH),
    /** "Virtio device config space": 12 + size bytes. Decodes to {@link VhostUserPayload.Config}. */
    CONFIG(-1),
    /** "Inflight description". Decodes to {@link VhostUserPayload.Inflight}. */
    INFLIGHT(INFLIGHT_LENGTH),
    /** Bytes the codec does not interpret (the crypto session description), up to
     *  {@link VhostUserMessageDescriptor#MAX_PAYLOAD_SIZE}. Decodes to {@link VhostUserPayload.Opaque}. */
    OPAQUE(-1);

    private final int fixedLength;

    PayloadKind(int fixedLength) {
        this.fixedLength = fixedLength;
    }

    /** Whether every payload of this kind has the same length. */
    public boolean hasFixedLength() {
        return fixedLength >= 0;
    }

    /** The length of a payload of this kind, or -1 if it depends on its content. */
    public int fixedLength() {
        return fixedLength;
    }
}

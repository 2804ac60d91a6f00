package io.ringway.vhost.virtio;

import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Layouts for guest memory accesses. virtio 1.2, 2.7 and 2.8: all ring fields are little-endian
 * (le16, le32, le64); we say so explicitly rather than rely on x86 being little-endian.
 */
final class LittleEndian {
    private LittleEndian() {
    }

    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Aligned le16 for acquire/release accesses (ring indexes and flags; alignment is checked at activation). */
    static final VarHandle U16_ATOMIC = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    /** Aligned le32 for release stores of a packed event suppression area (off_wrap and flags together). */
    static final VarHandle U32_ATOMIC = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
}

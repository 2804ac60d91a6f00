package io.ringway.vhost.virtio;

/**
 * The notification suppression arithmetic of VIRTIO_F_EVENT_IDX, shared by device and driver
 * sides of both ring formats.
 */
public final class EventIndex {
    private EventIndex() {
    }

    /**
     * virtio 1.2, 2.7.7 and 2.7.10 (vring_need_event of virtio_ring.h): the other side asked to be
     * notified when the index passes {@code eventIdx}, that is when the entry at {@code eventIdx}
     * is written. Moving the index from {@code oldIdx} to {@code newIdx} crossed it iff
     * {@code (u16)(new - event - 1) < (u16)(new - old)}.
     *
     * @param eventIdx used_event or avail_event (16-bit)
     * @param newIdx the index after the update (16-bit, free-running)
     * @param oldIdx the index at the previous notification decision (16-bit, free-running)
     * @return true if a notification is needed
     */
    public static boolean needEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xFFFF) < ((newIdx - oldIdx) & 0xFFFF);
    }

    /**
     * virtio 1.2, 2.8.10 and 2.8.13: RING_EVENT_FLAGS_DESC for the packed ring. The other side
     * wants a notification when the descriptor at offset {@code off_wrap & 0x7fff} is made
     * available/used in the wrap given by bit 15. Ring positions are mapped onto one free-running
     * line (an event or old position in the previous wrap is moved back by {@code size}) and then
     * compared as {@link #needEvent}.
     *
     * @param offWrap the event suppression desc field (offset in bits 0-14, wrap counter in bit 15)
     * @param wrapCounter the writer's current wrap counter (0 or 1), that of {@code newPos}
     * @param size ring size
     * @param newPos position after the update, 0 to size - 1
     * @param oldPos position at the previous decision, 0 to size - 1
     * @return true if a notification is needed
     */
    public static boolean packedNeedEvent(int offWrap, int wrapCounter, int size, int newPos, int oldPos) {
        int event = offWrap & 0x7FFF;
        int old = oldPos;
        if (newPos <= old) {
            old -= size;
        }
        if (((offWrap >>> 15) & 1) != wrapCounter) {
            event -= size;
        }
        return needEvent(event, newPos, old);
    }
}

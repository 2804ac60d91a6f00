package io.ringway.vhost.virtio;

import java.util.Arrays;

/**
 * Why a virtqueue stopped: the rule that was broken and the values that broke it.
 *
 * <p>A queue that meets a violation records one of these and goes into the broken state
 * (virtio 1.2, 2.1.2: the device sets DEVICE_NEEDS_RESET); it pops nothing more until it is
 * reset or activated again. Other queues and devices carry on.
 */
public final class VirtqueueError {

    /** One constant per rule; each names the values it carries, in order. */
    public enum Rule {
        /** virtio 1.2, 2.6: queue size 0 (the queue is not in use). Values: size. */
        QUEUE_SIZE_ZERO("queue size must not be 0", "size"),
        /** virtio 1.2, 2.7: "Queue Size value is always a power of 2". Values: size. */
        QUEUE_SIZE_NOT_POWER_OF_TWO("queue size must be a power of 2", "size"),
        /** virtio 1.2, 2.7 / 2.8: at most 32768 entries, and no more than the device offers. Values: size, max. */
        QUEUE_SIZE_TOO_LARGE("queue size is larger than the maximum", "size", "max"),
        /** virtio 1.2, 2.7.2 / 2.8.11: each ring part is aligned. Values: address, required alignment. */
        RING_MISALIGNED("ring part is misaligned", "addr", "alignment"),
        /** A ring part is not inside one guest memory region. Values: address, length. */
        RING_OUTSIDE_MEMORY("ring part is outside guest memory", "addr", "len"),
        /** virtio 1.2, 2.7.6: the driver made more buffers available than the queue holds. Values: avail idx, last avail idx, size. */
        INVALID_AVAIL_RING_INDEX("avail idx moved ahead of the device by more than the queue size", "availIdx",
                "lastAvailIdx", "size"),
        /** virtio 1.2, 2.7.5: a head or next index is not below the table size. Values: index, table size. */
        DESCRIPTOR_INDEX_OUT_OF_RANGE("descriptor index is out of range", "index", "tableSize"),
        /** virtio 1.2, 2.7.5.2 / 2.8.7: a chain is longer than the queue size (so loops are caught). Values: limit. */
        DESCRIPTOR_CHAIN_TOO_LONG("descriptor chain is longer than the limit", "limit"),
        /** virtio 1.2, 2.7.5.3.1: INDIRECT inside an indirect table. Values: index in the table. */
        NESTED_INDIRECT("indirect descriptor inside an indirect table", "index"),
        /** virtio 1.2, 2.7.5.3.1: INDIRECT used but VIRTIO_F_INDIRECT_DESC not negotiated. Values: descriptor index. */
        INDIRECT_NOT_NEGOTIATED("indirect descriptor without VIRTIO_F_INDIRECT_DESC", "index"),
        /** virtio 1.2, 2.7.5.3.1: INDIRECT and NEXT both set (packed 2.8.8: INDIRECT inside a NEXT list). Values: descriptor index, flags. */
        INDIRECT_WITH_NEXT("indirect descriptor chained with NEXT", "index", "flags"),
        /** virtio 1.2, 2.7.5.3: the table length is 0 or not a multiple of 16. Values: length. */
        INDIRECT_TABLE_LENGTH_INVALID("indirect table length must be a non-zero multiple of 16", "len"),
        /** An indirect table is not inside one guest memory region. Values: address, length. */
        INDIRECT_TABLE_OUTSIDE_MEMORY("indirect table is outside guest memory", "addr", "len"),
        /** A buffer is not inside one guest memory region. Values: address, length. */
        DESCRIPTOR_OUTSIDE_MEMORY("descriptor buffer is outside guest memory", "addr", "len"),
        /** virtio 1.2, 2.7.5.2: a chain's total length exceeds 2^32 - 1 bytes. Values: total so far, next length. */
        CHAIN_LENGTH_OVERFLOW("descriptor chain total length overflows u32", "total", "len"),
        /** virtio 1.2, 2.7.4.2 / 2.8.7: device-writable elements come after device-readable ones. Values: descriptor position in chain. */
        READABLE_AFTER_WRITABLE("device-readable descriptor after a device-writable one", "position"),
        /** The device pushed a used element for a head that is not a descriptor index. Values: head, size. */
        USED_HEAD_OUT_OF_RANGE("used head is out of range", "head", "size");

        private final String text;
        private final String[] names;

        Rule(String text, String... names) {
            this.text = text;
            this.names = names;
        }

        /** @return the names of the values this rule carries, in order */
        public String[] valueNames() {
            return names.clone();
        }
    }

    private final Rule rule;
    private final long[] values;

    /**
     * @param rule the broken rule
     * @param values the values, in the order {@link Rule#valueNames()} gives
     */
    public VirtqueueError(Rule rule, long... values) {
        this.rule = rule;
        this.values = values.clone();
    }

    /** @return the broken rule */
    public Rule rule() {
        return rule;
    }

    /** @return a copy of the values that broke the rule */
    public long[] values() {
        return values.clone();
    }

    /**
     * @param i position in {@link Rule#valueNames()}
     * @return that value
     */
    public long value(int i) {
        return values[i];
    }

    /** @return a message stating the rule and the values, e.g. "queue size must be a power of 2, got size=1000" */
    public String message() {
        StringBuilder sb = new StringBuilder(rule.text).append(", got");
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? " " : ", ").append(i < rule.names.length ? rule.names[i] : "v" + i).append('=');
            long v = values[i];
            sb.append(v >= 0 && v < 1 << 20 ? Long.toString(v) : "0x" + Long.toHexString(v));
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VirtqueueError e && e.rule == rule && Arrays.equals(e.values, values);
    }

    @Override
    public int hashCode() {
        return rule.hashCode() * 31 + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return rule + ": " + message();
    }
}

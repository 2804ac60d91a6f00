package io.ringway.vhost.virtio;

import java.util.Arrays;

/**
 * A guest memory layout or an address range broke a rule. Thrown on the control plane (building
 * a {@link GuestMemory}, translating ring addresses at activation, slicing); the hot path uses the
 * non-throwing {@link GuestMemory#findGpa(long, long)} instead.
 */
public final class GuestMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The rule that was broken; each names the values it carries, in order. */
    public enum Rule {
        /** A region has size 0. Values: guest-physical base. */
        REGION_SIZE_ZERO("region size must not be 0", "gpa"),
        /** base + size - 1 wraps past 2^64 - 1, in guest-physical or frontend user space. Values: base, size. */
        REGION_END_OVERFLOWS("region end overflows u64", "base", "size"),
        /** The mapped segment is smaller than the region. Values: region size, segment size. */
        SEGMENT_SMALLER_THAN_REGION("mapped segment is smaller than the region", "size", "segmentSize"),
        /** Two regions overlap in guest-physical space. Values: base and size of each. */
        REGIONS_OVERLAP("regions overlap in guest-physical space", "base1", "size1", "base2", "size2"),
        /** Two regions overlap in frontend user address space. Values: user address and size of each. */
        USER_RANGES_OVERLAP("regions overlap in frontend user address space", "uva1", "size1", "uva2", "size2"),
        /** An address range is not inside any one region. Values: address, length. */
        RANGE_OUTSIDE_MEMORY("range is outside guest memory", "addr", "len"),
        /**
         * An address range runs from one region into an adjacent one. Each region is a separate
         * mapping, so one contiguous slice cannot cover both. Values: address, length.
         */
        RANGE_SPANS_REGIONS("range spans two regions", "addr", "len");

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

        String format(long[] values) {
            StringBuilder sb = new StringBuilder(text).append(", got");
            for (int i = 0; i < values.length; i++) {
                sb.append(i == 0 ? " " : ", ").append(i < names.length ? names[i] : "v" + i).append("=0x")
                        .append(Long.toHexString(values[i]));
            }
            return sb.toString();
        }
    }

    private final Rule rule;
    private final long[] values;

    /**
     * @param rule the broken rule
     * @param values the values that broke it, in the order {@link Rule#valueNames()} gives
     */
    public GuestMemoryException(Rule rule, long... values) {
        super(rule.format(values));
        this.rule = rule;
        this.values = values.clone();
    }

    /** @return the broken rule */
    public Rule rule() {
        return rule;
    }

    /** @return a copy of the values that broke it */
    public long[] values() {
        return values.clone();
    }

    @Override
    public String toString() {
        return "GuestMemoryException[" + rule + " " + Arrays.toString(values) + "]: " + getMessage();
    }
}

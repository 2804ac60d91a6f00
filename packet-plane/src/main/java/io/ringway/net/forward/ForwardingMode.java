package io.ringway.net.forward;

/**
 * Forwarding modes: the first four named and behaving as dpdk-testpmd's {@code --forward-mode};
 * {@link #SWITCH} is Ringway's L2 learning switch over all the ports.
 */
public enum ForwardingMode {
    /** Receive, count and free. */
    RXONLY,
    /** Generate UDP packets (64 bytes by default) and send them; receive nothing. */
    TXONLY,
    /** Send what port A receives out of port B, unchanged. */
    IO,
    /** Swap source and destination MAC and send back out the port it came from. */
    MACSWAP,
    /** An L2 learning switch over every port ({@link io.ringway.net.l2switch.L2Switch}); not a {@link ForwardingStream}. */
    SWITCH;

    /** Parses the testpmd spelling ({@code rxonly}, {@code txonly}, {@code io}, {@code macswap}) and {@code switch}. */
    public static ForwardingMode parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "rxonly" -> RXONLY;
            case "txonly" -> TXONLY;
            case "io" -> IO;
            case "macswap" -> MACSWAP;
            case "switch" -> SWITCH;
            default -> throw new IllegalArgumentException("unknown forwarding mode '" + s
                    + "': use rxonly, txonly, io, macswap or switch");
        };
    }
}

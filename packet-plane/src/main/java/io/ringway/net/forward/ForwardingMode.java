package io.ringway.net.forward;

/** Forwarding modes, named and behaving as dpdk-testpmd's {@code --forward-mode}. */
public enum ForwardingMode {
    /** Receive, count and free. */
    RXONLY,
    /** Generate UDP packets (64 bytes by default) and send them; receive nothing. */
    TXONLY,
    /** Send what port A receives out of port B, unchanged. */
    IO,
    /** Swap source and destination MAC and send back out the port it came from. */
    MACSWAP;

    /** Parses the testpmd spelling ({@code rxonly}, {@code txonly}, {@code io}, {@code macswap}). */
    public static ForwardingMode parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "rxonly" -> RXONLY;
            case "txonly" -> TXONLY;
            case "io" -> IO;
            case "macswap" -> MACSWAP;
            default -> throw new IllegalArgumentException("unknown forwarding mode '" + s
                    + "': use rxonly, txonly, io or macswap");
        };
    }
}

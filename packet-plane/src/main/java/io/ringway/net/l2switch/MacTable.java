package io.ringway.net.l2switch;

/**
 * The learning table of an {@link L2Switch}: MAC address to (port, last seen), open addressing with
 * linear probing over three primitive arrays, fixed capacity. No allocation, boxing or lock; one
 * thread (the switch's lcore) reads and writes it.
 *
 * <p>A MAC address is a {@code long} holding the six bytes in network order, so
 * {@code 02:00:00:00:00:0a} is {@code 0x02000000000aL} (see {@link #mac(byte[])}).
 *
 * <p>Rules:
 * <ul>
 *   <li>Ageing: an entry not seen for longer than the age is ignored by {@link #lookup} and its slot
 *       is free for the next {@link #learn} that probes it.</li>
 *   <li>Move: learning a known address on another port rewrites the entry ({@link #MOVED}).</li>
 *   <li>Full table: an address is looked for in at most {@value #PROBE_LIMIT} consecutive slots from its
 *       hash (or the whole table if smaller). When all of them hold live entries the new address is
 *       <em>not</em> learned ({@link #FULL}): live entries are never pushed out by new ones, so a
 *       flood of invented source addresses cannot evict the hosts already known; frames to the
 *       unlearned address are flooded, and room comes back as entries age (the Linux bridge's
 *       policy at its {@code max_learned} limit rather than OVS's eviction).</li>
 * </ul>
 * Slots are never emptied once used (an aged entry keeps its slot until reused), so probe chains
 * never break and no tombstones are needed.
 */
public final class MacTable {
    /** Most slots probed for one address. */
    public static final int PROBE_LIMIT = 16;
    /** {@link #lookup} result for an unknown or aged address. */
    public static final int NO_PORT = -1;
    /** {@link #learn} result: a new entry (or an aged one taken over). */
    public static final int LEARNED = 0;
    /** {@link #learn} result: known on the same port, last-seen time refreshed. */
    public static final int REFRESHED = 1;
    /** {@link #learn} result: known on another port, now on this one. */
    public static final int MOVED = 2;
    /** {@link #learn} result: not learned, every slot it may use holds a live entry. */
    public static final int FULL = 3;

    private static final long USED = 1L << 48;
    private static final long MAC_MASK = USED - 1;

    private final long[] keys;
    private final int[] ports;
    private final long[] lastSeen;
    private final int mask;
    private final int shift;
    private final int probes;
    private final long ageNanos;

    /**
     * @param capacity entries, a power of 2 (at least 2)
     * @param ageNanos how long an entry lives without being seen again, positive
     */
    public MacTable(int capacity, long ageNanos) {
        if (capacity < 2 || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("MAC table capacity must be a power of 2 of at least 2, got " + capacity);
        }
        if (ageNanos <= 0) {
            throw new IllegalArgumentException("MAC age must be positive, got " + ageNanos + " ns");
        }
        this.keys = new long[capacity];
        this.ports = new int[capacity];
        this.lastSeen = new long[capacity];
        this.mask = capacity - 1;
        this.shift = 64 - Integer.numberOfTrailingZeros(capacity);
        this.probes = Math.min(PROBE_LIMIT, capacity);
        this.ageNanos = ageNanos;
    }

    /** @return the six bytes of {@code address} as a table key */
    public static long mac(byte[] address) {
        if (address.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes, got " + address.length);
        }
        long m = 0;
        for (byte b : address) {
            m = m << 8 | (b & 0xff);
        }
        return m;
    }

    /** @return whether {@code mac} is a group (multicast or broadcast) address: the I/G bit, bit 0 of the first byte */
    public static boolean isGroup(long mac) {
        return (mac & (1L << 40)) != 0;
    }

    private int home(long mac) {
        // Fibonacci hashing: the top bits of the product mix all 48 address bits.
        return (int) ((mac * 0x9E3779B97F4A7C15L) >>> shift) & mask;
    }

    private boolean live(int slot, long now) {
        return now - lastSeen[slot] <= ageNanos;
    }

    /**
     * @param mac address to look up
     * @param now the caller's clock, same base as {@link #learn}'s
     * @return the port {@code mac} was last seen on, or {@link #NO_PORT} if unknown or aged
     */
    public int lookup(long mac, long now) {
        long key = (mac & MAC_MASK) | USED;
        int slot = home(mac);
        for (int i = 0; i < probes; i++, slot = (slot + 1) & mask) {
            long k = keys[slot];
            if (k == key) {
                return live(slot, now) ? ports[slot] : NO_PORT;
            }
            if (k == 0) {
                return NO_PORT;
            }
        }
        return NO_PORT;
    }

    /**
     * Records that {@code mac} was seen on {@code port} at {@code now}.
     *
     * @return {@link #LEARNED}, {@link #REFRESHED}, {@link #MOVED} or {@link #FULL}
     */
    public int learn(long mac, int port, long now) {
        long key = (mac & MAC_MASK) | USED;
        int slot = home(mac);
        int free = -1;
        for (int i = 0; i < probes; i++, slot = (slot + 1) & mask) {
            long k = keys[slot];
            if (k == key) {
                boolean wasLive = live(slot, now);
                int old = ports[slot];
                lastSeen[slot] = now;
                if (old == port) {
                    return wasLive ? REFRESHED : LEARNED;
                }
                ports[slot] = port;
                return wasLive ? MOVED : LEARNED;
            }
            if (k == 0) {
                if (free < 0) {
                    free = slot;
                }
                break;
            }
            if (free < 0 && !live(slot, now)) {
                free = slot;
            }
        }
        if (free < 0) {
            return FULL;
        }
        keys[free] = key;
        ports[free] = port;
        lastSeen[free] = now;
        return LEARNED;
    }

    /** @return live entries at {@code now} (walks the table: control plane only) */
    public int size(long now) {
        int n = 0;
        for (int slot = 0; slot < keys.length; slot++) {
            if (keys[slot] != 0 && live(slot, now)) {
                n++;
            }
        }
        return n;
    }

    /** @return the table's capacity */
    public int capacity() {
        return keys.length;
    }
}

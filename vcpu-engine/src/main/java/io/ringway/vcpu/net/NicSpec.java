package io.ringway.vcpu.net;

import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Locale;

/**
 * One {@code --net} argument of {@code ringway vm boot}: what is behind a guest NIC, and its MAC.
 *
 * <pre>
 *   switch[,mac=M]        the VM's in-process L2 switch (every --net switch NIC of the VM joins it)
 *   tap:NAME[,mac=M]      a Linux tap device NAME created for the NIC (host tools reach the guest)
 *   vhost:SOCK[,mac=M]    any vhost-user-net back-end listening on SOCK, through the front-end
 * </pre>
 *
 * Without {@code mac=} the MAC is {@code 52:54:PP:PP:PP:II}: a locally administered unicast
 * address from the process id (24 bits; Linux pids stay below 2^22) and the NIC's index, so two
 * VMs on one host, and two NICs of one VM, differ.
 *
 * @param kind   what the NIC is attached to
 * @param target the tap name or the socket path (empty for a switch NIC)
 * @param mac    the MAC address the guest reads from the device configuration
 */
public record NicSpec(Kind kind, String target, byte[] mac) {
    /** What a NIC is attached to. */
    public enum Kind {
        SWITCH, TAP, VHOST
    }

    /** IFNAMSIZ 16 with the terminating NUL. */
    static final int MAX_TAP_NAME = 15;

    public NicSpec {
        if (mac.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes, got " + mac.length);
        }
        mac = mac.clone();
    }

    @Override
    public byte[] mac() {
        return mac.clone();
    }

    /** @return the socket of a {@link Kind#VHOST} NIC */
    public Path socket() {
        if (kind != Kind.VHOST) {
            throw new IllegalStateException(kind + " NIC has no socket");
        }
        return Path.of(target);
    }

    /** @return the MAC as {@code 52:54:00:12:34:56} */
    public String macText() {
        return HexFormat.ofDelimiter(":").formatHex(mac);
    }

    /**
     * Parses one {@code --net} argument.
     *
     * @param spec  {@code switch|tap:NAME|vhost:SOCK}, optionally followed by {@code ,mac=XX:XX:XX:XX:XX:XX}
     * @param index the NIC's position among the VM's NICs (for the default MAC)
     * @param pid   the process id (for the default MAC)
     * @throws IllegalArgumentException naming what is wrong with the argument
     */
    public static NicSpec parse(String spec, int index, long pid) {
        if (index < 0 || index > 0xff) {
            throw new IllegalArgumentException("--net: at most 256 NICs per VM, got NIC index " + index);
        }
        String[] parts = spec.split(",", -1);
        String head = parts[0];
        Kind kind;
        String target;
        if (head.equals("switch")) {
            kind = Kind.SWITCH;
            target = "";
        } else if (head.startsWith("tap:")) {
            kind = Kind.TAP;
            target = head.substring(4);
            if (target.isEmpty() || target.length() > MAX_TAP_NAME || target.contains("/") || target.contains(" ")) {
                throw new IllegalArgumentException("--net " + spec + ": a tap name is 1.." + MAX_TAP_NAME
                    + " characters without '/' or spaces, got '" + target + "'");
            }
        } else if (head.startsWith("vhost:")) {
            kind = Kind.VHOST;
            target = head.substring(6);
            if (target.isEmpty()) {
                throw new IllegalArgumentException("--net " + spec + ": vhost: needs the back-end's socket path");
            }
        } else {
            throw new IllegalArgumentException("--net " + spec + ": expected switch, tap:NAME or vhost:SOCK (then ,mac=XX:XX:XX:XX:XX:XX)");
        }
        byte[] mac = null;
        for (int i = 1; i < parts.length; i++) {
            String option = parts[i];
            if (option.startsWith("mac=") && mac == null) {
                mac = parseMac(option.substring(4), spec);
            } else {
                throw new IllegalArgumentException("--net " + spec + ": unknown or repeated option '" + option + "' (known: mac=)");
            }
        }
        return new NicSpec(kind, target, mac != null ? mac : defaultMac(pid, index));
    }

    /** {@code 52:54:PP:PP:PP:II}: pid (low 24 bits) and NIC index. */
    static byte[] defaultMac(long pid, int index) {
        return new byte[] {0x52, 0x54, (byte) (pid >>> 16), (byte) (pid >>> 8), (byte) pid, (byte) index};
    }

    private static byte[] parseMac(String text, String spec) {
        byte[] mac;
        try {
            mac = HexFormat.ofDelimiter(":").parseHex(text.toLowerCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            mac = null;
        }
        if (mac == null || mac.length != 6 || text.length() != 17) {
            throw new IllegalArgumentException("--net " + spec + ": mac= wants six hex bytes like 52:54:00:12:34:56, got '" + text + "'");
        }
        if ((mac[0] & 1) != 0) {
            throw new IllegalArgumentException("--net " + spec + ": " + text + " is a multicast address (bit 0 of the first byte); a NIC needs a unicast one");
        }
        if ((mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0) {
            throw new IllegalArgumentException("--net " + spec + ": 00:00:00:00:00:00 is not a valid NIC address");
        }
        return mac;
    }
}

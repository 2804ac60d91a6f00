package io.ringway.storage.bdev;

import java.util.SplittableRandom;

/**
 * A latency distribution for {@link DelayBlockDevice}, parsed from a spec:
 * {@code fixed:100us}, {@code uniform:50us-200us}, {@code exp:100us} (exponential with that mean).
 * Units: ns, us, ms, s.
 */
public record LatencyDistribution(Kind kind, long aNanos, long bNanos) {
    /** The shape. */
    public enum Kind { FIXED, UNIFORM, EXPONENTIAL }

    public LatencyDistribution {
        if (aNanos < 0 || bNanos < aNanos && kind == Kind.UNIFORM) {
            throw new IllegalArgumentException("latency bounds must be 0 <= min <= max, got " + aNanos + ".." + bNanos);
        }
    }

    /** Draws one latency in nanoseconds; no allocation. */
    public long sample(SplittableRandom random) {
        return switch (kind) {
            case FIXED -> aNanos;
            case UNIFORM -> aNanos == bNanos ? aNanos : random.nextLong(aNanos, bNanos + 1);
            case EXPONENTIAL -> (long) (-Math.log(1.0 - random.nextDouble()) * aNanos);
        };
    }

    /** Parses {@code fixed:D}, {@code uniform:D-D} or {@code exp:D}. */
    public static LatencyDistribution parse(String spec) {
        int colon = spec.indexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("latency spec '" + spec + "' must be fixed:D, uniform:D-D or exp:D (D like 100us)");
        }
        String kind = spec.substring(0, colon);
        String rest = spec.substring(colon + 1);
        return switch (kind) {
            case "fixed" -> new LatencyDistribution(Kind.FIXED, duration(rest), 0);
            case "exp" -> new LatencyDistribution(Kind.EXPONENTIAL, duration(rest), 0);
            case "uniform" -> {
                int dash = rest.indexOf('-');
                if (dash < 0) {
                    throw new IllegalArgumentException("uniform latency needs MIN-MAX, got '" + rest + "'");
                }
                yield new LatencyDistribution(Kind.UNIFORM, duration(rest.substring(0, dash)), duration(rest.substring(dash + 1)));
            }
            default -> throw new IllegalArgumentException("unknown latency distribution '" + kind
                    + "' (known: fixed, uniform, exp)");
        };
    }

    static long duration(String s) {
        String t = s.trim();
        long unit;
        String digits;
        if (t.endsWith("ns")) {
            unit = 1;
            digits = t.substring(0, t.length() - 2);
        } else if (t.endsWith("us")) {
            unit = 1_000;
            digits = t.substring(0, t.length() - 2);
        } else if (t.endsWith("ms")) {
            unit = 1_000_000;
            digits = t.substring(0, t.length() - 2);
        } else if (t.endsWith("s")) {
            unit = 1_000_000_000;
            digits = t.substring(0, t.length() - 1);
        } else {
            throw new IllegalArgumentException("duration '" + s + "' needs a unit: ns, us, ms or s");
        }
        try {
            return Math.round(Double.parseDouble(digits) * unit);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("duration '" + s + "' is not a number with a unit", e);
        }
    }
}

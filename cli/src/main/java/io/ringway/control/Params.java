package io.ringway.control;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import io.ringway.storage.bdev.BlockDeviceSpec;

/**
 * Typed access to the {@code params} object of a request (or one entry of a config file), with
 * errors that name the parameter, what was expected and what came. Unknown members are refused, so
 * a typo does not silently fall back to a default.
 */
final class Params {
    private final String where;
    private final Map<String, Object> map;

    Params(String where, Map<String, Object> map) {
        this.where = where;
        this.map = map;
    }

    static Params of(String where, Object value) {
        if (value == null) {
            return new Params(where, Map.of());
        }
        if (!(value instanceof Map<?, ?> m)) {
            throw RpcException.params(where + ": params must be an object, got " + kind(value));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> typed = (Map<String, Object>) m;
        return new Params(where, typed);
    }

    /** Refuses members other than {@code known}. */
    Params only(String... known) {
        Set<String> unknown = new TreeSet<>(map.keySet());
        unknown.removeAll(List.of(known));
        if (!unknown.isEmpty()) {
            throw RpcException.params(where + ": unknown parameter(s) " + unknown + " (known: " + String.join(", ", known) + ")");
        }
        return this;
    }

    boolean has(String key) {
        return map.containsKey(key) && map.get(key) != null;
    }

    String string(String key) {
        Object v = required(key);
        if (!(v instanceof String s)) {
            throw wrongType(key, "a string", v);
        }
        return s;
    }

    String string(String key, String fallback) {
        return has(key) ? string(key) : fallback;
    }

    long integer(String key) {
        Object v = required(key);
        if (v instanceof Long l) {
            return l;
        }
        if (v instanceof BigDecimal d) {
            try {
                return d.longValueExact();
            } catch (ArithmeticException e) {
                throw RpcException.params(where + ": " + key + " must be an integer within 64 bits, got " + d);
            }
        }
        throw wrongType(key, "an integer", v);
    }

    int integer(String key, int fallback, int min, int max) {
        if (!has(key)) {
            return fallback;
        }
        long v = integer(key);
        if (v < min || v > max) {
            throw RpcException.params(where + ": " + key + " must be between " + min + " and " + max + ", got " + v);
        }
        return (int) v;
    }

    boolean bool(String key, boolean fallback) {
        if (!has(key)) {
            return fallback;
        }
        Object v = map.get(key);
        if (!(v instanceof Boolean b)) {
            throw wrongType(key, "true or false", v);
        }
        return b;
    }

    /** A size in bytes: an integer, or a string such as "64M" (powers of 1024); must be positive. */
    long size(String key) {
        Object v = required(key);
        long bytes;
        if (v instanceof String s) {
            try {
                bytes = BlockDeviceSpec.parseSize(s);
            } catch (IllegalArgumentException e) {
                throw RpcException.params(where + ": " + key + ": " + e.getMessage());
            }
        } else {
            bytes = integer(key);
        }
        if (bytes <= 0) {
            throw RpcException.params(where + ": " + key + " must be positive, got " + bytes);
        }
        return bytes;
    }

    List<Object> list(String key) {
        Object v = required(key);
        if (!(v instanceof List<?> l)) {
            throw wrongType(key, "an array", v);
        }
        @SuppressWarnings("unchecked")
        List<Object> typed = (List<Object>) l;
        return typed;
    }

    private Object required(String key) {
        Object v = map.get(key);
        if (v == null) {
            throw RpcException.params(where + ": missing parameter " + key);
        }
        return v;
    }

    private RpcException wrongType(String key, String expected, Object got) {
        return RpcException.params(where + ": " + key + " must be " + expected + ", got " + kind(got));
    }

    static String kind(Object v) {
        return switch (v) {
            case null -> "null";
            case String s -> "the string \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
            case Boolean b -> "the boolean " + b;
            case Number n -> "the number " + n;
            case Map<?, ?> m -> "an object";
            case List<?> l -> "an array";
            default -> v.getClass().getSimpleName();
        };
    }
}

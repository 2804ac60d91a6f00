package io.ringway.control;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Splits a byte stream into top-level JSON values the way SPDK's RPC server does: no length prefix
 * or delimiter, a value ends where its outermost object or array closes. Only the structure is
 * tracked here (brackets outside strings); {@link Json} parses each value. Structural characters are
 * ASCII, and UTF-8 never uses ASCII bytes inside a multi-byte character, so scanning bytes is safe.
 */
final class JsonFramer {
    private final int maxValue;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private int depth;
    private boolean inString;
    private boolean escaped;
    private boolean started;

    /** Input that cannot be framed: not starting with { or [, or too long. */
    static final class FramingException extends RuntimeException {
        FramingException(String message) {
            super(message);
        }
    }

    JsonFramer(int maxValue) {
        this.maxValue = maxValue;
    }

    /**
     * Feeds one byte.
     *
     * @return the complete value when this byte closed one, else null
     * @throws FramingException when the stream cannot be a sequence of objects or arrays
     */
    String feed(byte b) {
        if (!started) {
            if (b == ' ' || b == '\n' || b == '\r' || b == '\t') {
                return null;
            }
            if (b != '{' && b != '[') {
                throw new FramingException("a request must be a JSON object or array, got a value starting with '"
                        + (b >= 0x20 && b < 0x7f ? String.valueOf((char) b) : String.format("\\x%02x", b & 0xff)) + "'");
            }
            started = true;
        }
        if (pending.size() >= maxValue) {
            throw new FramingException("request larger than " + maxValue + " bytes");
        }
        pending.write(b);
        if (inString) {
            if (escaped) {
                escaped = false;
            } else if (b == '\\') {
                escaped = true;
            } else if (b == '"') {
                inString = false;
            }
            return null;
        }
        switch (b) {
            case '"' -> inString = true;
            case '{', '[' -> depth++;
            case '}', ']' -> {
                if (--depth == 0) {
                    String value = pending.toString(StandardCharsets.UTF_8);
                    pending.reset();
                    started = false;
                    return value;
                }
            }
            default -> {
            }
        }
        return null;
    }

    /** @return true when part of a value has been fed */
    boolean midValue() {
        return started;
    }
}

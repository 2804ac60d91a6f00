package io.ringway.control;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON (RFC 8259) reader and writer for the control plane. Objects read as
 * {@link LinkedHashMap}s (member order kept), arrays as {@link List}s, numbers as {@link Long} when
 * integral and in range, else {@link BigDecimal}; strings, booleans and null as themselves.
 *
 * <p>Input comes from whoever can reach the RPC socket, so the reader bounds what it builds: at most
 * {@link #MAX_DEPTH} nested containers, {@link #MAX_STRING} characters per string and
 * {@link #MAX_NUMBER} characters per number; a duplicate member name is refused. Every error is a
 * {@link JsonException} naming the problem and its character offset.
 */
public final class Json {
    /** Deepest nesting of objects and arrays accepted. */
    public static final int MAX_DEPTH = 32;
    /** Longest string accepted, in characters. */
    public static final int MAX_STRING = 64 * 1024;
    /** Longest number literal accepted, in characters. */
    public static final int MAX_NUMBER = 40;

    /** Malformed or over-limit JSON. */
    public static final class JsonException extends IllegalArgumentException {
        JsonException(String message, int offset) {
            super(message + " at offset " + offset);
        }
    }

    private final String text;
    private int pos;

    private Json(String text) {
        this.text = text;
    }

    /**
     * Parses one JSON value; nothing but whitespace may follow it.
     *
     * @throws JsonException if the text is not one well-formed value within the limits
     */
    public static Object parse(String text) {
        Json p = new Json(text);
        p.skipSpace();
        Object v = p.value(0);
        p.skipSpace();
        if (p.pos != text.length()) {
            throw new JsonException("unexpected '" + text.charAt(p.pos) + "' after the value", p.pos);
        }
        return v;
    }

    private Object value(int depth) {
        if (pos >= text.length()) {
            throw new JsonException("unexpected end of input", pos);
        }
        char c = text.charAt(pos);
        return switch (c) {
            case '{' -> object(depth + 1);
            case '[' -> array(depth + 1);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) {
                    yield number();
                }
                throw new JsonException("unexpected '" + c + "'", pos);
            }
        };
    }

    private Map<String, Object> object(int depth) {
        checkDepth(depth);
        pos++;
        Map<String, Object> m = new LinkedHashMap<>();
        skipSpace();
        if (peek() == '}') {
            pos++;
            return m;
        }
        while (true) {
            skipSpace();
            if (peek() != '"') {
                throw new JsonException("expected a member name in double quotes", pos);
            }
            int at = pos;
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            Object v = value(depth);
            if (m.containsKey(key)) {
                throw new JsonException("duplicate member \"" + key + "\"", at);
            }
            m.put(key, v);
            skipSpace();
            char c = peek();
            pos++;
            if (c == '}') {
                return m;
            }
            if (c != ',') {
                throw new JsonException("expected ',' or '}' in an object", pos - 1);
            }
        }
    }

    private List<Object> array(int depth) {
        checkDepth(depth);
        pos++;
        List<Object> a = new ArrayList<>();
        skipSpace();
        if (peek() == ']') {
            pos++;
            return a;
        }
        while (true) {
            skipSpace();
            a.add(value(depth));
            skipSpace();
            char c = peek();
            pos++;
            if (c == ']') {
                return a;
            }
            if (c != ',') {
                throw new JsonException("expected ',' or ']' in an array", pos - 1);
            }
        }
    }

    private void checkDepth(int depth) {
        if (depth > MAX_DEPTH) {
            throw new JsonException("nested deeper than " + MAX_DEPTH + " levels", pos);
        }
    }

    private String string() {
        int start = pos;
        pos++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                throw new JsonException("unterminated string", start);
            }
            if (sb.length() > MAX_STRING) {
                throw new JsonException("string longer than " + MAX_STRING + " characters", start);
            }
            char c = text.charAt(pos++);
            if (c == '"') {
                return sb.toString();
            }
            if (c < 0x20) {
                throw new JsonException("control character 0x" + Integer.toHexString(c) + " in a string", pos - 1);
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) {
                throw new JsonException("unterminated string", start);
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"', '\\', '/' -> sb.append(e);
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    if (pos + 4 > text.length()) {
                        throw new JsonException("short \\u escape", pos - 2);
                    }
                    int cp = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = Character.digit(text.charAt(pos + i), 16);
                        if (d < 0) {
                            throw new JsonException("bad hex digit in a \\u escape", pos + i);
                        }
                        cp = cp << 4 | d;
                    }
                    pos += 4;
                    sb.append((char) cp);
                }
                default -> throw new JsonException("unknown escape '\\" + e + "'", pos - 2);
            }
        }
    }

    private Object number() {
        int start = pos;
        if (at() == '-') {
            pos++;
        }
        int intStart = pos;
        digits();
        if (pos == intStart) {
            throw new JsonException("a number needs digits", start);
        }
        if (text.charAt(intStart) == '0' && pos - intStart > 1) {
            throw new JsonException("leading zero in a number", start);
        }
        boolean integral = true;
        if (at() == '.') {
            integral = false;
            pos++;
            int f = pos;
            digits();
            if (pos == f) {
                throw new JsonException("a fraction needs digits", pos);
            }
        }
        if (at() == 'e' || at() == 'E') {
            integral = false;
            pos++;
            if (at() == '+' || at() == '-') {
                pos++;
            }
            int x = pos;
            digits();
            if (pos == x) {
                throw new JsonException("an exponent needs digits", pos);
            }
        }
        if (pos - start > MAX_NUMBER) {
            throw new JsonException("number longer than " + MAX_NUMBER + " characters", start);
        }
        String s = text.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e) {
                // beyond a long: kept exact, and refused by whoever wants an integer
            }
        }
        BigDecimal d = new BigDecimal(s);
        if (Math.abs((long) d.scale()) > 1000) {
            throw new JsonException("exponent out of range", start);
        }
        return d;
    }

    private void digits() {
        while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') {
            pos++;
        }
    }

    private Object literal(String word, Object v) {
        if (!text.startsWith(word, pos)) {
            throw new JsonException("unknown literal (expected " + word + ")", pos);
        }
        pos += word.length();
        return v;
    }

    /** The current character, or 0 at the end (where a number may end). */
    private char at() {
        return pos < text.length() ? text.charAt(pos) : 0;
    }

    private char peek() {
        if (pos >= text.length()) {
            throw new JsonException("unexpected end of input", pos);
        }
        return text.charAt(pos);
    }

    private void expect(char c) {
        if (peek() != c) {
            throw new JsonException("expected '" + c + "'", pos);
        }
        pos++;
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    /** Writes a value (maps, lists, strings, numbers, booleans, null) compactly. */
    public static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, -1, 0);
        return sb.toString();
    }

    /** Writes a value with two-space indentation, for people. */
    public static String pretty(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 2, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, int indent, int level) {
        switch (v) {
            case null -> sb.append("null");
            case String s -> quote(sb, s);
            case Boolean b -> sb.append(b);
            case Double d when d.isNaN() || d.isInfinite() -> sb.append("null");
            case Float f when f.isNaN() || f.isInfinite() -> sb.append("null");
            case Number n -> sb.append(n);
            case Map<?, ?> m -> {
                sb.append('{');
                int i = 0;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    sb.append(i++ == 0 ? "" : ",");
                    newline(sb, indent, level + 1);
                    quote(sb, String.valueOf(e.getKey()));
                    sb.append(indent < 0 ? ":" : ": ");
                    write(sb, e.getValue(), indent, level + 1);
                }
                if (i > 0) {
                    newline(sb, indent, level);
                }
                sb.append('}');
            }
            case Iterable<?> it -> {
                sb.append('[');
                int i = 0;
                for (Object o : it) {
                    sb.append(i++ == 0 ? "" : ",");
                    newline(sb, indent, level + 1);
                    write(sb, o, indent, level + 1);
                }
                if (i > 0) {
                    newline(sb, indent, level);
                }
                sb.append(']');
            }
            default -> quote(sb, v.toString());
        }
    }

    private static void newline(StringBuilder sb, int indent, int level) {
        if (indent >= 0) {
            sb.append('\n').append(" ".repeat(indent * level));
        }
    }

    private static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    /** An unmodifiable empty object, for replies with nothing to say. */
    public static Map<String, Object> emptyObject() {
        return Collections.emptyMap();
    }
}

package io.ringway.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void valuesReadBackAsWritten() {
        String text = "{\"a\":1,\"b\":[true,false,null,\"x\\n\\\"y\\u00e9\"],\"c\":{\"d\":-2.5e3},\"e\":12345678901234567890}";
        Object v = Json.parse(text);
        Map<?, ?> m = (Map<?, ?>) v;
        assertEquals(1L, m.get("a"));
        assertEquals(List.of(true, false), ((List<?>) m.get("b")).subList(0, 2));
        assertEquals("x\n\"y\u00e9", ((List<?>) m.get("b")).get(3));
        assertEquals(new BigDecimal("-2.5e3"), ((Map<?, ?>) m.get("c")).get("d"));
        assertEquals(new BigDecimal("12345678901234567890"), m.get("e"));
        assertEquals(v, Json.parse(Json.write(v)));
        assertEquals(v, Json.parse(Json.pretty(v)));
    }

    @Test
    void nestingBeyondTheLimitIsRefused() {
        String deep = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
        Json.JsonException e = assertThrows(Json.JsonException.class, () -> Json.parse(deep));
        assertTrue(e.getMessage().contains("nested deeper than " + Json.MAX_DEPTH), e.getMessage());
        Json.parse("[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH));
    }

    @Test
    void malformedInputNamesTheProblem() {
        assertMessage("{\"a\":1,}", "expected a member name");
        assertMessage("{\"a\" 1}", "expected ':'");
        assertMessage("[1 2]", "expected ',' or ']'");
        assertMessage("\"abc", "unterminated string");
        assertMessage("01", "leading zero");
        assertMessage("{\"a\":1,\"a\":2}", "duplicate member \"a\"");
        assertMessage("tru", "unknown literal");
        assertMessage("{} x", "after the value");
        assertMessage("\"a\tb\"", "control character");
        assertMessage("1" + "0".repeat(Json.MAX_NUMBER), "number longer than");
        assertMessage("\"" + "x".repeat(Json.MAX_STRING + 2) + "\"", "string longer than");
    }

    private static void assertMessage(String text, String part) {
        Json.JsonException e = assertThrows(Json.JsonException.class, () -> Json.parse(text));
        assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' does not say " + part);
    }

    @Test
    void framerSplitsBackToBackValuesAndIgnoresBracketsInStrings() {
        JsonFramer f = new JsonFramer(1024);
        String stream = " {\"a\":\"}]\\\"\"} [1,[2]]";
        List<String> out = new java.util.ArrayList<>();
        for (byte b : stream.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            String v = f.feed(b);
            if (v != null) {
                out.add(v);
            }
        }
        assertEquals(List.of("{\"a\":\"}]\\\"\"}", "[1,[2]]"), out);
        assertThrows(JsonFramer.FramingException.class, () -> new JsonFramer(16).feed((byte) 'x'));
    }
}

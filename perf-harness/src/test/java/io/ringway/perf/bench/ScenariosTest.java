package io.ringway.perf.bench;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.Param;

/** Every comparison of a JMH scenario names a benchmark (and @Param values) that exists. */
class ScenariosTest {
    @Test
    void everyJmhComparisonNamesAnExistingBenchmarkAndParam() throws Exception {
        List<String> problems = new ArrayList<>();
        for (Scenario s : Stream.concat(Scenarios.all().stream(), Scenarios.optional().stream()).toList()) {
            if (!(s instanceof JmhScenario)) {
                continue;
            }
            for (Comparison c : s.comparisons()) {
                for (String id : List.of(c.ours(), c.peer())) {
                    String problem = check(id);
                    if (problem != null) {
                        problems.add(s.name() + ": " + id + ": " + problem);
                    }
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    private static String check(String id) throws Exception {
        String[] parts = id.split(" ");
        String[] classAndMethod = parts[0].split("\\.");
        Class<?> type = Class.forName("io.ringway.perf.jmh." + classAndMethod[0]);
        boolean found = false;
        for (Method m : type.getMethods()) {
            boolean benchmark = m.isAnnotationPresent(Benchmark.class);
            Group group = m.getAnnotation(Group.class);
            if (benchmark && (m.getName().equals(classAndMethod[1]) || (group != null && group.value().equals(classAndMethod[1])))) {
                found = true;
            }
        }
        if (!found) {
            return "no @Benchmark method or @Group " + classAndMethod[1];
        }
        for (int i = 1; i < parts.length; i++) {
            String[] kv = parts[i].split("=", 2);
            Field f = type.getDeclaredField(kv[0]);
            Param p = f.getAnnotation(Param.class);
            if (p == null || !Arrays.asList(p.value()).contains(kv[1])) {
                return "no @Param " + kv[0] + " with value " + kv[1];
            }
        }
        return null;
    }
}

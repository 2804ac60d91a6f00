package io.ringway.cli;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The launcher's own parser of {@code ringway vm boot}'s options: no picocli (whose model of the command,
 * built by reflection, cost 1.5-2 s of the nested boot race), no reflection. It understands only plain
 * argument lines ({@code --name value} or {@code --name=value}, each single-valued option at most once,
 * decimal numbers) and returns null for anything else — {@code --help}, an unknown or repeated option, a
 * missing or odd value, an {@code @file} — so that picocli's {@link VmBootCommand} parses those and prints
 * its usage and messages. Both build the same {@link VmBootOptions}; {@code VmBootArgsTest} holds them to it.
 */
final class VmBootArgs {
    /** The options understood, each with whether it takes a value; the same names as {@link VmBootCommand}'s. */
    static final Map<String, Boolean> OPTIONS = Map.ofEntries(
        Map.entry("--kernel", true), Map.entry("--initrd", true), Map.entry("--cmdline", true), Map.entry("--blk", true),
        Map.entry("--cpus", true), Map.entry("--memory", true), Map.entry("--console", true), Map.entry("--net", true),
        Map.entry("--timeout", true), Map.entry("--hugepages", false), Map.entry("--timings", false));
    /** Options that may repeat (picocli collects them into a list); every other one repeated goes to picocli. */
    private static final Set<String> REPEATABLE = Set.of("--blk", "--net");
    /** Decimal without a sign or a leading zero: the same number under any reading (picocli's converters, Integer.decode). */
    private static final Pattern INT = Pattern.compile("0|[1-9][0-9]{0,8}");
    private static final Pattern LONG = Pattern.compile("0|[1-9][0-9]{0,17}");

    private VmBootArgs() {
    }

    /** The options of {@code args} (what follows {@code vm boot}), or null when picocli should parse them. */
    static VmBootOptions parse(String[] args) {
        Map<String, String> single = new java.util.HashMap<>();
        List<String> blk = new ArrayList<>();
        List<String> net = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            int eq = arg.indexOf('=');
            String name = eq > 0 ? arg.substring(0, eq) : arg;
            Boolean takesValue = OPTIONS.get(name);
            if (arg.startsWith("@") || takesValue == null || !seen.add(name) && !REPEATABLE.contains(name)) {
                return null; // an @file (picocli expands it), an unknown option or a positional argument, a repeat
            }
            if (!takesValue) {
                if (eq > 0) {
                    return null; // --timings=true: picocli's business
                }
                single.put(name, "true");
                continue;
            }
            String value;
            if (eq > 0) {
                value = arg.substring(eq + 1);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                return null; // missing value: picocli says so
            }
            if (value.startsWith("-") || value.startsWith("@")) {
                return null; // a value picocli may read as an option, or as an @file
            }
            switch (name) {
                case "--blk" -> blk.add(value);
                case "--net" -> net.add(value);
                default -> single.put(name, value);
            }
        }
        String cpus = single.getOrDefault("--cpus", VmBootOptions.DEFAULT_CPUS);
        String timeout = single.getOrDefault("--timeout", VmBootOptions.DEFAULT_TIMEOUT);
        if (!single.containsKey("--kernel") || !INT.matcher(cpus).matches() || !LONG.matcher(timeout).matches()) {
            return null;
        }
        try {
            return new VmBootOptions(Path.of(single.get("--kernel")), single.containsKey("--initrd") ? Path.of(single.get("--initrd")) : null,
                single.get("--cmdline"), blk, Integer.parseInt(cpus), single.getOrDefault("--memory", VmBootOptions.DEFAULT_MEMORY),
                single.getOrDefault("--console", VmBootOptions.DEFAULT_CONSOLE), net, Long.parseLong(timeout),
                single.containsKey("--hugepages"), single.containsKey("--timings"));
        } catch (InvalidPathException e) {
            return null;
        }
    }
}

package io.ringway.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The {@code ringway} launcher script's java command line: a copy of the script next to an empty jar runs
 * a fake JDK whose {@code java} prints its arguments, one per line (no JVM, no build).
 */
class LauncherScriptTest {
    @TempDir
    Path dir;

    private Path launcher;
    private Path jdk;

    @BeforeEach
    void copyTheLauncherNextToAFakeJdk() throws IOException {
        Path script = projectRoot().resolve("ringway");
        assumeTrue(Files.isRegularFile(script), "skipped, needs the launcher script at " + script);
        assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "skipped, needs /bin/bash");
        Path root = Files.createDirectories(dir.resolve("project"));
        launcher = Files.copy(script, root.resolve("ringway"));
        Files.createDirectories(root.resolve("cli/target"));
        Files.write(root.resolve("cli/target/ringway-cli.jar"), new byte[0]);
        jdk = Files.createDirectories(dir.resolve("jdk"));
        Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"25.0.1\"\n");
        Path java = Files.createDirectories(jdk.resolve("bin")).resolve("java");
        Files.writeString(java, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** The project's root: the nearest directory up from the module's that holds the launcher and mvnw. */
    private static Path projectRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !(Files.exists(p.resolve("ringway")) && Files.exists(p.resolve("mvnw")))) {
            p = p.getParent();
        }
        return p == null ? Path.of("").toAbsolutePath() : p;
    }

    /** The arguments the launcher gives java for {@code args}, with RINGWAY_JAVA_OPTS as given (null: unset). */
    private List<String> javaArgs(String javaOpts, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/bin/bash", launcher.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", jdk.toString());
        pb.environment().put("RINGWAY_NO_BUILD", "1");
        pb.environment().put("RINGWAY_AOT", "0");
        pb.environment().remove("RINGWAY_AOT_TRAIN");
        if (javaOpts == null) {
            pb.environment().remove("RINGWAY_JAVA_OPTS");
        } else {
            pb.environment().put("RINGWAY_JAVA_OPTS", javaOpts);
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "launcher did not end within 30 s");
        assertEquals(0, p.exitValue(), out);
        // the launch time differs per run
        return out.lines().filter(a -> !a.startsWith("-Dringway.launched=")).toList();
    }

    @Test
    void javaOptsAreSplitIntoWordsAndNeverGlobExpanded() throws Exception {
        Files.writeString(dir.resolve("a-file-a-glob-would-find"), "");
        List<String> args = javaArgs("-Dringway.test=*  -Dother=x?  -Xss2m", "stats");
        assertTrue(args.contains("-Dringway.test=*"), "the glob reached java as written: " + args);
        assertTrue(args.contains("-Dother=x?"), args.toString());
        assertTrue(args.contains("-Xss2m"), args.toString());
        assertFalse(args.contains(""), "no empty word from the double blanks: " + args);
        assertFalse(args.stream().anyMatch(a -> a.contains("a-file-a-glob-would-find")), "a glob was expanded: " + args);
        // the options come before the class path and the main class, the command's own arguments after it
        assertTrue(args.indexOf("-Xss2m") < args.indexOf("io.ringway.cli.Main"), args.toString());
        assertEquals(List.of("io.ringway.cli.Main", "stats"), args.subList(args.size() - 2, args.size()));
    }

    @Test
    void noJavaOptsAddNoWord() throws Exception {
        List<String> unset = javaArgs(null, "stats");
        List<String> empty = javaArgs("", "stats");
        assertEquals(unset, empty);
        assertEquals("-cp", unset.get(unset.size() - 4), "the class path follows the launcher's own flags directly: " + unset);
    }

    @Test
    void vmBootWithoutDevicesGetsTheSerialCollectorAndC1() throws Exception {
        List<String> args = javaArgs(null, "vm", "boot", "--kernel", "k");
        assertTrue(args.contains("-XX:+UseSerialGC") && args.contains("-XX:TieredStopAtLevel=1"), args.toString());
        List<String> other = javaArgs("-Dringway.x=1", "vm", "boot", "--kernel", "k");
        assertTrue(other.contains("-XX:+UseSerialGC"), "options that name no collector keep it: " + other);
    }

    @Test
    void aCollectorInJavaOptsReplacesTheSerialOneInsteadOfJoiningIt() throws Exception {
        for (String gc : List.of("-XX:+UseG1GC", "-XX:+UseZGC", "-XX:+UseParallelGC", "-XX:+UseShenandoahGC")) {
            List<String> args = javaArgs("-Xmx1g " + gc, "vm", "boot", "--kernel", "k");
            assertEquals(1, args.stream().filter(a -> a.startsWith("-XX:+Use") && a.endsWith("GC")).count(),
                "one collector for " + gc + ": " + args);
            assertTrue(args.contains(gc) && args.contains("-XX:TieredStopAtLevel=1"), args.toString());
        }
    }

    @Test
    void vmBootWithDevicesAndOtherCommandsKeepTheJvmDefaults() throws Exception {
        for (List<String> line : List.of(List.of("vm", "boot", "--kernel", "k", "--blk", "malloc:64M"),
                List.of("vm", "boot", "--kernel", "k", "--net=switch"), List.of("vm", "run"), List.of("stats"))) {
            List<String> args = javaArgs(null, line.toArray(String[]::new));
            assertFalse(args.contains("-XX:+UseSerialGC") || args.contains("-XX:TieredStopAtLevel=1"), line + ": " + args);
        }
    }
}

package io.ringway.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The launcher's {@code vm boot} parser ({@link VmBootArgs}) against picocli's ({@link VmBootCommand}): same options, or a fall-back. */
class VmBootArgsTest {
    @TempDir
    Path dir;

    /** Argument lines both parsers take: they must build equal options. */
    private static final List<String[]> VALID = List.of(
        args("--kernel", "/boot/vmlinuz"),
        args("--kernel=/boot/vmlinuz"),
        args("--kernel", "k", "--initrd", "i.cpio.gz", "--cmdline", "console=ttyS0 quiet peers.run=race", "--cpus", "2",
            "--memory", "1G", "--console", "file:/tmp/c.log", "--timeout", "180", "--timings"),
        args("--timings", "--hugepages", "--kernel", "k", "--cmdline=console=ttyS0 pci=noearly", "--memory=2G"),
        args("--kernel", "k", "--blk", "malloc:64M", "--blk", "vhost:/tmp/qsd.sock", "--net", "switch", "--net=tap:rw0",
            "--net", "vhost:/tmp/n.sock,mac=52:54:00:12:34:56", "--blk=file:/tmp/d.img,direct"),
        args("--cpus", "254", "--kernel", "k", "--timeout", "0", "--memory", "lots"), // bad sizes are the run's to refuse
        args("--kernel", "k", "--net", "loop", "--console", "tty"),
        args("--kernel", "k", "--cmdline", ""),
        args("--kernel=", "--initrd="));

    /** Lines the launcher leaves to picocli: help, unknown, repeated, malformed, missing. */
    private static final List<String[]> FALL_BACK = List.of(
        args(),
        args("--help"), args("-h"), args("--version"), args("-V"),
        args("--kernel", "k", "--bogus"),
        args("--kernel", "k", "extra"),
        args("--kernel"),
        args("--initrd", "i"), // no --kernel
        args("--kernel", "k", "--kernel", "k2"),
        args("--kernel", "k", "--cpus", "1", "--cpus", "2"),
        args("--kernel", "k", "--timings", "--timings"),
        args("--kernel", "k", "--timings=true"),
        args("--kernel", "k", "--cpus", "x"),
        args("--kernel", "k", "--cpus", "010"),
        args("--kernel", "k", "--cpus", "-1"),
        args("--kernel", "k", "--cpus", "99999999999"),
        args("--kernel", "k", "--timeout", "1.5"),
        args("--kernel", "k", "--cmdline", "--timings"),
        args("--kernel", "@k"),
        args("@argfile"),
        args("--kernel", "k", "--"),
        args("--kernel=", "x"),
        args("--kernel", "k", "--blk"));

    private static String[] args(String... a) {
        return a;
    }

    private static VmBootOptions picocli(String[] line) {
        VmBootCommand command = new VmBootCommand();
        new CommandLine(command).parseArgs(line);
        return command.options();
    }

    @Test
    void bothParsersBuildTheSameOptionsFromEveryPlainLine() {
        for (String[] line : VALID) {
            VmBootOptions fast = VmBootArgs.parse(line);
            assertNotNull(fast, "the fast path declined " + List.of(line));
            assertEquals(picocli(line), fast, "for " + List.of(line));
        }
    }

    @Test
    void theDefaultsAreTheSameAsPicocli() {
        VmBootOptions o = VmBootArgs.parse(args("--kernel", "k"));
        assertEquals(new VmBootOptions(Path.of("k"), null, null, List.of(), 1, "512M", "stdio", List.of(), 0, false, false), o);
    }

    @Test
    void everyOtherLineFallsBackToPicocli() {
        for (String[] line : FALL_BACK) {
            assertNull(VmBootArgs.parse(line), "the fast path took " + List.of(line));
        }
    }

    @Test
    void theFastPathKnowsExactlyPicoclisOptionsAndWhichTakeAValue() {
        Map<String, Boolean> model = new TreeMap<>();
        for (CommandLine.Model.OptionSpec o : new CommandLine(new VmBootCommand()).getCommandSpec().options()) {
            if (o.usageHelp() || o.versionHelp()) {
                continue;
            }
            assertEquals(1, o.names().length, "one name per option, as the fast path reads them: " + List.of(o.names()));
            model.put(o.longestName(), o.arity().max() > 0);
        }
        assertEquals(model, new TreeMap<>(VmBootArgs.OPTIONS), "VmBootCommand's options vs VmBootArgs.OPTIONS");
    }

    @Test
    void malformedLinesGetPicoclisMessageAndUsage() {
        java.io.PrintStream saved = System.err;
        java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(buffer, true, StandardCharsets.UTF_8));
        try {
            assertEquals(2, Main.bootFastPath(args("vm", "boot", "--kernel", "k", "--bogus")));
            String out = buffer.toString(StandardCharsets.UTF_8);
            assertTrue(out.startsWith("Unknown option: '--bogus'") && out.contains("Usage: ringway vm boot "), out);
            buffer.reset();
            assertEquals(2, Main.bootFastPath(args("vm", "boot", "--kernel", "k", "--kernel", "k2")));
            out = buffer.toString(StandardCharsets.UTF_8);
            assertTrue(out.contains("should be specified only once") && out.contains("Usage: ringway vm boot "), out);
        } finally {
            System.setErr(saved);
        }
    }

    @Test
    void theFastPathLoadsNoPicocliClassAndTheFallBackDoes() throws Exception {
        Path kernel = Files.write(dir.resolve("junk.img"), new byte[4096]);
        ChildRun fast = runMain("vm", "boot", "--kernel", kernel.toString(), "--timings");
        assertEquals(2, fast.status, fast.output);
        assertTrue(fast.output.contains("ringway vm boot: " + kernel + ": not a bzImage"), fast.output);
        assertTrue(fast.loaded("io.ringway.cli.VmBootArgs") && fast.loaded("io.ringway.cli.VmBoot"), "the fast path ran:\n" + fast.output);
        assertEquals(List.of(), fast.classes.stream().filter(c -> c.startsWith("picocli.")).toList(), "picocli classes loaded on the fast path");

        ChildRun help = runMain("vm", "boot", "--help");
        assertEquals(0, help.status, help.output);
        assertTrue(help.loaded("picocli.CommandLine"), "--help goes to picocli, whose classes then load:\n" + help.output);
    }

    private record ChildRun(int status, String output, List<String> classes) {
        boolean loaded(String name) {
            return classes.contains(name);
        }
    }

    /** Main in a child JVM with class loading logged: "[info][class,load] NAME source: ..." lines. */
    private ChildRun runMain(String... args) throws Exception {
        Path out = dir.resolve("child-" + System.nanoTime() + ".log");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
            "-Xshare:auto", "-Xlog:class+load=info:stdout", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM did not end within 120 s: " + cmd);
        String output = Files.readString(out, StandardCharsets.UTF_8);
        List<String> classes = output.lines().filter(l -> l.contains("[class,load] "))
            .map(l -> l.substring(l.indexOf("[class,load] ") + "[class,load] ".length()).split(" ")[0]).toList();
        assertFalse(classes.isEmpty(), "no class loading logged: " + output);
        return new ChildRun(p.exitValue(), output, classes);
    }
}

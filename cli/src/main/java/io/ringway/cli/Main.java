package io.ringway.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ringway} command. */
@Command(name = "ringway",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Ringway: a poll-mode data-plane I/O framework for the JVM.",
        subcommands = {BenchCommand.class, BlkCommand.class, NetCommand.class, StatsCommand.class, VmCommand.class, CaptureCommand.class,
                ServeCommand.class, RpcCommand.class,
            TraceCommand.class, JmhCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Not built yet (see README): virtio-pci devices for vm boot."})
public final class Main implements Runnable {
    /** {@link System#nanoTime()} when main() was entered (class initialisation runs just before it): `vm boot --timings` counts from here. */
    static final long MAIN_NANOS = System.nanoTime();
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Held so that the level set on it is not lost to garbage collection (not set up for `vm boot`, which loads no Chronicle). */
    private static java.util.logging.Logger chronicleLog;

    public static void main(String[] args) {
        // One line per log record, and only warnings from the libraries' start-up chatter.
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%4$s %3$s: %5$s%6$s%n");
        }
        if (args.length >= 2 && args[0].equals("vm") && args[1].equals("boot")) {
            System.exit(bootFastPath(args));
        }
        chronicleLog = java.util.logging.Logger.getLogger("net.openhft");
        chronicleLog.setLevel(java.util.logging.Level.WARNING);
        int code = new CommandLine(new Main())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .execute(args);
        System.exit(code);
    }

    /**
     * {@code ringway vm boot} is timed from the process start to the guest's init: a plain argument line is
     * parsed by {@link VmBootArgs} (no picocli class is loaded: building picocli's model by reflection cost
     * 1.5-2 s in the nested boot race); anything else ({@code --help}, an unknown or malformed option) goes
     * to picocli's {@link VmBootCommand}, built alone rather than with the whole command tree, for its usage
     * and messages. Both end in {@link VmBoot#run} with the same {@link VmBootOptions}.
     */
    static int bootFastPath(String[] args) {
        String[] rest = java.util.Arrays.copyOfRange(args, 2, args.length);
        VmBootOptions options = VmBootArgs.parse(rest);
        if (options == null) {
            return picocliBoot(rest);
        }
        try {
            return VmBoot.run(options);
        } catch (RuntimeException | Error e) {
            e.printStackTrace(); // as picocli's execute() reports what a command throws, with its status 1
            return 1;
        }
    }

    private static int picocliBoot(String[] rest) {
        return new CommandLine(new VmBootCommand())
                .setCommandName("ringway vm boot")
                .setCaseInsensitiveEnumValuesAllowed(true)
                .execute(rest);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"ringway " + (v == null ? "dev" : v) + " on Java " + Runtime.version()};
        }
    }
}

package io.ringway.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ringway} command. */
@Command(name = "ringway",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Ringway: a poll-mode data-plane I/O framework for the JVM.",
        subcommands = {BenchCommand.class, StatsCommand.class, NetCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Subcommands still to come (see README): net, blk, vm, capture, trace."})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        int code = new CommandLine(new Main())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .execute(args);
        System.exit(code);
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

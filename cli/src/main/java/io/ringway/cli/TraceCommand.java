package io.ringway.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import io.ringway.perf.trace.TraceJournal;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ringway trace export DIR --csv FILE}. */
@Command(name = "trace", mixinStandardHelpOptions = true,
        description = "Work with trace journals recorded by ringway bench --trace DIR.",
        subcommands = TraceCommand.Export.class)
final class TraceCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "export", mixinStandardHelpOptions = true, description = "Write a trace journal's events as CSV.")
    static final class Export implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "DIR", description = "The journal directory given to --trace.")
        Path dir;

        @Option(names = "--csv", paramLabel = "FILE", required = true, description = "CSV file to write.")
        Path csv;

        @Override
        public Integer call() {
            try {
                long n = TraceJournal.exportCsv(dir, csv);
                System.out.println("ringway trace: wrote " + n + " events to " + csv.toAbsolutePath());
                return 0;
            } catch (java.io.IOException e) {
                System.err.println("ringway trace export: " + e.getMessage());
                return 1;
            }
        }
    }
}

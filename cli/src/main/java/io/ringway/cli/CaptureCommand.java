package io.ringway.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import io.ringway.net.capture.PcapWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ringway capture export DIR --pcap FILE [--port N]}. */
@Command(name = "capture", mixinStandardHelpOptions = true,
        description = "Work with packet capture journals recorded by ringway net --capture DIR.",
        subcommands = CaptureCommand.Export.class)
final class CaptureCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "export", mixinStandardHelpOptions = true,
            description = "Write a capture journal as a classic pcap file (nanosecond timestamps, Ethernet) that"
                    + " tcpdump, tshark and Wireshark read.")
    static final class Export implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "DIR", description = "The journal directory given to --capture.")
        Path dir;

        @Option(names = "--pcap", paramLabel = "FILE", required = true, description = "pcap file to write.")
        Path pcap;

        @Option(names = "--port", paramLabel = "N", description = "Only port N's packets (vhost0 is 0, vhost1 is 1, ...).")
        Integer port;

        @Override
        public Integer call() {
            if (port != null && port < 0) {
                System.err.println("ringway capture export: --port must be a port id (0 or more), got " + port);
                return 2;
            }
            try {
                long n = PcapWriter.export(dir, pcap, port == null ? -1 : port);
                System.out.println("ringway capture: wrote " + n + " packets to " + pcap.toAbsolutePath());
                return 0;
            } catch (IOException e) {
                System.err.println("ringway capture export: " + e.getMessage());
                return 1;
            }
        }
    }
}

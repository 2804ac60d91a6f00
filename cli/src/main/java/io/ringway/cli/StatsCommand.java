package io.ringway.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import io.ringway.runtime.stats.StatsDirectory;
import io.ringway.runtime.stats.StatsReader;
import io.ringway.runtime.stats.StatsReader.ProcessStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ringway stats}: the live counters of every running Ringway process. */
@Command(name = "stats", mixinStandardHelpOptions = true,
        description = "Show the counters of every running Ringway process (read from their stats files).")
final class StatsCommand implements Callable<Integer> {
    @Option(names = "--dir", description = "Stats directory (default: ${DEFAULT-VALUE}).")
    Path dir = StatsDirectory.resolve();

    @Option(names = "--pid", description = "Only this process.")
    Long pid;

    @Option(names = {"-w", "--watch"}, description = "Repeat every second until interrupted.")
    boolean watch;

    @Option(names = "--all", description = "Also show counters whose value is 0.")
    boolean all;

    @Override
    public Integer call() throws Exception {
        do {
            List<ProcessStats> processes = StatsReader.readAll(dir, true).stream()
                    .filter(p -> pid == null || p.pid() == pid)
                    .filter(p -> p.pid() != ProcessHandle.current().pid())
                    .toList();
            if (processes.isEmpty()) {
                System.out.println(pid == null
                        ? "no running Ringway process (stats directory " + dir + ")"
                        : "no running Ringway process with pid " + pid + " (stats directory " + dir + ")");
            }
            for (ProcessStats p : processes) {
                System.out.printf("pid %d  %s%n", p.pid(), p.command());
                int shown = 0;
                for (StatsReader.Counter c : p.counters()) {
                    if (all || c.value() != 0) {
                        System.out.printf("  %-60s %,20d%n", c.label(), c.value());
                        shown++;
                    }
                }
                if (shown == 0) {
                    System.out.printf("  (%d counters, all 0; --all shows them)%n", p.counters().size());
                }
            }
            if (watch) {
                Thread.sleep(1000);
                System.out.println();
            }
        } while (watch);
        return 0;
    }
}

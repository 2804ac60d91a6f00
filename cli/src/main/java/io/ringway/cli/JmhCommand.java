package io.ringway.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/** {@code ringway jmh ARGS...}: JMH's own command line over Ringway's benchmark classes. */
@Command(name = "jmh",
        description = {"Run JMH with its own options over Ringway's micro-benchmarks.",
            "Benchmarks: RingBenchmark, RingBenchmarkTwoThreads, MempoolBenchmark, VirtqueueBenchmark, GuestMemoryBenchmark, GuestMemoryHintBenchmark;",
            "e.g.: ringway jmh RingBenchmark -f 1 -wi 2 -i 3 -prof gc   (ringway jmh -h lists JMH's options; -l lists benchmarks)"})
final class JmhCommand implements Callable<Integer> {
    /** Everything after {@code jmh}, options included, goes to JMH untouched. */
    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        org.openjdk.jmh.Main.main(args.toArray(String[]::new));
        return 0;
    }
}

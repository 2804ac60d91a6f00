package io.ringway.cli;

import java.nio.file.Path;
import java.util.List;

/**
 * What {@code ringway vm boot} was asked to do: built by picocli's {@link VmBootCommand} or by the
 * launcher's fast path ({@link VmBootArgs}), run by {@link VmBoot#run}. One record, so that the two
 * parsers cannot mean different things by the same argument line.
 *
 * @param kernel         {@code --kernel}: bzImage or vmlinux (required)
 * @param initrd         {@code --initrd}, or null
 * @param cmdline        {@code --cmdline}, or null for the default
 * @param blk            {@code --blk} specs in order
 * @param cpus           {@code --cpus}
 * @param memory         {@code --memory} as written (parsed when run)
 * @param console        {@code --console} as written
 * @param net            {@code --net} specs in order
 * @param timeoutSeconds {@code --timeout}, 0 for none
 * @param hugepages      {@code --hugepages}
 * @param timings        {@code --timings}
 */
record VmBootOptions(Path kernel, Path initrd, String cmdline, List<String> blk, int cpus, String memory, String console,
                     List<String> net, long timeoutSeconds, boolean hugepages, boolean timings) {
    /** {@code --cpus} when not given (a constant: picocli's annotation takes it too). */
    static final String DEFAULT_CPUS = "1";
    /** {@code --memory} when not given. */
    static final String DEFAULT_MEMORY = "512M";
    /** {@code --console} when not given. */
    static final String DEFAULT_CONSOLE = "stdio";
    /** {@code --timeout} when not given: wait for ever. */
    static final String DEFAULT_TIMEOUT = "0";

    VmBootOptions {
        blk = List.copyOf(blk);
        net = List.copyOf(net);
    }
}

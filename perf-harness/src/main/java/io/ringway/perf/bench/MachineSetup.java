package io.ringway.perf.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** What a result was measured on: CPU, cores, kernel, KVM flavour, JDK and JVM flags. */
public final class MachineSetup {
    private MachineSetup() {
    }

    public static Map<String, String> describe(String command) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("command", command);
        s.put("cpu", cpuModel());
        s.put("cores", Integer.toString(Runtime.getRuntime().availableProcessors()));
        s.put("kernel", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        s.put("kvm", kvmFlavour());
        s.put("jdk", System.getProperty("java.vm.name") + " " + Runtime.version());
        s.put("jvmFlags", String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()));
        s.put("forkJvmFlags", String.join(" ", JmhRunner.FORK_JVM_FLAGS));
        CoreToCoreProbe.Result c2c = CoreToCoreProbe.measure();
        s.put("c2cRoundTripNs", String.format(java.util.Locale.ROOT, "%.1f", c2c.nanos()));
        s.put("c2cProbe", c2c.probe());
        return s;
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException e) {
            // fall through
        }
        return "unknown";
    }

    /** "kvm_pvm", "kvm_amd", "kvm_intel", or "none" (from /sys/module and /dev/kvm). */
    static String kvmFlavour() {
        if (!Files.exists(Path.of("/dev/kvm"))) {
            return "none (/dev/kvm absent)";
        }
        // /sys/module lists built-in and loaded modules alike; /proc/modules may be absent.
        for (String module : new String[] {"kvm_pvm", "kvm_amd", "kvm_intel"}) {
            if (Files.isDirectory(Path.of("/sys/module", module))) {
                return module;
            }
        }
        return "kvm (flavour unknown)";
    }
}

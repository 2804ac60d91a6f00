package io.ringway.net.port;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The host side of tap tests: capability checks that skip a test with a message, {@code ip}
 * commands, and network namespaces the test creates (unique names) and deletes.
 */
public final class HostNet implements AutoCloseable {
    private static final int CAP_NET_ADMIN = 12;
    private static final Path IP = Path.of("/usr/sbin/ip");

    private final List<String> namespaces = new ArrayList<>();

    /** Skips unless /dev/net/tun exists and the process has CAP_NET_ADMIN. */
    public static void assumeTapAllowed() {
        Assumptions.assumeTrue(Files.exists(Path.of(TapPort.TUN_DEVICE)), "no /dev/net/tun (tun module not loaded)");
        Assumptions.assumeTrue(hasNetAdmin(), "needs CAP_NET_ADMIN (run as root) to create tap devices");
    }

    /** Skips unless tap devices can be created and {@code ip} is installed. */
    public static void assumeNamespacesAllowed() {
        assumeTapAllowed();
        Assumptions.assumeTrue(Files.isExecutable(IP), "no " + IP + " (apt-get install iproute2)");
    }

    public static boolean hasNetAdmin() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    long caps = Long.parseUnsignedLong(line.substring(7).trim(), 16);
                    return (caps & (1L << CAP_NET_ADMIN)) != 0;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** A name unique to this JVM and call, at most 15 bytes: {@code prefix} + pid + counter. */
    public static String uniqueName(String prefix, int n) {
        String name = prefix + ProcessHandle.current().pid() % 100000 + "x" + n;
        if (name.length() > TapPort.MAX_NAME_LENGTH) {
            throw new IllegalArgumentException("prefix too long: " + name);
        }
        return name;
    }

    public static boolean interfaceExists(String name) {
        return Files.exists(Path.of("/sys/class/net", name));
    }

    /** Creates network namespace {@code name}; {@link #close()} deletes it. */
    public void addNamespace(String name) throws IOException, InterruptedException {
        run("ip", "netns", "add", name);
        namespaces.add(name);
    }

    /** Runs a command; fails the test with its output unless it exits with 0. */
    public static String run(String... command) throws IOException, InterruptedException {
        Result r = exec(30, command);
        if (r.exit != 0) {
            throw new AssertionError(String.join(" ", command) + " exited with " + r.exit + ":\n" + r.output);
        }
        return r.output;
    }

    public record Result(int exit, String output) {
    }

    /** Runs a command with a deadline; returns its exit code (-1 if killed at the deadline) and output. */
    public static Result exec(int timeoutSeconds, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            return new Result(-1, new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    /** Deletes the namespaces this object created (close the taps in them first). */
    @Override
    public void close() throws IOException, InterruptedException {
        for (String ns : namespaces) {
            exec(30, "ip", "netns", "del", ns);
        }
        namespaces.clear();
    }

    /** Moves {@code tap} into namespace {@code ns}, gives it {@code address} and brings it up. */
    public static void moveAndConfigure(String ns, String tap, String address) throws IOException, InterruptedException {
        run("ip", "link", "set", tap, "netns", ns);
        run("ip", "-n", ns, "addr", "add", address, "dev", tap);
        run("ip", "-n", ns, "link", "set", tap, "up");
    }

    /** {@code ping -c 3 -W 2} from iputils, or busybox's. */
    public static String[] pingCommand() {
        for (String p : new String[] {"/usr/bin/ping", "/bin/ping"}) {
            if (Files.isExecutable(Path.of(p))) {
                return new String[] {p, "-c", "3", "-W", "2"};
            }
        }
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/busybox")),
                "no ping (apt-get install iputils-ping or busybox-static)");
        return new String[] {"/bin/busybox", "ping", "-c", "3", "-W", "2"};
    }

    /** {@code ping -c 3 -W 2 address} from inside namespace {@code ns}. */
    public static Result ping(String ns, String address) throws IOException, InterruptedException {
        String[] ping = pingCommand();
        String[] command = new String[5 + ping.length];
        System.arraycopy(new String[] {"ip", "netns", "exec", ns}, 0, command, 0, 4);
        System.arraycopy(ping, 0, command, 4, ping.length);
        command[command.length - 1] = address;
        return exec(30, command);
    }
}

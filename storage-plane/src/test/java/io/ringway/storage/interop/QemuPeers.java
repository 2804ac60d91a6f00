package io.ringway.storage.interop;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What the QEMU guest tests of every module share (storage-plane's {@link QemuGuest}, packet-plane's
 * {@code QemuNetGuest}, through storage-plane's test-jar): finding the peers (a program, the host
 * kernel with its modules) and building an initramfs with the recipe
 * src/test/resources/peers/mkinitramfs.sh, cached under a digest of its inputs.
 */
public final class QemuPeers {
    private static final long RECIPE_TIMEOUT_S = 120;

    private QemuPeers() {
    }

    /** The executable {@code name} in the PATH, then in the sbin/bin directories, or null. */
    public static Path onPath(String name) {
        Stream<String> dirs = Stream.concat(Stream.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")),
                Stream.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
        return dirs.filter(d -> !d.isEmpty()).map(d -> Path.of(d, name)).filter(Files::isExecutable).findFirst().orElse(null);
    }

    /** The newest version V with both /boot/vmlinuz-V and /lib/modules/V/modules.dep, or null. */
    public static String kernelVersion() {
        Path modules = Path.of("/lib/modules");
        if (!Files.isDirectory(modules)) {
            return null;
        }
        try (Stream<Path> s = Files.list(modules)) {
            return newestVersion(s.map(p -> p.getFileName().toString())
                    .filter(v -> Files.isReadable(Path.of("/boot", "vmlinuz-" + v)))
                    .filter(v -> Files.isReadable(modules.resolve(v).resolve("modules.dep")))
                    .toList());
        } catch (IOException e) {
            return null;
        }
    }

    /** The newest of kernel versions ("6.1.0-9-amd64" before "6.1.0-10-amd64": numbers compare as numbers), or null. */
    static String newestVersion(List<String> versions) {
        return versions.stream().max(QemuPeers::compareVersions).orElse(null);
    }

    private static int compareVersions(String a, String b) {
        String[] x = a.split("[.-]");
        String[] y = b.split("[.-]");
        for (int i = 0; i < Math.min(x.length, y.length); i++) {
            int c = x[i].matches("\\d+") && y[i].matches("\\d+")
                    ? Long.compare(Long.parseLong(x[i]), Long.parseLong(y[i])) : x[i].compareTo(y[i]);
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(x.length, y.length);
    }

    /**
     * Runs the initramfs recipe ({@code bash recipe out args...}, in {@code out}'s directory, with
     * {@code env} added, output to {@code log}) unless {@code out} exists already.
     *
     * @throws IllegalStateException when the recipe takes over 120 s, fails or leaves no {@code out}
     */
    public static void buildInitramfs(Path recipe, Path out, Path log, Map<String, String> env, String... args)
            throws IOException, InterruptedException {
        if (Files.exists(out)) {
            return;
        }
        List<String> cmd = Stream.concat(Stream.of("bash", recipe.toString(), out.toString()), Stream.of(args)).toList();
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .directory(out.toAbsolutePath().getParent().toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        if (!p.waitFor(RECIPE_TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(recipe.getFileName() + " took over " + RECIPE_TIMEOUT_S + " s; see " + log);
        }
        if (p.exitValue() != 0 || !Files.exists(out)) {
            throw new IllegalStateException(recipe.getFileName() + " failed (" + p.exitValue() + "): " + Files.readString(log));
        }
    }

    /**
     * A cache key: the first 8 bytes (hex) of the SHA-256 of {@code extra} and of every regular file
     * under the {@code inputs} (each file's path relative to its input, then its bytes).
     */
    public static String digest(String extra, Path... inputs) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(extra.getBytes(StandardCharsets.UTF_8));
            for (Path input : inputs) {
                try (Stream<Path> s = Files.walk(input)) {
                    for (Path f : s.filter(Files::isRegularFile).sorted().toList()) {
                        md.update(input.relativize(f).toString().getBytes(StandardCharsets.UTF_8));
                        md.update(Files.readAllBytes(f));
                    }
                }
            }
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

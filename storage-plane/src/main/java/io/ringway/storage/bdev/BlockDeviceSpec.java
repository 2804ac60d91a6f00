package io.ringway.storage.bdev;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The command-line spelling of a block device: {@code malloc:SIZE}, {@code null:SIZE} or
 * {@code file:PATH[,direct]}, sizes with an optional binary suffix (512M, 1G, 4k). A bad spec is
 * rejected with a message that names the problem.
 */
public final class BlockDeviceSpec {
    private BlockDeviceSpec() {
    }

    /**
     * Opens the device a spec names.
     *
     * @param spec the spec
     * @param blockSize 512 or 4096
     * @param readOnly open read-only
     * @param delay a latency distribution to add (delay bdev), or null
     */
    public static BlockDevice open(String spec, int blockSize, boolean readOnly, LatencyDistribution delay) {
        BlockDevice.checkBlockSize(blockSize);
        int colon = spec.indexOf(':');
        if (colon <= 0 || colon == spec.length() - 1) {
            throw new IllegalArgumentException("--bdev '" + spec + "': expected malloc:SIZE, null:SIZE or file:PATH[,direct]");
        }
        String kind = spec.substring(0, colon);
        String arg = spec.substring(colon + 1);
        BlockDevice d = switch (kind) {
            case "malloc" -> new MallocBlockDevice("malloc0", size(arg, blockSize), blockSize, readOnly);
            case "null" -> new NullBlockDevice("null0", size(arg, blockSize), blockSize, readOnly);
            case "file" -> {
                boolean direct = false;
                String path = arg;
                int comma = arg.lastIndexOf(',');
                if (comma >= 0) {
                    String option = arg.substring(comma + 1);
                    if (!option.equals("direct")) {
                        throw new IllegalArgumentException("--bdev '" + spec + "': unknown file option '" + option
                                + "' (known: direct)");
                    }
                    direct = true;
                    path = arg.substring(0, comma);
                }
                Path p = Path.of(path);
                if (!Files.exists(p)) {
                    throw new IllegalArgumentException("--bdev '" + spec + "': " + path + " does not exist");
                }
                yield FileBlockDevice.open("file0", p, direct, readOnly, blockSize, FileBlockDevice.Engine.AUTO);
            }
            default -> throw new IllegalArgumentException("--bdev '" + spec + "': unknown kind '" + kind
                    + "' (known: malloc, null, file)");
        };
        return delay == null ? d : new DelayBlockDevice(d, delay);
    }

    /** Parses a size: digits with an optional K, M, G or T suffix (powers of 1024). */
    public static long parseSize(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("B") && t.length() > 1 && !Character.isDigit(t.charAt(t.length() - 2))) {
            t = t.substring(0, t.length() - 1);
        }
        long unit = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> unit = 1L << 10;
                case 'M' -> unit = 1L << 20;
                case 'G' -> unit = 1L << 30;
                case 'T' -> unit = 1L << 40;
                default -> unit = 1;
            }
        }
        String digits = unit == 1 ? t : t.substring(0, t.length() - 1);
        long n;
        try {
            n = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size '" + text + "' is not a number with an optional K, M, G or T suffix");
        }
        if (n <= 0) {
            throw new IllegalArgumentException("size '" + text + "' must be positive");
        }
        if (n > Long.MAX_VALUE / unit) {
            throw new IllegalArgumentException("size '" + text + "' is too large");
        }
        return n * unit;
    }

    private static long size(String text, int blockSize) {
        long size = parseSize(text);
        if (size % blockSize != 0) {
            throw new IllegalArgumentException("size " + text + " (" + size + " bytes) is not a multiple of the block size "
                    + blockSize);
        }
        return size;
    }
}

package io.ringway.net.port;

import io.ringway.net.packet.Mbuf;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.stats.StatsRegistry;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A child process for {@link TapPortTest}: opens tap {@code args[0]} and prints {@code OPENED}, or
 * {@code REASON <reason>} and the message on the next line.
 */
public final class TapOpenProbe {
    private TapOpenProbe() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("tap-probe");
        try (StatsRegistry stats = StatsRegistry.open(dir.resolve("probe.stats"), 64);
             Mempool pool = Mbuf.createPool(64);
             TapPort tap = TapPort.open(args[0], pool, stats, 0)) {
            System.out.println("OPENED " + tap.name());
        } catch (TapException e) {
            System.out.println("REASON " + e.reason());
            System.out.println(e.getMessage());
        } finally {
            Files.deleteIfExists(dir.resolve("probe.stats"));
            Files.deleteIfExists(dir);
        }
    }
}

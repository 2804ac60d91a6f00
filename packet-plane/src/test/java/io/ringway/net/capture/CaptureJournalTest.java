package io.ringway.net.capture;

import io.ringway.net.packet.Mbuf;
import io.ringway.net.port.RingPort;
import io.ringway.runtime.mem.Mempool;
import io.ringway.runtime.stats.StatsRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Capture into the journal, export to pcap, read the pcap back; and a ring that fills up. */
class CaptureJournalTest {
    private static final int SNAP = 128;

    @TempDir
    Path dir;

    private StatsRegistry stats;
    private Mempool pool;

    @BeforeEach
    void setUp() {
        stats = StatsRegistry.open(dir.resolve("capture.stats"), 256);
        pool = Mbuf.createPool(512);
    }

    @AfterEach
    void tearDown() {
        pool.close();
        stats.close();
    }

    /** A frame of {@code length} bytes whose content depends on {@code seq}. */
    static byte[] frame(int seq, int length) {
        byte[] f = new byte[length];
        for (int i = 0; i < length; i++) {
            f[i] = (byte) (seq * 31 + i * 7);
        }
        f[0] = 0x02; // a unicast, locally administered destination
        if (length >= 18) {
            ByteBuffer.wrap(f, 14, 4).putInt(seq);
        }
        return f;
    }

    private long packet(byte[] frame) {
        long h = pool.alloc(null);
        long off = pool.offset(h);
        MemorySegment.copy(frame, 0, pool.memory(), ValueLayout.JAVA_BYTE, Mbuf.data(off), frame.length);
        Mbuf.length(pool.memory(), off, frame.length);
        return h;
    }

    /** The known traffic: port 0 sends {@code frames}, port 1 receives them; both mirrored. */
    private List<byte[]> captureKnownTraffic(Path journalDir) throws IOException {
        List<byte[]> frames = new ArrayList<>();
        int[] lengths = {60, 64, 100, SNAP, SNAP + 1, 1514, 14};
        for (int i = 0; i < lengths.length; i++) {
            frames.add(frame(i, lengths[i]));
        }
        RingPort[] pair = RingPort.pair("a", "b", 1, 64, pool, stats);
        try (CaptureJournal journal = CaptureJournal.builder(journalDir).snapLength(SNAP).stats(stats).start()) {
            CapturePort a = new CapturePort(pair[0], 0, journal, false, true);
            CapturePort b = new CapturePort(pair[1], 1, journal, true, false);
            long[] burst = new long[frames.size()];
            for (int i = 0; i < frames.size(); i++) {
                burst[i] = packet(frames.get(i));
            }
            assertEquals(frames.size(), a.txBurst(0, burst, 0, burst.length));
            long[] got = new long[32];
            assertEquals(frames.size(), b.rxBurst(0, got, 0, 32));
            pool.freeBulk(null, got, 0, frames.size());
            assertEquals(2L * frames.size(), journal.captured());
            assertTrue(journal.awaitWritten(10, TimeUnit.SECONDS), "writer journaled everything");
            assertEquals(0, journal.dropped());
        } finally {
            pair[0].close();
            pair[1].close();
        }
        return frames;
    }

    @Test
    void journalHoldsEveryPacketWithPortDirectionLengthsAndSnappedBytes() throws IOException {
        long before = System.currentTimeMillis() * 1_000_000L;
        List<byte[]> frames = captureKnownTraffic(dir.resolve("j"));
        long after = System.currentTimeMillis() * 1_000_000L + 1_000_000L;
        List<CaptureRecord> records = new ArrayList<>();
        assertEquals(2L * frames.size(), CaptureJournal.read(dir.resolve("j"), records::add));
        int n = frames.size();
        for (int i = 0; i < 2 * n; i++) {
            CaptureRecord r = records.get(i);
            byte[] f = frames.get(i % n);
            assertEquals(i < n ? 0 : 1, r.port());
            assertEquals(i < n ? CaptureDescriptor.TX : CaptureDescriptor.RX, r.direction());
            assertEquals(f.length, r.originalLength());
            assertArrayEquals(Arrays.copyOf(f, Math.min(f.length, SNAP)), r.data(), "record " + i);
            assertTrue(r.timestampNanos() >= before - 1_000_000_000L && r.timestampNanos() <= after,
                    "timestamp " + r.timestampNanos() + " within the test's run");
            if (i > 0) {
                assertTrue(r.timestampNanos() >= records.get(i - 1).timestampNanos(), "timestamps in order");
            }
        }
    }

    /** A pcap file read back: its header fields and records. */
    record Pcap(int magic, int snapLength, int linkType, List<long[]> headers, List<byte[]> data) {
        static Pcap parse(Path file) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            int magic = b.getInt();
            assertEquals(2, b.getShort(), "major version");
            assertEquals(4, b.getShort(), "minor version");
            b.getInt();
            b.getInt();
            int snap = b.getInt();
            int link = b.getInt();
            List<long[]> headers = new ArrayList<>();
            List<byte[]> data = new ArrayList<>();
            while (b.hasRemaining()) {
                long[] h = {Integer.toUnsignedLong(b.getInt()), Integer.toUnsignedLong(b.getInt()), b.getInt(), b.getInt()};
                byte[] d = new byte[(int) h[2]];
                b.get(d);
                headers.add(h);
                data.add(d);
            }
            return new Pcap(magic, snap, link, headers, data);
        }
    }

    @Test
    void exportWritesANanosecondPcapByteExactly() throws IOException {
        List<byte[]> frames = captureKnownTraffic(dir.resolve("j"));
        List<CaptureRecord> records = new ArrayList<>();
        CaptureJournal.read(dir.resolve("j"), records::add);
        Path file = dir.resolve("out/all.pcap");
        assertEquals(records.size(), PcapWriter.export(dir.resolve("j"), file, -1));
        Pcap pcap = Pcap.parse(file);
        assertEquals(0xa1b23c4d, pcap.magic());
        assertEquals(1, pcap.linkType(), "LINKTYPE_ETHERNET");
        assertTrue(pcap.snapLength() >= SNAP);
        assertEquals(records.size(), pcap.data().size());
        for (int i = 0; i < records.size(); i++) {
            CaptureRecord r = records.get(i);
            long[] h = pcap.headers().get(i);
            assertEquals(r.timestampNanos(), h[0] * 1_000_000_000L + h[1], "timestamp of record " + i);
            assertTrue(h[1] < 1_000_000_000L, "nanoseconds below one second");
            assertEquals(r.data().length, h[2], "captured length of record " + i);
            assertEquals(r.originalLength(), h[3], "original length of record " + i);
            byte[] f = frames.get(i % frames.size());
            assertArrayEquals(Arrays.copyOf(f, Math.min(f.length, SNAP)), pcap.data().get(i), "bytes of record " + i);
        }
    }

    @Test
    void exportOfOnePortKeepsOnlyItsPackets() throws IOException {
        List<byte[]> frames = captureKnownTraffic(dir.resolve("j"));
        Path file = dir.resolve("port1.pcap");
        assertEquals(frames.size(), PcapWriter.export(dir.resolve("j"), file, 1));
        Pcap pcap = Pcap.parse(file);
        assertEquals(frames.size(), pcap.data().size());
        for (int i = 0; i < frames.size(); i++) {
            assertEquals(frames.get(i).length, pcap.headers().get(i)[3]);
        }
        assertEquals(0, PcapWriter.export(dir.resolve("j"), dir.resolve("port7.pcap"), 7));
    }

    @Test
    void tsharkReadsTheExportedFile() throws Exception {
        Path tshark = Path.of("/usr/bin/tshark");
        Assumptions.assumeTrue(Files.isExecutable(tshark), "tshark is not installed (apt-get install tshark): the"
                + " Java pcap parser still checked the file");
        List<byte[]> frames = captureKnownTraffic(dir.resolve("j"));
        Path file = dir.resolve("all.pcap");
        PcapWriter.export(dir.resolve("j"), file, -1);
        Process p = new ProcessBuilder(tshark.toString(), "-r", file.toString(), "-T", "fields", "-e", "frame.len",
                "-e", "frame.cap_len").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "tshark finished");
        assertEquals(0, p.exitValue(), "tshark -r exit status; output:\n" + out);
        List<String> lines = out.lines().toList();
        assertEquals(2 * frames.size(), lines.size(), "tshark's packet count; output:\n" + out);
        for (int i = 0; i < lines.size(); i++) {
            int len = frames.get(i % frames.size()).length;
            assertEquals(len + "\t" + Math.min(len, SNAP), lines.get(i), "tshark's frame.len and frame.cap_len of " + i);
        }
    }

    @Test
    void aFullRingDropsAndCountsWithoutBlocking() throws IOException {
        Path j = dir.resolve("full");
        byte[][] frames = new byte[2000][];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = frame(i, 100);
        }
        long h = packet(frames[0]);
        MemorySegment memory = pool.memory();
        long data = Mbuf.data(pool.offset(h));
        int accepted;
        // The writer is held back: it cannot keep up at all, so the 16 KiB ring fills and stays full.
        try (CaptureJournal journal = CaptureJournal.builder(j).snapLength(SNAP).ringBytes(16 * 1024).stats(stats)
                .startWriter(false).start()) {
            accepted = 0;
            long slowest = 0;
            for (byte[] f : frames) {
                MemorySegment.copy(f, 0, memory, ValueLayout.JAVA_BYTE, data, f.length);
                long t0 = System.nanoTime();
                boolean ok = journal.capture(3, CaptureDescriptor.RX, memory, data, f.length);
                slowest = Math.max(slowest, System.nanoTime() - t0);
                if (ok) {
                    assertEquals(0, journal.dropped(), "nothing dropped before the ring first filled");
                    accepted++;
                } else {
                    assertFalse(journal.capture(3, CaptureDescriptor.RX, memory, data, f.length), "still full");
                }
            }
            assertTrue(accepted > 0 && accepted < 16 * 1024 / 100, "the ring held some records: " + accepted);
            assertEquals(accepted, journal.captured());
            assertEquals(2L * (frames.length - accepted), journal.dropped(), "every refused capture counted");
            assertTrue(slowest < TimeUnit.MILLISECONDS.toNanos(200), "a capture call never waits: slowest " + slowest + " ns");
            assertEquals(0, journal.written());
            journal.startWriter();
            assertTrue(journal.awaitWritten(10, TimeUnit.SECONDS), "writer drained the ring");
            // Room again: captures succeed once the writer has drained.
            assertTrue(journal.capture(3, CaptureDescriptor.RX, memory, data, frames[0].length));
        }
        pool.free(null, h);
        List<CaptureRecord> records = new ArrayList<>();
        CaptureJournal.read(j, records::add);
        assertEquals(accepted + 1, records.size());
        for (int i = 0; i < accepted; i++) {
            assertArrayEquals(frames[i], records.get(i).data(), "the first " + accepted + " frames, in order");
        }
    }

    @Test
    void twoProducersCaptureConcurrentlyWithoutTearingRecords() throws Exception {
        Path j = dir.resolve("two");
        int perProducer = 20_000;
        long captured;
        try (CaptureJournal journal = CaptureJournal.builder(j).snapLength(SNAP).ringBytes(64 * 1024).stats(stats).start()) {
            Thread[] producers = new Thread[2];
            Throwable[] failure = new Throwable[1];
            for (int p = 0; p < 2; p++) {
                int port = p;
                producers[p] = Thread.ofPlatform().start(() -> {
                    try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                        MemorySegment buf = arena.allocate(SNAP);
                        for (int seq = 0; seq < perProducer; seq++) {
                            byte[] f = frame(seq * 2 + port, 64 + seq % 64);
                            MemorySegment.copy(f, 0, buf, ValueLayout.JAVA_BYTE, 0, f.length);
                            journal.capture(port, CaptureDescriptor.RX, buf, 0, f.length);
                        }
                    } catch (Throwable t) {
                        failure[0] = t;
                    }
                });
            }
            for (Thread t : producers) {
                t.join(60_000);
            }
            assertNull(failure[0], () -> "producer failed: " + failure[0]);
            assertEquals(2L * perProducer, journal.captured() + journal.dropped(), "every call counted once");
            assertTrue(journal.awaitWritten(30, TimeUnit.SECONDS), "writer drained the ring");
            captured = journal.captured();
        }
        int[] last = {-1, -1};
        long n = CaptureJournal.read(j, r -> {
            int seq = ByteBuffer.wrap(r.data(), 14, 4).getInt();
            int port = r.port();
            assertEquals(port, seq % 2, "a record's port matches its payload");
            int own = seq / 2;
            assertArrayEquals(frame(seq, 64 + own % 64), r.data(), "record of port " + port + " seq " + own + " intact");
            assertTrue(own > last[port], "each producer's records in order");
            last[port] = own;
        });
        assertEquals(captured, n, "every captured record is in the journal");
    }

    @Test
    void aCaptureAfterCloseIsNotJournaledAndDoesNotCrash() throws IOException {
        Path j = dir.resolve("late");
        byte[] f = frame(1, 60);
        MemorySegment buf = MemorySegment.ofArray(f);
        CaptureJournal journal = CaptureJournal.builder(j).stats(stats).start();
        assertTrue(journal.capture(0, CaptureDescriptor.TX, buf, 0, f.length));
        journal.close();
        for (int i = 0; i < 10_000; i++) {
            journal.capture(0, CaptureDescriptor.TX, buf, 0, f.length); // fills the undrained ring, then drops
        }
        List<CaptureRecord> records = new ArrayList<>();
        assertEquals(1, CaptureJournal.read(j, records::add), "only the capture before close is journaled");
        assertArrayEquals(f, records.get(0).data());
    }

    @Test
    void badConfigurationIsRejectedWithTheRule() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CaptureJournal.builder(dir).ringBytes(3000));
        assertTrue(e.getMessage().contains("power of 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> CaptureJournal.builder(dir.resolve("x")).ringBytes(1024).snapLength(1000).stats(stats).start());
        assertTrue(e.getMessage().contains("snap length 1000"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CaptureJournal.builder(dir).snapLength(0));
    }

    @Test
    void readingSomethingThatIsNotAJournalSaysSo() throws IOException {
        IOException e = assertThrows(IOException.class, () -> CaptureJournal.read(dir.resolve("none"), r -> { }));
        assertTrue(e.getMessage().contains("no capture journal"), e.getMessage());
        Files.createDirectories(dir.resolve("empty"));
        e = assertThrows(IOException.class, () -> PcapWriter.export(dir.resolve("empty"), dir.resolve("e.pcap"), -1));
        assertTrue(e.getMessage().contains("no .cq4"), e.getMessage());
    }
}

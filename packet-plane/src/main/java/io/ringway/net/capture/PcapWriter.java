package io.ringway.net.capture;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a classic libpcap file with nanosecond timestamps (magic {@code a1b23c4d}, version 2.4,
 * link type 1, Ethernet), in little-endian byte order, as libpcap's {@code pcap-savefile(5)}
 * describes: a 24-byte file header, then a 16-byte record header (seconds, nanoseconds, captured
 * length, original length) before each packet's captured bytes.
 */
public final class PcapWriter implements AutoCloseable {
    /** Magic number of a pcap file with nanosecond timestamps. */
    public static final int MAGIC_NANOSECONDS = 0xa1b23c4d;
    /** LINKTYPE_ETHERNET. */
    public static final int LINKTYPE_ETHERNET = 1;
    /** Bytes in the file header. */
    public static final int FILE_HEADER = 24;
    /** Bytes in a record header. */
    public static final int RECORD_HEADER = 16;

    private final OutputStream out;
    private final ByteBuffer header = ByteBuffer.allocate(RECORD_HEADER).order(ByteOrder.LITTLE_ENDIAN);
    private long packets;

    /**
     * Creates (or truncates) {@code file} and writes the file header.
     *
     * @param snapLength the most bytes of a packet the file holds
     */
    public PcapWriter(Path file, int snapLength) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        this.out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16);
        ByteBuffer h = ByteBuffer.allocate(FILE_HEADER).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(MAGIC_NANOSECONDS).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0)
                .putInt(snapLength).putInt(LINKTYPE_ETHERNET);
        out.write(h.array());
    }

    /** Appends one packet. */
    public void write(CaptureRecord r) throws IOException {
        header.clear();
        header.putInt((int) Math.floorDiv(r.timestampNanos(), 1_000_000_000L))
                .putInt((int) Math.floorMod(r.timestampNanos(), 1_000_000_000L))
                .putInt(r.data().length).putInt(r.originalLength());
        out.write(header.array());
        out.write(r.data());
        packets++;
    }

    /** @return packets written */
    public long packets() {
        return packets;
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    /**
     * Exports the capture journal in {@code dir} to {@code pcap}.
     *
     * @param port only this port's packets, or -1 for all
     * @return packets written
     * @throws IOException if the journal cannot be read or the file written
     */
    public static long export(Path dir, Path pcap, int port) throws IOException {
        try (PcapWriter w = new PcapWriter(pcap, 65535)) {
            IOException[] failure = new IOException[1];
            CaptureJournal.read(dir, r -> {
                if (failure[0] == null && (port < 0 || r.port() == port)) {
                    try {
                        w.write(r);
                    } catch (IOException e) {
                        failure[0] = e;
                    }
                }
            });
            if (failure[0] != null) {
                throw failure[0];
            }
            return w.packets();
        }
    }
}

package io.ringway.vcpu.pci.virtio;

import static io.ringway.vcpu.pci.virtio.VirtioPciLayout.MSIX_ENTRY_MASKED;
import static io.ringway.vcpu.pci.virtio.VirtioPciLayout.MSIX_ENTRY_SIZE;

/**
 * An MSI-X table and pending bit array (PCI Local Bus 3.0, 6.8.2): per vector a message address
 * (bits 1:0 read 0), upper address, data and vector control (bit 0 masked, set at reset); a PBA bit
 * per vector set when the function raises a masked vector and cleared when the message goes out
 * after the unmask. Table accesses are 4 or 8 bytes, naturally aligned; others read 0 and are
 * dropped. Not thread-safe: its owner serializes.
 */
public final class MsixTable {
    /** Where an unmasked vector's message goes: an MSI write of {@code data} to {@code address}. */
    @FunctionalInterface
    public interface MessageSink {
        void send(int vector, long address, int data);

        /**
         * Vector {@code vector}'s entry or the function's enable/mask bits changed: from now on its
         * message is {@code address}/{@code data} and it is {@code deliverable} (MSI-X enabled, neither
         * the function nor the entry masked) or not. A sink that delivers the vector without
         * {@link #send} (an irqfd routed to the message) re-routes or detaches it here.
         */
        default void vectorChanged(int vector, boolean deliverable, long address, int data) {
        }
    }

    private final int vectors;
    private final long[] address;
    private final int[] data;
    private final int[] control;
    private final long[] pending;
    private final MessageSink sink;
    private boolean enabled;
    private boolean functionMasked;

    public MsixTable(int vectors, MessageSink sink) {
        if (vectors < 1 || vectors > 2048) {
            throw new IllegalArgumentException("MSI-X table size must be 1..2048 vectors, got " + vectors);
        }
        this.vectors = vectors;
        this.address = new long[vectors];
        this.data = new int[vectors];
        this.control = new int[vectors];
        this.pending = new long[(vectors + 63) / 64];
        this.sink = sink;
        clear();
    }

    /** Every entry masked with a zero message, nothing pending, MSI-X disabled. */
    public void reset() {
        clear();
        changedAll();
    }

    private void clear() {
        java.util.Arrays.fill(address, 0);
        java.util.Arrays.fill(data, 0);
        java.util.Arrays.fill(control, MSIX_ENTRY_MASKED);
        java.util.Arrays.fill(pending, 0);
        enabled = false;
        functionMasked = false;
    }

    public int vectors() {
        return vectors;
    }

    /** The PBA size in bytes (8-byte words). */
    public int pbaSize() {
        return pending.length * 8;
    }

    public boolean enabled() {
        return enabled;
    }

    /** From the message control register: enable (bit 15) and function mask (bit 14); unmasking sends what is pending. */
    public void control(boolean enable, boolean mask) {
        boolean changed = enable != enabled || mask != functionMasked;
        enabled = enable;
        functionMasked = mask;
        if (changed) {
            changedAll();
        }
        deliverPending();
    }

    /** Whether a message raised on {@code vector} now would go out: MSI-X enabled, neither function nor entry masked. */
    public boolean deliverable(int vector) {
        return enabled && !functionMasked && (control[vector] & MSIX_ENTRY_MASKED) == 0;
    }

    /** The message address of {@code vector} (bits 1:0 zero). */
    public long address(int vector) {
        return address[vector];
    }

    /** The message data of {@code vector}. */
    public int data(int vector) {
        return data[vector];
    }

    private void changed(int vector) {
        sink.vectorChanged(vector, deliverable(vector), address[vector], data[vector]);
    }

    private void changedAll() {
        for (int v = 0; v < vectors; v++) {
            changed(v);
        }
    }

    /**
     * The function raises {@code vector}: sent now, or left pending while masked. Returns false when
     * MSI-X is disabled or the vector is out of range (the caller falls back to INTx or drops it).
     */
    public boolean raise(int vector) {
        if (!enabled || vector < 0 || vector >= vectors) {
            return false;
        }
        if (functionMasked || (control[vector] & MSIX_ENTRY_MASKED) != 0) {
            pending[vector >>> 6] |= 1L << vector;
        } else {
            sink.send(vector, address[vector], data[vector]);
        }
        return true;
    }

    /** Whether {@code vector}'s PBA bit is set. */
    public boolean pending(int vector) {
        return (pending[vector >>> 6] & (1L << vector)) != 0;
    }

    /** A guest read in the table ({@code offset} from the table start). */
    public long readTable(long offset, int size) {
        if (!aligned(offset, size) || offset + size > (long) vectors * MSIX_ENTRY_SIZE) {
            return 0;
        }
        if (size == 8) {
            return readDword(offset) | readDword(offset + 4) << 32;
        }
        return readDword(offset);
    }

    /** A guest write in the table. */
    public void writeTable(long offset, int size, long value) {
        if (!aligned(offset, size) || offset + size > (long) vectors * MSIX_ENTRY_SIZE) {
            return;
        }
        writeDword(offset, (int) value);
        if (size == 8) {
            writeDword(offset + 4, (int) (value >>> 32));
        }
        changed((int) (offset / MSIX_ENTRY_SIZE));
        deliverPending();
    }

    /** A guest read in the PBA (read-only; writes are dropped by the caller). */
    public long readPba(long offset, int size) {
        if (!aligned(offset, size) || offset + size > pbaSize()) {
            return 0;
        }
        long word = pending[(int) (offset >>> 3)];
        return size == 8 ? word : (word >>> (8 * (offset & 4))) & 0xffff_ffffL;
    }

    private long readDword(long offset) {
        int v = (int) (offset / MSIX_ENTRY_SIZE);
        return switch ((int) (offset % MSIX_ENTRY_SIZE)) {
            case 0 -> address[v] & 0xffff_fffcL;
            case 4 -> address[v] >>> 32;
            case 8 -> Integer.toUnsignedLong(data[v]);
            default -> control[v];
        };
    }

    private void writeDword(long offset, int value) {
        int v = (int) (offset / MSIX_ENTRY_SIZE);
        switch ((int) (offset % MSIX_ENTRY_SIZE)) {
            case 0 -> address[v] = (address[v] & 0xffff_ffff_0000_0000L) | (Integer.toUnsignedLong(value) & 0xffff_fffcL);
            case 4 -> address[v] = (address[v] & 0xffff_ffffL) | Integer.toUnsignedLong(value) << 32;
            case 8 -> data[v] = value;
            default -> control[v] = value & MSIX_ENTRY_MASKED;
        }
    }

    private void deliverPending() {
        if (!enabled || functionMasked) {
            return;
        }
        for (int v = 0; v < vectors; v++) {
            if (pending(v) && (control[v] & MSIX_ENTRY_MASKED) == 0) {
                pending[v >>> 6] &= ~(1L << v);
                sink.send(v, address[v], data[v]);
            }
        }
    }

    private static boolean aligned(long offset, int size) {
        return (size == 4 || size == 8) && offset >= 0 && offset % size == 0;
    }
}

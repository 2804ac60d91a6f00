package io.ringway.vcpu.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import io.ringway.runtime.sys.FileIo;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * KVM's own statistics of a VM or a vCPU, read from the binary stats fd (KVM_GET_STATS_FD,
 * api.rst 4.133; KVM_CAP_BINARY_STATS_FD). The fd holds, at fixed offsets:
 * <pre>
 *   header       struct kvm_stats_header (24 bytes): u32 flags, u32 name_size, u32 num_desc,
 *                u32 id_offset, u32 desc_offset, u32 data_offset
 *   id           name_size bytes, NUL-terminated ("kvm-PID", "kvm-PID/vcpu-N")
 *   descriptors  num_desc x (16 + name_size) bytes: u32 flags (type | unit | base), s16 exponent,
 *                u16 size (in u64 values), u32 offset (from data_offset), u32 bucket_size, char name[]
 *   data         u64 values; a stat of size n (a histogram) has n of them
 * </pre>
 * The header, id and descriptors never change while the fd is open, so they are read once;
 * {@link #refresh()} re-reads only the data block, into memory allocated at open (no allocation).
 */
public final class KvmStats implements AutoCloseable {
    /** Descriptor type: a cumulative counter (only goes up). */
    public static final int TYPE_CUMULATIVE = 0x0;
    /** Descriptor type: an instantaneous value. */
    public static final int TYPE_INSTANT = 0x1;
    /** Descriptor type: a peak value. */
    public static final int TYPE_PEAK = 0x2;
    /** Descriptor type: a linear histogram. */
    public static final int TYPE_LINEAR_HIST = 0x3;
    /** Descriptor type: a log2 histogram. */
    public static final int TYPE_LOG_HIST = 0x4;
    private static final int TYPE_MASK = 0xf;
    private static final int UNIT_MASK = 0xf0;
    private static final int HEADER_SIZE = 24;
    private static final int DESC_FIXED_SIZE = 16;
    /** A sanity bound on what the fd may describe (the kernel has ~50 vCPU stats). */
    private static final int MAX_DESCRIPTORS = 4096;
    private static final int MAX_DATA_BYTES = 1 << 20;

    /**
     * One statistic.
     *
     * @param name       KVM's name ({@code exits}, {@code halt_exits}, {@code irq_injections} ...)
     * @param flags      type | unit | base bits (type in bits 0-3, unit 4-7, base 8-11)
     * @param exponent   the value is {@code value * base^exponent} in its unit (e.g. -9 for ns)
     * @param size       u64 values it has (1, or the buckets of a histogram)
     * @param offset     byte offset of its first value from the start of the data block
     * @param bucketSize for a linear histogram, the width of a bucket
     */
    public record Descriptor(String name, int flags, int exponent, int size, int offset, int bucketSize) {
        /** {@link #TYPE_CUMULATIVE}, {@link #TYPE_INSTANT}, {@link #TYPE_PEAK} or a histogram type. */
        public int type() {
            return flags & TYPE_MASK;
        }

        /** Whether the unit is a time (KVM_STATS_UNIT_SECONDS; {@link #exponent} says the scale). */
        public boolean isTime() {
            return (flags & UNIT_MASK) == 0x20;
        }

        /** Whether this is one value (not a histogram). */
        public boolean isScalar() {
            return size == 1 && type() != TYPE_LINEAR_HIST && type() != TYPE_LOG_HIST;
        }
    }

    private final int fd;
    private final String id;
    private final List<Descriptor> descriptors;
    private final Map<String, Integer> byName;
    private final long dataOffset;
    private final int dataSize;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment data;
    private final AtomicBoolean closed = new AtomicBoolean();

    private KvmStats(int fd) {
        this.fd = fd;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment header = a.allocate(HEADER_SIZE, 8);
            readFully(header, HEADER_SIZE, 0, "header");
            int nameSize = header.get(JAVA_INT, 4);
            int count = header.get(JAVA_INT, 8);
            long idOffset = Integer.toUnsignedLong(header.get(JAVA_INT, 12));
            long descOffset = Integer.toUnsignedLong(header.get(JAVA_INT, 16));
            this.dataOffset = Integer.toUnsignedLong(header.get(JAVA_INT, 20));
            if (nameSize <= 0 || nameSize > 4096 || count < 0 || count > MAX_DESCRIPTORS) {
                throw new IllegalStateException("KVM stats header is implausible: name_size " + nameSize + ", num_desc " + count);
            }
            MemorySegment name = a.allocate(nameSize);
            readFully(name, nameSize, idOffset, "id");
            this.id = cString(name, 0, nameSize);
            int stride = DESC_FIXED_SIZE + nameSize;
            MemorySegment desc = a.allocate((long) stride * Math.max(1, count), 8);
            readFully(desc, (long) stride * count, descOffset, "descriptors");
            List<Descriptor> list = new ArrayList<>(count);
            Map<String, Integer> names = new LinkedHashMap<>();
            int end = 0;
            for (int i = 0; i < count; i++) {
                long at = (long) i * stride;
                Descriptor d = new Descriptor(cString(desc, at + DESC_FIXED_SIZE, nameSize), desc.get(JAVA_INT, at),
                    desc.get(JAVA_SHORT, at + 4), Short.toUnsignedInt(desc.get(JAVA_SHORT, at + 6)),
                    desc.get(JAVA_INT, at + 8), desc.get(JAVA_INT, at + 12));
                if (d.offset() < 0 || d.size() < 1 || (d.offset() & 7) != 0) {
                    throw new IllegalStateException("KVM stats descriptor " + d.name() + " is implausible: offset " + d.offset() + ", size " + d.size());
                }
                end = Math.max(end, d.offset() + 8 * d.size());
                list.add(d);
                names.put(d.name(), i);
            }
            if (end > MAX_DATA_BYTES) {
                throw new IllegalStateException("KVM stats data block of " + end + " bytes is implausible");
            }
            this.descriptors = Collections.unmodifiableList(list);
            this.byName = Collections.unmodifiableMap(names);
            this.dataSize = end;
        }
        this.data = arena.allocate(Math.max(8, dataSize), 8);
        refresh();
    }

    /** KVM_GET_STATS_FD on a VM or vCPU fd; {@code what} names the owner in errors. */
    static KvmStats open(Kvm kvm, int ownerFd, String what) {
        requireCapability(kvm);
        int statsFd = LibC.tryIoctl(ownerFd, KvmApi.KVM_GET_STATS_FD, 0L);
        if (statsFd < 0) {
            throw new LinuxException("ioctl", "KVM_GET_STATS_FD " + what, -statsFd);
        }
        try {
            return new KvmStats(statsFd);
        } catch (RuntimeException e) {
            LibC.closeQuietly(statsFd);
            throw e;
        }
    }

    /** Fails with a one-line {@link KvmUnavailableException} naming KVM_CAP_BINARY_STATS_FD where the kernel lacks it. */
    static void requireCapability(Kvm kvm) {
        kvm.requireExtension(KvmApi.KVM_CAP_BINARY_STATS_FD, "KVM_CAP_BINARY_STATS_FD (binary statistics, Linux 5.14+)");
    }

    /** The id string of the fd ({@code kvm-PID} or {@code kvm-PID/vcpu-N}). */
    public String id() {
        return id;
    }

    /** Every statistic the kernel offers, in its order. */
    public List<Descriptor> descriptors() {
        return descriptors;
    }

    /** The index of statistic {@code name}, or -1 when this kernel does not have it. */
    public int indexOf(String name) {
        Integer i = byName.get(name);
        return i == null ? -1 : i;
    }

    /** Re-reads the values (one pread of the data block; does not allocate). */
    public void refresh() {
        if (closed.get()) {
            throw new IllegalStateException("KVM stats " + id + " closed");
        }
        readFully(data, dataSize, dataOffset, "data");
    }

    /** The first u64 of statistic {@code index} as of the last {@link #refresh()}. */
    public long value(int index) {
        return data.get(JAVA_LONG, descriptors.get(index).offset());
    }

    /** The value of statistic {@code name} as of the last {@link #refresh()}, or -1 when this kernel lacks it. */
    public long value(String name) {
        int i = indexOf(name);
        return i < 0 ? -1 : value(i);
    }

    /** Bucket {@code bucket} of histogram statistic {@code index}. */
    public long bucket(int index, int bucket) {
        Descriptor d = descriptors.get(index);
        if (bucket < 0 || bucket >= d.size()) {
            throw new IndexOutOfBoundsException("bucket " + bucket + " of " + d.name() + " (" + d.size() + " buckets)");
        }
        return data.get(JAVA_LONG, d.offset() + 8L * bucket);
    }

    /** Every scalar statistic by name, freshly read (control plane: allocates). */
    public Map<String, Long> snapshot() {
        refresh();
        Map<String, Long> values = new LinkedHashMap<>();
        for (int i = 0; i < descriptors.size(); i++) {
            if (descriptors.get(i).isScalar()) {
                values.put(descriptors.get(i).name(), value(i));
            }
        }
        return values;
    }

    private void readFully(MemorySegment into, long count, long offset, String part) {
        long done = 0;
        while (done < count) {
            long n = FileIo.tryPread(fd, into.asSlice(done), count - done, offset + done);
            if (n < 0) {
                throw new LinuxException("pread", "KVM stats fd " + (id == null ? "" : id + " ") + part, (int) -n);
            }
            if (n == 0) {
                throw new IllegalStateException("KVM stats fd ended " + (count - done) + " bytes short of its " + part);
            }
            done += n;
        }
    }

    private static String cString(MemorySegment s, long at, int max) {
        int len = 0;
        while (len < max && s.get(JAVA_BYTE, at + len) != 0) {
            len++;
        }
        byte[] bytes = new byte[len];
        MemorySegment.copy(s, JAVA_BYTE, at, bytes, 0, len);
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    /** Closes the stats fd. */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        LibC.closeQuietly(fd);
        arena.close();
    }

    @Override
    public String toString() {
        return "KvmStats[" + id + ", " + descriptors.size() + " statistics]";
    }
}

package io.ringway.runtime.mem;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

import io.ringway.runtime.sys.LibC;

/**
 * Private anonymous memory (MAP_PRIVATE | MAP_ANONYMOUS) starting on a 2 MiB boundary and advised
 * MADV_HUGEPAGE: where transparent huge pages are "always" or "madvise" the kernel backs it with 2 MiB
 * pages on first touch, and KVM then maps a guest with 2 MiB pages (a guest-physical range and its host
 * address must agree modulo 2 MiB, hence the alignment). This is what QEMU does with guest RAM that no
 * other process needs (its anonymous memory backend, qemu_ram_mmap + QEMU_MADV_HUGEPAGE).
 *
 * <p>The 2 MiB of address space the alignment needs stay reserved around the region, inaccessible (PROT_NONE,
 * no memory), until {@link #close()}.
 *
 * <p>The region has no fd: no other process can map it. Memory a vhost-user back-end must map is a
 * {@link SharedRegion}.
 */
public final class AnonymousRegion implements MappedRegion {
    /** The start alignment, one x86 huge page. */
    public static final long ALIGNMENT = SharedRegion.HUGE_PAGE_SIZE;
    private static final long PAGE = 4096;

    private final String name;
    private final long size;
    private final Arena arena;
    private final MemorySegment segment;
    private final String adviceFailure;
    private final String thpMode;
    /** The address space reserved for the region and its alignment: [reservationStart, + reservationLength). */
    private final long reservationStart;
    private final long reservationLength;
    private final AtomicBoolean closed = new AtomicBoolean();

    private AnonymousRegion(String name, long size, Arena arena, MemorySegment segment, String adviceFailure, String thpMode,
                            MemorySegment reservation) {
        this.name = name;
        this.size = size;
        this.arena = arena;
        this.segment = segment;
        this.adviceFailure = adviceFailure;
        this.thpMode = thpMode;
        this.reservationStart = reservation.address();
        this.reservationLength = reservation.byteSize();
    }

    /**
     * Maps {@code size} bytes (rounded up to 4 KiB) of zeroed private anonymous memory at a 2 MiB aligned
     * address and advises MADV_HUGEPAGE; a kernel that refuses the advice leaves normal pages, which
     * {@link #backing()} says.
     *
     * @param name a name for logs
     * @param size the size in bytes, positive
     */
    public static AnonymousRegion create(String name, long size) {
        SharedRegion.requirePositive(size);
        long length = SharedRegion.roundUp(size, PAGE);
        // Reserve length + 2 MiB of address space (no access, no memory) and map the aligned part over it. The
        // rest of the reservation stays as inaccessible guard space around the region (an overrun faults) and is
        // unmapped with it: no munmap(2) at creation (one downcall handle less to make on the VM-creation path).
        MemorySegment reservation = LibC.mmap(0, length + ALIGNMENT, LibC.PROT_NONE,
            LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0);
        long aligned = SharedRegion.roundUp(reservation.address(), ALIGNMENT);
        Arena arena = Arena.ofShared();
        MemorySegment mapping;
        try {
            LibC.mmap(aligned, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_FIXED, -1, 0);
            mapping = bind(aligned, length, reservation, arena);
        } catch (RuntimeException e) {
            arena.close();
            LibC.munmapQuietly(reservation.address(), reservation.byteSize()); // e says what went wrong
            throw e;
        }
        String failure = TransparentHugePages.advise(mapping);
        return new AnonymousRegion(name, length, arena, mapping, failure, TransparentHugePages.enabled(), reservation);
    }

    /**
     * The region's segment, bound to {@code arena}: closing it makes the segment inaccessible, then unmaps the whole
     * reservation, quietly (a cleanup action that threw would escape {@code Arena.close()}).
     */
    @SuppressWarnings("restricted")
    private static MemorySegment bind(long address, long length, MemorySegment reservation, Arena arena) {
        long base = reservation.address();
        long reserved = reservation.byteSize();
        return MemorySegment.ofAddress(address).reinterpret(length, arena, _ -> LibC.munmapQuietly(base, reserved));
    }

    /** Where the reservation (the region and its PROT_NONE guard space) starts; for tests. */
    long reservationStart() {
        return reservationStart;
    }

    /** The reservation's length: the region's size plus {@link #ALIGNMENT}; for tests. */
    long reservationLength() {
        return reservationLength;
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public String name() {
        return name;
    }

    /** Whether the kernel took MADV_HUGEPAGE for the whole region (huge pages then follow THP "always" or "madvise"). */
    public boolean hugePagesAdvised() {
        return adviceFailure == null;
    }

    /** The host's THP mode for anonymous memory when the region was made ("madvise", "always", "never", "unknown"). */
    public String thpMode() {
        return thpMode;
    }

    @Override
    public String backing() {
        return "anonymous memory at a 2 MiB boundary, " + (adviceFailure == null
            ? "MADV_HUGEPAGE (transparent_hugepage/enabled: " + thpMode + ")"
            : "4 KiB pages (MADV_HUGEPAGE refused: " + adviceFailure + ")");
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "AnonymousRegion[" + name + ", size=" + size + ", " + backing() + "]";
    }
}

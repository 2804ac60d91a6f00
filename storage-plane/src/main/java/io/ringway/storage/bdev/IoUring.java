package io.ringway.storage.bdev;

import io.ringway.runtime.sys.FileIo;
import io.ringway.runtime.sys.LibC;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One io_uring instance driven through FFM: io_uring_setup(2) and io_uring_enter(2) through
 * syscall(2), the SQ ring, CQ ring and SQE array mapped into the process. Owned by one thread.
 *
 * <p>Layouts (x86-64, checked with gcc against &lt;linux/io_uring.h&gt;):
 * <pre>
 * io_uring_params (120 bytes): sq_entries @0, cq_entries @4, flags @8, features @20,
 *   sq_off @40 { head 0, tail 4, ring_mask 8, ring_entries 12, flags 16, dropped 20, array 24 },
 *   cq_off @80 { head 0, tail 4, ring_mask 8, ring_entries 12, overflow 16, cqes 20 }
 * io_uring_sqe (64 bytes): opcode @0 u8, flags @1 u8, ioprio @2 u16, fd @4 s32, off @8 u64,
 *   addr @16 u64, len @24 u32, rw_flags/fsync_flags @28 u32, user_data @32 u64
 * io_uring_cqe (16 bytes): user_data @0 u64, res @8 s32, flags @12 u32
 * mmap offsets: SQ ring 0, CQ ring 0x8000000, SQEs 0x10000000
 * </pre>
 * The application writes SQEs and the SQ tail (release), the kernel the CQ tail; the application
 * reads the CQ tail with acquire and writes the CQ head with release.
 */
final class IoUring implements AutoCloseable {
    static final int OP_READV = 1;
    static final int OP_WRITEV = 2;
    static final int OP_FSYNC = 3;
    static final int FSYNC_DATASYNC = 1;

    private static final int PARAMS_SIZE = 120;
    private static final int SQE_SIZE = 64;
    private static final int CQE_SIZE = 16;
    private static final long OFF_SQ_RING = 0L;
    private static final long OFF_CQ_RING = 0x8000000L;
    private static final long OFF_SQES = 0x10000000L;
    private static final int FEAT_SINGLE_MMAP = 1;
    private static final int ENTER_GETEVENTS = 1;
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private static volatile String unavailable;
    private static volatile boolean probed;

    private final int fd;
    private final MemorySegment sqRing;
    private final MemorySegment cqRing;
    private final MemorySegment sqes;
    private final long sqRingSize;
    private final long cqRingSize;
    private final long sqesSize;
    private final boolean singleMmap;
    private final int sqMask;
    private final int sqEntries;
    private final int cqMask;
    private final long sqTailOff;
    private final long sqArrayOff;
    private final long cqHeadOff;
    private final long cqTailOff;
    private final long cqesOff;
    private int sqTail;
    private int submitted;
    private int cqHead;

    /** Sets up a ring with at least {@code entries} SQ entries (rounded up to a power of 2). */
    IoUring(int entries) {
        int want = Integer.highestOneBit(Math.max(2, entries) - 1) << 1;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = arena.allocate(PARAMS_SIZE, 8);
            long r = FileIo.trySyscall(FileIo.SYS_IO_URING_SETUP, want, params.address(), 0, 0, 0, 0);
            if (r < 0) {
                throw new IllegalStateException("io_uring_setup(" + want + ") failed: errno " + (-r));
            }
            fd = (int) r;
            try {
                sqEntries = params.get(ValueLayout.JAVA_INT, 0);
                int cqEntries = params.get(ValueLayout.JAVA_INT, 4);
                int features = params.get(ValueLayout.JAVA_INT, 20);
                int sqOffArray = params.get(ValueLayout.JAVA_INT, 40 + 24);
                int cqOffCqes = params.get(ValueLayout.JAVA_INT, 80 + 20);
                singleMmap = (features & FEAT_SINGLE_MMAP) != 0;
                long sqSize = sqOffArray + 4L * sqEntries;
                long cqSize = cqOffCqes + (long) CQE_SIZE * cqEntries;
                if (singleMmap) {
                    sqSize = Math.max(sqSize, cqSize);
                    cqSize = sqSize;
                }
                sqRingSize = sqSize;
                cqRingSize = cqSize;
                int prot = LibC.PROT_READ | LibC.PROT_WRITE;
                int flags = LibC.MAP_SHARED | LibC.MAP_POPULATE;
                sqRing = LibC.mmap(0, sqSize, prot, flags, fd, OFF_SQ_RING);
                cqRing = singleMmap ? sqRing : LibC.mmap(0, cqSize, prot, flags, fd, OFF_CQ_RING);
                sqesSize = (long) SQE_SIZE * sqEntries;
                sqes = LibC.mmap(0, sqesSize, prot, flags, fd, OFF_SQES);
                sqMask = sqRing.get(ValueLayout.JAVA_INT, params.get(ValueLayout.JAVA_INT, 40 + 8));
                cqMask = cqRing.get(ValueLayout.JAVA_INT, params.get(ValueLayout.JAVA_INT, 80 + 8));
                sqTailOff = params.get(ValueLayout.JAVA_INT, 40 + 4);
                sqArrayOff = sqOffArray;
                cqHeadOff = params.get(ValueLayout.JAVA_INT, 80);
                cqTailOff = params.get(ValueLayout.JAVA_INT, 80 + 4);
                cqesOff = cqOffCqes;
                sqTail = sqRing.get(ValueLayout.JAVA_INT, sqTailOff);
                submitted = sqTail;
                cqHead = cqRing.get(ValueLayout.JAVA_INT, cqHeadOff);
            } catch (RuntimeException e) {
                LibC.closeQuietly(fd);
                throw e;
            }
        }
    }

    /** @return null if io_uring works here, else why not (probed once per process) */
    static String unavailableReason() {
        if (!probed) {
            synchronized (IoUring.class) {
                if (!probed) {
                    try (IoUring ring = new IoUring(2)) {
                        unavailable = ring.sqEntries >= 2 ? null : "io_uring_setup returned " + ring.sqEntries + " entries";
                    } catch (RuntimeException | LinkageError e) {
                        unavailable = e.getMessage();
                    }
                    probed = true;
                }
            }
        }
        return unavailable;
    }

    /** @return SQ entries */
    int sqEntries() {
        return sqEntries;
    }

    /** @return SQEs queued but not yet handed to the kernel */
    int pending() {
        return sqTail - submitted;
    }

    /**
     * Fills the next SQE (the caller makes sure there is room: in flight never exceeds sqEntries).
     */
    void prepare(int opcode, int fileFd, long off, long addr, int len, int opFlags, long userData) {
        int tail = sqTail;
        int index = tail & sqMask;
        long at = (long) index * SQE_SIZE;
        sqes.set(ValueLayout.JAVA_LONG, at, 0L);
        sqes.set(ValueLayout.JAVA_LONG, at + 40, 0L);
        sqes.set(ValueLayout.JAVA_LONG, at + 48, 0L);
        sqes.set(ValueLayout.JAVA_LONG, at + 56, 0L);
        sqes.set(ValueLayout.JAVA_BYTE, at, (byte) opcode);
        sqes.set(ValueLayout.JAVA_INT, at + 4, fileFd);
        sqes.set(ValueLayout.JAVA_LONG, at + 8, off);
        sqes.set(ValueLayout.JAVA_LONG, at + 16, addr);
        sqes.set(ValueLayout.JAVA_INT, at + 24, len);
        sqes.set(ValueLayout.JAVA_INT, at + 28, opFlags);
        sqes.set(ValueLayout.JAVA_LONG, at + 32, userData);
        sqRing.set(ValueLayout.JAVA_INT, sqArrayOff + 4L * index, index);
        sqTail = tail + 1;
    }

    /**
     * Publishes queued SQEs (release store of the SQ tail) and enters the kernel once for all of them.
     *
     * @return SQEs the kernel took, or {@code -errno}
     */
    int submit() {
        int toSubmit = sqTail - submitted;
        if (toSubmit == 0) {
            return 0;
        }
        INT.setRelease(sqRing, sqTailOff, sqTail);
        long r = FileIo.trySyscall(FileIo.SYS_IO_URING_ENTER, fd, toSubmit, 0, 0, 0, 0);
        if (r > 0) {
            submitted += (int) r;
        }
        return (int) r;
    }

    /** Blocks in the kernel until at least one completion is there (tests, shutdown). */
    int waitForCompletion() {
        return (int) FileIo.trySyscall(FileIo.SYS_IO_URING_ENTER, fd, 0, 1, ENTER_GETEVENTS, 0, 0);
    }

    /** @return the number of completions ready (acquire load of the CQ tail) */
    int ready() {
        return (int) INT.getAcquire(cqRing, cqTailOff) - cqHead;
    }

    /** user_data of the i-th ready completion (0 = oldest). */
    long completionUserData(int i) {
        return cqRing.get(ValueLayout.JAVA_LONG, cqesOff + (long) ((cqHead + i) & cqMask) * CQE_SIZE);
    }

    /** res of the i-th ready completion. */
    int completionResult(int i) {
        return cqRing.get(ValueLayout.JAVA_INT, cqesOff + (long) ((cqHead + i) & cqMask) * CQE_SIZE + 8);
    }

    /** Hands {@code n} completions back to the kernel (release store of the CQ head). */
    void consume(int n) {
        cqHead += n;
        INT.setRelease(cqRing, cqHeadOff, cqHead);
    }

    @Override
    public void close() {
        LibC.munmap(sqes, sqesSize);
        if (!singleMmap) {
            LibC.munmap(cqRing, cqRingSize);
        }
        LibC.munmap(sqRing, sqRingSize);
        LibC.closeQuietly(fd);
    }
}

package io.ringway.runtime.mem;

import java.lang.foreign.MemorySegment;

/**
 * Memory this process mapped for others to use through a {@link MemorySegment}: a {@link SharedRegion}
 * (a memfd, whose fd can travel to another process) or an {@link AnonymousRegion} (private anonymous
 * memory, no fd: only this process and the kernel, e.g. KVM, can reach it).
 *
 * <p>Code that must hand the memory to another process asks for a {@link SharedRegion} by type, so an
 * anonymous region can never be sent by mistake.
 */
public sealed interface MappedRegion extends AutoCloseable permits SharedRegion, AnonymousRegion {
    /** The mapped memory, {@link #size()} bytes; inaccessible after {@link #close()}. */
    MemorySegment segment();

    /** The size in bytes. */
    long size();

    /** A name for logs and /proc/PID/maps. */
    String name();

    /** One line saying what backs the region (memfd, hugetlb, anonymous with transparent huge pages, ...). */
    String backing();

    /** Makes the segment inaccessible and unmaps it (and closes its fd, if any); further calls do nothing. */
    @Override
    void close();
}

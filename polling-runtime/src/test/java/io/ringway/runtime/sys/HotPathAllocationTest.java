package io.ringway.runtime.sys;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HotPathAllocationTest {

    private static final int ROUNDS = 200_000;

    @Test
    void signalReadAndAwaitDoNotAllocate() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (EventFd efd = EventFd.create(true); Epoll epoll = Epoll.create(4)) {
            epoll.add(efd.fd(), Epoll.EPOLLIN, 5);
            long sink = run(efd, epoll);
            sink += run(efd, epoll);

            long before = threads.getCurrentThreadAllocatedBytes();
            sink += run(efd, epoll);
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;

            assertEquals(3L * ROUNDS * 6, sink);
            // A handful of bytes may come from the JIT finishing; a per-call allocation would be megabytes.
            assertTrue(allocated < 64 * 1024, "allocated " + allocated + " bytes in " + ROUNDS + " rounds");
        }
    }

    private static long run(EventFd efd, Epoll epoll) {
        long sum = 0;
        for (int i = 0; i < ROUNDS; i++) {
            efd.signal();
            int ready = epoll.await(0);
            sum += ready * epoll.data(0);
            sum += efd.read();
            sum += efd.read();
        }
        return sum;
    }
}

package io.ringway.runtime.sys;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EpollTest {

    @Test
    void epollEventIsPacked12BytesWithDataAtOffset4() {
        assertEquals(12, Epoll.EVENT_SIZE);
        assertEquals(0, Epoll.EVENTS_OFFSET);
        assertEquals(4, Epoll.DATA_OFFSET);
    }

    @Test
    void awaitWakesOnAnEventfdWriteFromAnotherThreadAndReturnsTheCookie() throws Exception {
        long cookie = 0x1234_5678_9abc_def0L;
        try (Epoll epoll = Epoll.create(4); EventFd efd = EventFd.create(true)) {
            epoll.add(efd.fd(), Epoll.EPOLLIN, cookie);
            Thread writer = Thread.ofPlatform().start(() -> {
                EventFdTest.sleep(50);
                efd.signal();
            });
            int ready = epoll.await(10_000);
            writer.join();

            assertEquals(1, ready);
            assertEquals(cookie, epoll.data(0));
            assertTrue((epoll.events(0) & Epoll.EPOLLIN) != 0);
            assertEquals(1, efd.read());
        }
    }

    @Test
    void awaitTimesOutWithZero() {
        try (Epoll epoll = Epoll.create(1); EventFd efd = EventFd.create(true)) {
            epoll.add(efd.fd(), Epoll.EPOLLIN, 7);
            long start = System.nanoTime();
            assertEquals(0, epoll.await(50));
            assertTrue(System.nanoTime() - start >= 40_000_000L);
        }
    }

    @Test
    void awaitReportsEveryReadyFdWithItsOwnCookie() {
        try (Epoll epoll = Epoll.create(4); EventFd a = EventFd.create(true); EventFd b = EventFd.create(true)) {
            epoll.add(a.fd(), Epoll.EPOLLIN, 1);
            epoll.add(b.fd(), Epoll.EPOLLIN, 2);
            a.signal();
            b.signal();
            int ready = epoll.await(1000);
            assertEquals(2, ready);
            assertEquals(3, epoll.data(0) + epoll.data(1));
        }
    }

    @Test
    void modifyChangesTheCookieAndRemoveStopsReporting() {
        try (Epoll epoll = Epoll.create(2); EventFd efd = EventFd.create(true)) {
            epoll.add(efd.fd(), Epoll.EPOLLIN, 1);
            epoll.modify(efd.fd(), Epoll.EPOLLIN, 99);
            efd.signal();
            assertEquals(1, epoll.await(1000));
            assertEquals(99, epoll.data(0));
            epoll.remove(efd.fd());
            assertEquals(0, epoll.await(0));
        }
    }

    @Test
    void addingAClosedFdNamesEpollCtlAndEbadf() {
        try (Epoll epoll = Epoll.create(1)) {
            EventFd efd = EventFd.create(true);
            efd.close();
            LinuxException e = org.junit.jupiter.api.Assertions.assertThrows(LinuxException.class,
                () -> epoll.add(efd.fd(), Epoll.EPOLLIN, 0));
            assertEquals("epoll_ctl(ADD)", e.call());
            assertEquals("EBADF", e.errnoName());
        }
    }
}

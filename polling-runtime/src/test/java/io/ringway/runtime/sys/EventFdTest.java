package io.ringway.runtime.sys;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EventFdTest {

    @Test
    void readReturnsTheSumOfWritesAndResetsTheCounter() {
        try (EventFd efd = EventFd.create(true)) {
            efd.signal();
            efd.signal();
            efd.write(40);
            assertEquals(42, efd.read());
            assertEquals(0, efd.read());
        }
    }

    @Test
    void nonBlockingReadOfAnEmptyCounterReturnsZero() {
        try (EventFd efd = EventFd.create(true)) {
            assertEquals(0, efd.read());
        }
    }

    @Test
    void blockingReadWaitsForASignal() throws Exception {
        try (EventFd efd = EventFd.create(false)) {
            Thread signaller = Thread.ofPlatform().start(() -> {
                sleep(50);
                efd.signal();
            });
            assertEquals(1, efd.read());
            signaller.join();
        }
    }

    @Test
    void signalFromSeveralThreadsCountsEverySignal() throws Exception {
        int threads = 4;
        int perThread = 10_000;
        try (EventFd efd = EventFd.create(true)) {
            Thread[] workers = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                workers[t] = Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < perThread; i++) {
                        efd.signal();
                    }
                });
            }
            long total = 0;
            for (Thread w : workers) {
                w.join();
            }
            total += efd.read();
            assertEquals((long) threads * perThread, total);
        }
    }

    @Test
    void closeIsIdempotent() {
        EventFd efd = EventFd.create(true);
        efd.close();
        assertDoesNotThrow(efd::close);
    }

    @Test
    void wrapAdoptsAnExistingFd() {
        try (EventFd original = EventFd.create(true)) {
            EventFd view = EventFd.wrap(original.fd());
            view.signal();
            assertEquals(1, original.read());
            assertTrue(view.fd() >= 0);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.ringway.vhost.backend;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A back-end process for the two-process test: serves the echo device on the socket path given as
 * the first argument, prints READY, and runs until its stdin closes.
 */
public final class BackendMain {
    private BackendMain() {
    }

    public static void main(String[] args) throws IOException {
        try (Lcore lcore = Lcore.builder("child").idlePolicy(IdlePolicy.backoff()).start();
             VhostUserBackend backend = VhostUserBackend.builder(new EchoDevice(2, 1024), lcore)
                     .name("child").listen(Path.of(args[0]))) {
            System.out.println("READY " + backend.path());
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the parent to close our stdin
            }
            System.out.println("SESSIONS " + backend.sessions() + " ENDED " + backend.endedSessions());
            System.out.flush();
        }
    }
}

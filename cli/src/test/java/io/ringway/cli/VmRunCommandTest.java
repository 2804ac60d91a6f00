package io.ringway.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ringway vm run} rejects what it cannot run with one line naming the problem, before touching KVM. */
class VmRunCommandTest {
    private record Outcome(int code, String err) {
    }

    private static Outcome run(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = new CommandLine(new VmCommand()).execute(args);
            return new Outcome(code, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void anUnknownGuestIsNamed() {
        Outcome o = run("run", "--guest", "linux");
        assertEquals(2, o.code());
        assertEquals("unknown guest 'linux' (known: blk-driver, net-loop)", o.err().strip());
    }

    @Test
    void moreThanOneVcpuIsRefusedForADriverLoop() {
        Outcome o = run("run", "--guest", "blk-driver", "--cpus", "2");
        assertEquals(2, o.code());
        assertEquals("--cpus 2: the blk-driver guest runs on 1 vCPU", o.err().strip());
    }

    @Test
    void aNetDeviceOtherThanLoopIsRefused() {
        Outcome o = run("run", "--guest", "net-loop", "--net", "vhost:/tmp/x.sock");
        assertEquals(2, o.code());
        assertTrue(o.err().startsWith("--net vhost:/tmp/x.sock: only 'loop' is known"), o.err());
    }

    @Test
    void aBadRequestSizeIsNamedBeforeKvmIsOpened() {
        Outcome o = run("run", "--guest", "blk-driver", "--bs", "1000", "--requests", "10");
        assertEquals(2, o.code());
        assertEquals("data bytes per request must be a power of 2 in [512, 8192], got 1000", o.err().strip());
    }
}

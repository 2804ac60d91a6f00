package io.ringway.vcpu.devices;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import io.ringway.vcpu.exit.IoBus;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Power-off, reset and debug exit through the ports a Linux guest uses. */
class PlatformPortsTest {
    private final AtomicInteger requests = new AtomicInteger();
    private final GuestExit exit = new GuestExit(requests::incrementAndGet);
    private final IoBus io = new IoBus();

    PlatformPortsTest() {
        new PlatformPorts(exit).register(io);
    }

    @Test
    void s5WithSlpEnOnTheSleepControlRegisterPowersOff() {
        io.write(0x600, 1, 5 << 2); // SLP_TYP without SLP_EN: nothing
        assertEquals(GuestExit.Kind.NONE, exit.kind());
        io.write(0x600, 1, 0x20 | 5 << 2);
        assertEquals(GuestExit.Kind.POWER_OFF, exit.kind());
        assertEquals(0, exit.status());
        assertEquals(1, requests.get());
    }

    @Test
    void anotherSleepStateIsNotPowerOff() {
        io.write(0x600, 1, 0x20 | 3 << 2);
        assertEquals(GuestExit.Kind.NONE, exit.kind());
    }

    @Test
    void i8042PulseResetIsAReset() {
        assertEquals(0, io.read(0x64, 1), "status: input buffer empty, so kb_wait ends");
        io.write(0x64, 1, 0xd1);
        assertEquals(GuestExit.Kind.NONE, exit.kind());
        io.write(0x64, 1, 0xfe);
        assertEquals(GuestExit.Kind.RESET, exit.kind());
    }

    @Test
    void cf9ResetsOnlyWithRstCpu() {
        io.write(0xcf9, 1, 0x02);
        assertEquals(GuestExit.Kind.NONE, exit.kind());
        assertEquals(0x02, io.read(0xcf9, 1));
        io.write(0xcf9, 1, 0x06);
        assertEquals(GuestExit.Kind.RESET, exit.kind());
    }

    @Test
    void theDebugExitPortPassesItsValueAsTheStatusAndTheFirstRequestWins() {
        io.write(0x501, 1, 42);
        io.write(0x600, 1, 0x34);
        assertEquals(GuestExit.Kind.DEBUG_EXIT, exit.kind());
        assertEquals(42, exit.status());
        assertEquals(1, requests.get(), "the callback runs once");
    }
}

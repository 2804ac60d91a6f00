package io.ringway.vcpu.devices;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The 8250/16550A registers as Linux's 8250 driver probes and uses them. */
class Serial8250Test {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final AtomicInteger irqs = new AtomicInteger();
    private final Serial8250 uart = new Serial8250(out, irqs::incrementAndGet);

    @Test
    void thrWritesReachTheOutput() {
        for (byte b : "hi\n".getBytes(StandardCharsets.US_ASCII)) {
            uart.write(0, 1, b);
        }
        assertEquals("hi\n", out.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void aPartialLineIsHeldUntilFlushAndALongLineIsCutAt256Bytes() {
        uart.write(0, 1, 'x');
        assertEquals("", out.toString(StandardCharsets.US_ASCII));
        uart.flush();
        assertEquals("x", out.toString(StandardCharsets.US_ASCII));
        for (int i = 0; i < 256; i++) {
            uart.write(0, 1, 'y');
        }
        assertEquals(257, out.size(), "a full buffer is written without waiting for a newline");
    }

    @Test
    void lsrAlwaysSaysTransmitterEmpty() {
        assertEquals(0x60, uart.read(5, 1) & 0x60, "THRE | TEMT: the driver's polling write never waits");
        assertEquals(0, uart.read(5, 1) & 0x01, "no received data");
    }

    @Test
    void dlabSwitchesOffsets0And1ToTheDivisorLatch() {
        uart.write(3, 1, 0x80);
        uart.write(0, 1, 0x01);
        uart.write(1, 1, 0x00);
        uart.write(3, 1, 0x03);
        assertEquals("", out.toString(StandardCharsets.US_ASCII), "a DLL write is not output");
        uart.write(3, 1, 0x83);
        assertEquals(0x01, uart.read(0, 1));
        assertEquals(0x83, uart.read(3, 1));
    }

    @Test
    void ierKeepsItsLowFourBitsAsTheProbeExpects() {
        uart.write(1, 1, 0x00);
        assertEquals(0, uart.read(1, 1));
        uart.write(1, 1, 0xff);
        assertEquals(0x0f, uart.read(1, 1));
    }

    @Test
    void loopbackMirrorsMcrIntoMsrSoTheProbeReads0x90() {
        uart.write(4, 1, 0x10 | 0x0a); // LOOP | RTS | OUT2, what autoconfig writes
        assertEquals(0x90, uart.read(6, 1) & 0xf0);
        uart.write(0, 1, 'x');
        assertEquals("", out.toString(StandardCharsets.US_ASCII), "loopback output stays inside the UART");
    }

    @Test
    void fifoEnableShowsIn0xC0OfIir() {
        assertEquals(0x01, uart.read(2, 1));
        uart.write(2, 1, 0x01);
        assertEquals(0xc1, uart.read(2, 1), "16550A: FIFOs enabled, nothing pending");
    }

    @Test
    void enablingTheThrInterruptRaisesItAndReadingIirClearsIt() {
        uart.write(1, 1, 0x02);
        assertEquals(1, irqs.get());
        assertEquals(0x02, uart.read(2, 1), "THR empty pending");
        assertEquals(0x01, uart.read(2, 1), "cleared by the read");
        uart.write(0, 1, 'a');
        assertEquals(2, irqs.get(), "the next byte sent makes THR empty again");
        uart.write(0, 1, 'b');
        assertEquals(2, irqs.get(), "no second edge while the first is still pending");
        assertEquals(0x02, uart.read(2, 1));
    }

    @Test
    void noInterruptWhileTheThrInterruptIsDisabled() {
        uart.write(0, 1, 'a');
        assertEquals(0, irqs.get());
        assertEquals(0x01, uart.read(2, 1));
        uart.write(1, 1, 0x02);
        assertEquals(1, irqs.get(), "enabling with a pending THR-empty still raises it");
    }
}

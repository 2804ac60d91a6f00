package io.ringway.vcpu.devices;

import java.io.IOException;
import java.io.OutputStream;

import io.ringway.vcpu.exit.BusDevice;

/**
 * A 16550A UART (8250 family) at an I/O base, enough of it for Linux's 8250 driver, earlyprintk and
 * earlycon: transmit only (the receiver never has data), THR-empty interrupts, the loopback test of
 * the driver's probe, FIFO detection. Registers (offset from the base; DLAB is LCR bit 7):
 *
 * <pre>
 * 0  read: RBR (DLAB 0) / DLL (DLAB 1)    write: THR (DLAB 0) / DLL (DLAB 1)
 * 1  IER (DLAB 0) / DLM (DLAB 1)          IER bit 1 = ETBEI, THR-empty interrupt enable
 * 2  read: IIR (bits 7:6 = 11 with FIFOs on; 0x01 nothing pending, 0x02 THR empty)   write: FCR
 * 3  LCR   4  MCR (bit 4 = loopback)   5  LSR (THRE | TEMT always: output is instant)
 * 6  MSR (in loopback: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2; else CTS|DSR|DCD)   7  SCR
 * </pre>
 *
 * The interrupt is an edge ({@code irq} is called when a THR-empty condition becomes pending, as an
 * irqfd pulse does for an ISA line): the driver reads IIR in its handler, which clears it.
 * Output bytes are collected per line (or 256 bytes) and written to {@code out} with a flush.
 *
 * <p>Register accesses are synchronized: with SMP any vCPU thread may touch the UART (the guest's
 * port lock orders them, the monitor makes each thread see the others' state). Uncontended, a few
 * nanoseconds against the microseconds of the port exit itself.
 */
public final class Serial8250 implements BusDevice {
    public static final int COM1 = 0x3f8;
    public static final int COM1_IRQ = 4;
    public static final int REGISTERS = 8;

    static final int IER_THRI = 0x02;
    static final int IIR_NONE = 0x01;
    static final int IIR_THRI = 0x02;
    static final int IIR_FIFO = 0xc0;
    static final int LSR_THRE = 0x20;
    static final int LSR_TEMT = 0x40;
    static final int MCR_LOOP = 0x10;
    static final int LCR_DLAB = 0x80;

    private final OutputStream out;
    private final Runnable irq;
    private int ier;
    private int lcr;
    private int mcr;
    private int scr;
    private int dll = 0x0c; // 9600 baud, what the BIOS leaves
    private int dlm;
    private boolean fifo;
    private boolean thriPending;
    private IOException outputFailure;
    private final byte[] line = new byte[256];
    private int lineLength;

    /** @param irq raises the UART's interrupt line once (an edge); called on the vCPU thread */
    public Serial8250(OutputStream out, Runnable irq) {
        this.out = out;
        this.irq = irq;
    }

    @Override
    public synchronized long read(long offset, int size) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        return switch ((int) offset) {
            case 0 -> dlab ? dll : 0;
            case 1 -> dlab ? dlm : ier;
            case 2 -> {
                int iir = IIR_NONE;
                if (thriPending && (ier & IER_THRI) != 0) {
                    iir = IIR_THRI;
                    thriPending = false; // 16550 datasheet: reading IIR with THRE as the source clears it
                }
                yield iir | (fifo ? IIR_FIFO : 0);
            }
            case 3 -> lcr;
            case 4 -> mcr;
            case 5 -> LSR_THRE | LSR_TEMT;
            case 6 -> msr();
            case 7 -> scr;
            default -> 0xff;
        };
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) (value & 0xff);
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch ((int) offset) {
            case 0 -> {
                if (dlab) {
                    dll = v;
                } else {
                    transmit(v);
                }
            }
            case 1 -> {
                if (dlab) {
                    dlm = v;
                } else {
                    boolean enabling = (v & IER_THRI) != 0 && (ier & IER_THRI) == 0;
                    ier = v & 0x0f;
                    if (enabling) {
                        thriPending = true; // the THR is empty: enabling ETBEI raises the interrupt at once
                        irq.run();
                    }
                }
            }
            case 2 -> fifo = (v & 0x01) != 0;
            case 3 -> lcr = v;
            case 4 -> mcr = v & 0x1f;
            case 7 -> scr = v;
            default -> {
                // LSR and MSR are read-only
            }
        }
    }

    private void transmit(int b) {
        if ((mcr & MCR_LOOP) == 0 && outputFailure == null) {
            line[lineLength++] = (byte) b;
            if (b == '\n' || lineLength == line.length) {
                writeLine();
            }
        }
        thrEmpty();
    }

    /** Hands the buffered line to the sink: one write per line, not per byte (each byte is a guest exit already). */
    private void writeLine() {
        try {
            out.write(line, 0, lineLength);
            out.flush();
        } catch (IOException e) {
            outputFailure = e; // the console sink broke: drop output, keep the guest running
        }
        lineLength = 0;
    }

    private void thrEmpty() {
        if (!thriPending) {
            thriPending = true;
            if ((ier & IER_THRI) != 0) {
                irq.run();
            }
        }
    }

    private int msr() {
        if ((mcr & MCR_LOOP) != 0) {
            return (mcr & 0x02) << 3 | (mcr & 0x01) << 5 | (mcr & 0x04) << 4 | (mcr & 0x08) << 4;
        }
        return 0xb0; // DCD | DSR | CTS: a cable with a listener
    }

    /** Writes out a partial line and flushes; returns the failure that stopped the output, if any. Call on the vCPU thread or after the run. */
    public synchronized IOException flush() {
        if (lineLength > 0 && outputFailure == null) {
            writeLine();
        }
        try {
            out.flush();
        } catch (IOException e) {
            if (outputFailure == null) {
                outputFailure = e;
            }
        }
        return outputFailure;
    }
}

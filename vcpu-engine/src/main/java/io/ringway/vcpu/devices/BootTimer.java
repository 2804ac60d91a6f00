package io.ringway.vcpu.devices;

import io.ringway.vcpu.exit.BusDevice;

/**
 * The boot-timer port: the guest's init writes any byte to it (from a shell:
 * {@code printf '\173' | dd of=/dev/port bs=1 seek=1088 count=1 2>/dev/null}, 1088 = 0x440) and
 * the VMM records when, to report the time from its own start to init — the figure Firecracker
 * publishes (its boot timer is an MMIO write of 123; a port is simpler to reach from busybox).
 * Reads return 0. The first write counts.
 */
public final class BootTimer implements BusDevice {
    public static final int PORT = 0x440;

    private final long startNanos;
    private volatile long firstWriteNanos = -1;

    /** @param startNanos the {@link System#nanoTime()} the boot is measured from */
    public BootTimer(long startNanos) {
        this.startNanos = startNanos;
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (firstWriteNanos < 0) {
            firstWriteNanos = System.nanoTime();
        }
    }

    /** The {@link System#nanoTime()} of the guest's first write, or -1 when it has not written. */
    public long firstWriteNanos() {
        return firstWriteNanos;
    }

    /** Nanoseconds from the start to the guest's first write, or -1 when it has not written. */
    public long elapsedNanos() {
        long t = firstWriteNanos;
        return t < 0 ? -1 : t - startNanos;
    }
}

package io.ringway.vcpu.exit;

/**
 * A device on an {@link IoBus} or {@link MmioBus}. Called on the vCPU thread, inside the exit that
 * the guest's access caused: keep it short and allocation-free. Values are little-endian, in the
 * low {@code size} bytes.
 */
public interface BusDevice {
    /** The guest reads {@code size} bytes at {@code offset} from the device's base. */
    long read(long offset, int size);

    /** The guest writes {@code size} bytes of {@code value} at {@code offset} from the device's base. */
    void write(long offset, int size, long value);

    /** A write-only device that runs {@code action} on every write and reads as 0 (a guest's "done" port). */
    static BusDevice onWrite(Runnable action) {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                action.run();
            }
        };
    }
}

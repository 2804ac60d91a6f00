package io.ringway.vcpu.pci;

/**
 * One PCI function on a {@link PciBus}: the SPI a device implements. The bus routes the guest's
 * configuration cycles to {@link #config()} (masks, BAR probing and the capability list live there)
 * and tells the device after each write; accesses inside a BAR that the guest enabled and placed
 * come to {@link #barRead}/{@link #barWrite} with the offset from the BAR's base.
 *
 * <p>Calls come from vCPU threads. Configuration calls are serialized by the bus; BAR accesses are
 * not (several vCPUs may touch a BAR at once): the device synchronizes what it shares.
 */
public interface PciDevice {
    /** The function's 256-byte configuration space. */
    PciConfigSpace config();

    /**
     * Before the guest reads {@code size} bytes at {@code offset} of the configuration space: a device
     * whose configuration bytes mirror something else (virtio's pci_cfg window) refreshes them here.
     */
    default void configReading(int offset, int size) {
    }

    /** After the guest wrote {@code size} bytes at {@code offset} of the configuration space. */
    default void configWritten(int offset, int size) {
    }

    /** The guest reads {@code size} bytes at {@code offset} in BAR {@code bar}; all ones unless the device says otherwise. */
    default long barRead(int bar, long offset, int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    /** The guest writes {@code size} bytes of {@code value} at {@code offset} in BAR {@code bar}; ignored unless the device says otherwise. */
    default void barWrite(int bar, long offset, int size, long value) {
    }

    /**
     * BAR {@code bar} now decodes at guest-physical (or port) {@code base}: the guest enabled its space
     * in the command register and programmed an address that fits. Called by the bus under its lock.
     */
    default void barMapped(int bar, long base) {
    }

    /** BAR {@code bar} no longer decodes at {@code base} (moved, space disabled). Called by the bus under its lock. */
    default void barUnmapped(int bar, long base) {
    }
}

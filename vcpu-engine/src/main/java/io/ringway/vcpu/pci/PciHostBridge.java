package io.ringway.vcpu.pci;

/**
 * The host bridge at bus 0, device 0, function 0: class 06/00/00 (bridge, host bridge), no BARs, no
 * interrupt. Its ids are QEMU's generic PCIe host bridge, 1b36:0008 (docs/specs/pci-ids.rst: Red
 * Hat's vendor id 1b36 for QEMU's virtual devices): Linux has no driver or quirk bound to it, so no
 * AGP/GART or chipset code runs against it. Its presence on bus 0 is also what Linux's check of the
 * type-1 mechanism looks for (arch/x86/pci/direct.c pci_sanity_check: a host bridge or VGA class).
 */
public final class PciHostBridge implements PciDevice {
    public static final int VENDOR_ID = 0x1b36;
    public static final int DEVICE_ID = 0x0008;
    /** Base class 06 (bridge), sub-class 00 (host), programming interface 00. */
    public static final int CLASS_HOST_BRIDGE = 0x06_00_00;

    private final PciConfigSpace config = new PciConfigSpace(VENDOR_ID, DEVICE_ID, CLASS_HOST_BRIDGE, 0, 0, 0);

    @Override
    public PciConfigSpace config() {
        return config;
    }
}

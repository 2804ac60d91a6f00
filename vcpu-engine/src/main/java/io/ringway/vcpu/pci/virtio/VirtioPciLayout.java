package io.ringway.vcpu.pci.virtio;

/**
 * Where Ringway's virtio-pci modern function (virtio 1.2, 4.1) keeps things: the register offsets of
 * the common configuration structure (4.1.4.3), the capability types (4.1.4), and the layout of the
 * one memory BAR that holds every structure, the MSI-X table and the PBA.
 *
 * <pre>
 * BAR 0 (64-bit memory, not prefetchable: ISR reads have side effects), 32 KiB
 * 0x0000  common configuration   0x3c bytes
 * 0x1000  ISR status             1 byte
 * 0x2000  device configuration   device-specific size (at most 4 KiB)
 * 0x3000  notifications          queue q at q * 4 (notify_off_multiplier 4, queue_notify_off q)
 * 0x4000  MSI-X table            16 bytes per vector: vector q for queue q, the last for config changes
 * 0x5000  MSI-X PBA              one bit per vector, 8-byte words
 *
 * config space capabilities, chained from 0x34
 * 0x40  vendor (0x09) COMMON_CFG  16 bytes: cap_vndr cap_next cap_len cfg_type bar id padding[2] offset length
 * 0x50  vendor (0x09) NOTIFY_CFG  20 bytes: the above + notify_off_multiplier
 * 0x64  vendor (0x09) ISR_CFG     16 bytes
 * 0x74  vendor (0x09) DEVICE_CFG  16 bytes (only with a device configuration)
 * 0x84  MSI-X (0x11)              12 bytes: message control, table offset|BIR, PBA offset|BIR
 * 0x90  vendor (0x09) PCI_CFG     20 bytes: a window into the BAR through config space (4.1.4.9):
 *                                 the driver writes bar, offset, length, then reads or writes pci_cfg_data
 * </pre>
 * (0x10 less for each offset after a missing DEVICE_CFG.)
 */
public final class VirtioPciLayout {
    private VirtioPciLayout() {
    }

    /** The PCI vendor id of virtio functions; the device id is 0x1040 + the virtio device id (4.1.2). */
    public static final int VENDOR_ID = 0x1af4;
    public static final int DEVICE_ID_BASE = 0x1040;
    /** Non-transitional devices have revision 1 or higher (4.1.2.1). */
    public static final int REVISION = 1;

    // ---- capability types (4.1.4 cfg_type)
    public static final int CAP_COMMON_CFG = 1;
    public static final int CAP_NOTIFY_CFG = 2;
    public static final int CAP_ISR_CFG = 3;
    public static final int CAP_DEVICE_CFG = 4;
    public static final int CAP_PCI_CFG = 5;
    /** PCI capability ids. */
    public static final int PCI_CAP_VENDOR = 0x09;
    public static final int PCI_CAP_MSIX = 0x11;
    /** struct virtio_pci_cap, and virtio_pci_notify_cap with its multiplier. */
    public static final int CAP_LENGTH = 16;
    public static final int NOTIFY_CAP_LENGTH = 20;
    public static final int MSIX_CAP_LENGTH = 12;
    public static final int PCI_CFG_CAP_LENGTH = 20;
    /** Offsets in a virtio capability (struct virtio_pci_cap) and in the pci_cfg capability. */
    public static final int CAP_BAR = 4;
    public static final int CAP_OFFSET = 8;
    public static final int CAP_LENGTH_FIELD = 12;
    public static final int CAP_PCI_CFG_DATA = 16;

    // ---- BAR layout
    public static final int BAR = 0;
    public static final long BAR_SIZE = 0x8000;
    public static final int COMMON = 0x0000;
    public static final int COMMON_LENGTH = 0x3c;
    public static final int ISR = 0x1000;
    public static final int DEVICE = 0x2000;
    public static final int DEVICE_MAX = 0x1000;
    public static final int NOTIFY = 0x3000;
    public static final int NOTIFY_OFF_MULTIPLIER = 4;
    public static final int MSIX_TABLE = 0x4000;
    public static final int MSIX_PBA = 0x5000;
    /** Table and PBA each get 4 KiB: 256 vectors. */
    public static final int MSIX_MAX_VECTORS = 256;

    // ---- common configuration (4.1.4.3), offsets in the structure
    public static final int DEVICE_FEATURE_SELECT = 0x00;
    public static final int DEVICE_FEATURE = 0x04;
    public static final int DRIVER_FEATURE_SELECT = 0x08;
    public static final int DRIVER_FEATURE = 0x0c;
    public static final int CONFIG_MSIX_VECTOR = 0x10;
    public static final int NUM_QUEUES = 0x12;
    public static final int DEVICE_STATUS = 0x14;
    public static final int CONFIG_GENERATION = 0x15;
    public static final int QUEUE_SELECT = 0x16;
    public static final int QUEUE_SIZE = 0x18;
    public static final int QUEUE_MSIX_VECTOR = 0x1a;
    public static final int QUEUE_ENABLE = 0x1c;
    public static final int QUEUE_NOTIFY_OFF = 0x1e;
    public static final int QUEUE_DESC = 0x20;
    public static final int QUEUE_DRIVER = 0x28;
    public static final int QUEUE_DEVICE = 0x30;
    public static final int QUEUE_NOTIFY_DATA = 0x38;
    public static final int QUEUE_RESET = 0x3a;

    /** "No vector" for config_msix_vector and queue_msix_vector (4.1.5.1.2). */
    public static final int NO_VECTOR = 0xffff;

    // ---- device status bits (2.1)
    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_NEEDS_RESET = 64;
    public static final int STATUS_FAILED = 128;

    // ---- ISR status bits (4.1.4.5)
    public static final int ISR_QUEUE = 1;
    public static final int ISR_CONFIG = 2;

    // ---- feature bits (6)
    public static final int F_RING_PACKED = 34;
    public static final int F_VERSION_1 = 32;

    // ---- MSI-X (PCI 3.0, 6.8.2)
    /** Message control bit 15: MSI-X enable. */
    public static final int MSIX_ENABLE = 0x8000;
    /** Message control bit 14: function mask. */
    public static final int MSIX_FUNCTION_MASK = 0x4000;
    public static final int MSIX_ENTRY_SIZE = 16;
    /** Vector control bit 0: the entry is masked. */
    public static final int MSIX_ENTRY_MASKED = 1;
}

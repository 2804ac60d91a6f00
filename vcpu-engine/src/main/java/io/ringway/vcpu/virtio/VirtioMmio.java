package io.ringway.vcpu.virtio;

/**
 * The virtio-mmio register layout, version 2 (virtio 1.2, 4.2.2): offsets from the device's base
 * address, all registers 32 bits wide, little-endian; device configuration space from 0x100.
 *
 * <pre>
 *  0x000 MagicValue "virt"   R      0x050 QueueNotify          W  (an ioeventfd: no exit)
 *  0x004 Version (2)         R      0x060 InterruptStatus      R
 *  0x008 DeviceID            R      0x064 InterruptACK         W
 *  0x00c VendorID            R      0x070 Status               RW
 *  0x010 DeviceFeatures      R      0x080 QueueDescLow/High    W  (0x084)
 *  0x014 DeviceFeaturesSel   W      0x090 QueueDriverLow/High  W  (0x094)
 *  0x020 DriverFeatures      W      0x0a0 QueueDeviceLow/High  W  (0x0a4)
 *  0x024 DriverFeaturesSel   W      0x0ac SHMSel               W
 *  0x030 QueueSel            W      0x0b0 SHMLenLow/High       R  (0x0b4)
 *  0x034 QueueNumMax         R      0x0b8 SHMBaseLow/High      R  (0x0bc)
 *  0x038 QueueNum            W      0x0c0 QueueReset           RW
 *  0x044 QueueReady          RW     0x0fc ConfigGeneration     R
 *                                   0x100 Config               RW
 * </pre>
 */
public final class VirtioMmio {
    private VirtioMmio() {
    }

    public static final int MAGIC_VALUE = 0x000;
    public static final int VERSION = 0x004;
    public static final int DEVICE_ID = 0x008;
    public static final int VENDOR_ID = 0x00c;
    public static final int DEVICE_FEATURES = 0x010;
    public static final int DEVICE_FEATURES_SEL = 0x014;
    public static final int DRIVER_FEATURES = 0x020;
    public static final int DRIVER_FEATURES_SEL = 0x024;
    public static final int QUEUE_SEL = 0x030;
    public static final int QUEUE_NUM_MAX = 0x034;
    public static final int QUEUE_NUM = 0x038;
    public static final int QUEUE_READY = 0x044;
    public static final int QUEUE_NOTIFY = 0x050;
    public static final int INTERRUPT_STATUS = 0x060;
    public static final int INTERRUPT_ACK = 0x064;
    public static final int STATUS = 0x070;
    public static final int QUEUE_DESC_LOW = 0x080;
    public static final int QUEUE_DESC_HIGH = 0x084;
    public static final int QUEUE_DRIVER_LOW = 0x090;
    public static final int QUEUE_DRIVER_HIGH = 0x094;
    public static final int QUEUE_DEVICE_LOW = 0x0a0;
    public static final int QUEUE_DEVICE_HIGH = 0x0a4;
    public static final int SHM_SEL = 0x0ac;
    public static final int SHM_LEN_LOW = 0x0b0;
    public static final int SHM_LEN_HIGH = 0x0b4;
    public static final int SHM_BASE_LOW = 0x0b8;
    public static final int SHM_BASE_HIGH = 0x0bc;
    public static final int QUEUE_RESET = 0x0c0;
    public static final int CONFIG_GENERATION = 0x0fc;
    public static final int CONFIG = 0x100;
    /** Bytes of register space each device claims (registers plus 256 bytes of configuration space). */
    public static final int WINDOW = 0x200;

    /** "virt" in little-endian. */
    public static final int MAGIC = 0x7472_6976;
    /** The register layout of virtio 1.0 and later (1 was the legacy layout). */
    public static final int VERSION_2 = 2;
    /** Ringway's vendor ID ("RW" plus a zero pad; virtio leaves vendor IDs to the device). */
    public static final int VENDOR_RINGWAY = 0x0000_5752;

    /** InterruptStatus bit 0: a used buffer notification (virtio 1.2, 4.2.2). */
    public static final int INTERRUPT_USED_BUFFER = 1;
    /** InterruptStatus bit 1: the configuration changed (also raised with DEVICE_NEEDS_RESET). */
    public static final int INTERRUPT_CONFIG_CHANGE = 2;

    // Device status bits, virtio 1.2, 2.1.
    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_DEVICE_NEEDS_RESET = 64;
    public static final int STATUS_FAILED = 128;
}

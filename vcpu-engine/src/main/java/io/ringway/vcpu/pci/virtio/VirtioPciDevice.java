package io.ringway.vcpu.pci.virtio;

import java.util.ArrayList;
import java.util.List;

import io.ringway.vcpu.pci.PciBar;
import io.ringway.vcpu.pci.PciConfigSpace;
import io.ringway.vcpu.pci.PciDevice;

import static io.ringway.vcpu.pci.virtio.VirtioPciLayout.*;

/**
 * The virtio-pci modern transport (virtio 1.2, 4.1) for one virtio device: its PCI function (ids
 * 1af4:1040+id, revision 1), the vendor capabilities for the common, notify, ISR and device
 * configuration structures in BAR 0 and the pci_cfg window onto that BAR (4.1.4.9, for drivers that
 * cannot map it yet), the MSI-X capability with its table and PBA in the same BAR
 * (layout in {@link VirtioPciLayout}), and the common configuration registers with the rules the
 * spec gives the device:
 *
 * <ul>
 *   <li>FEATURES_OK stays set only if the driver's features are a subset of the device's and
 *       include VIRTIO_F_VERSION_1 (2.2.2, 6.1); driver features are frozen once it is set;</li>
 *   <li>a queue is configured (size, vector, addresses) while it is not enabled; queue_size accepts
 *       1..max, a power of 2 unless VIRTIO_F_RING_PACKED was negotiated (2.7); writing 0 to
 *       queue_enable is ignored (4.1.4.3.2);</li>
 *   <li>an MSI-X vector beyond the table reads back as NO_VECTOR (4.1.5.1.2);</li>
 *   <li>device_status 0 resets the device (4.1.4.3.1); DRIVER_OK hands the enabled queues to the
 *       {@link Backend}, which may refuse them: the device then sets DEVICE_NEEDS_RESET instead.</li>
 * </ul>
 *
 * Each field is accessed at its natural width (4.1.3.1; 64-bit fields as two 32-bit halves or one
 * 64-bit access); other accesses read 0, are dropped, and are counted in {@link #badAccesses()}.
 *
 * <p>Guest accesses and {@link #interruptQueue}/{@link #interruptConfig} synchronize on this object:
 * this is the control path. The data path will notify through ioeventfds on the notify region and
 * interrupt through irqfds routed per MSI-X vector (not wired yet).
 */
public final class VirtioPciDevice implements PciDevice {
    /** What the transport needs from a virtio device. */
    public interface Backend {
        /** The virtio device id (1 net, 2 block, ...; virtio 1.2, 5). */
        int deviceId();

        /** The device's feature bits; VIRTIO_F_VERSION_1 (32) must be among them. */
        long features();

        int queueCount();

        /** The largest size of queue {@code queue} (queue_size reads this after reset). */
        int maxQueueSize(int queue);

        /** Bytes of device-specific configuration (0..4096). */
        int configSize();

        long readConfig(int offset, int size);

        void writeConfig(int offset, int size, long value);

        /**
         * DRIVER_OK: the negotiated features and the queues the driver enabled. Throw
         * {@link IllegalArgumentException} naming the problem to refuse (the device reports
         * DEVICE_NEEDS_RESET).
         */
        void activate(long features, List<Queue> queues);

        /** The driver wrote {@code queue}'s notification address (the slow path; ioeventfds replace it). */
        void notify(int queue);

        /** The driver reset the device after it was activated. */
        void reset();
    }

    /**
     * Where the function's signals go besides exits: MSI-X messages and vector changes (the
     * {@link MsixTable.MessageSink} part), and the guest-physical address of the notification
     * structure whenever BAR 0 is mapped or unmapped, so that a VMM can put an ioeventfd on each
     * queue's notify address ({@code base + queue * }{@link VirtioPciLayout#NOTIFY_OFF_MULTIPLIER}).
     * Called on vCPU threads with the device's lock held.
     */
    public interface Wiring extends MsixTable.MessageSink {
        /** BAR 0's notification structure now starts at guest-physical {@code base}, or nowhere when {@code base} is -1. */
        default void notifyRegionMoved(long base) {
        }
    }

    /** One queue as the driver set it up (guest-physical addresses). */
    public record Queue(int index, int size, int msixVector, long desc, long driver, long device) {
    }

    private static final class QueueState {
        int size;
        int vector;
        boolean enabled;
        long desc;
        long driver;
        long device;
    }

    private static final System.Logger LOG = System.getLogger(VirtioPciDevice.class.getName());

    private final Backend backend;
    private final Wiring wiring;
    private final PciConfigSpace config;
    private final MsixTable msix;
    private final int msixCap;
    private final int pciCfgCap;
    private final int queueCount;
    private final QueueState[] queues;
    private final long deviceFeatures;
    private final int configSize;
    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private long driverFeatures;
    private int status;
    private int configGeneration;
    private int configVector;
    private int queueSelect;
    private int isr;
    private boolean active;
    private long badAccesses;
    private String failure;
    /** Counts activations: a data-plane failure reported for an earlier one is stale. */
    private int activation;

    /**
     * @param classCode the PCI class for the device type (0x020000 Ethernet, 0x010000 SCSI/storage ...)
     * @param sink      where MSI-X messages go
     */
    public VirtioPciDevice(Backend backend, int classCode, MsixTable.MessageSink sink) {
        this(backend, classCode, (Wiring) sink::send);
    }

    /**
     * @param classCode the PCI class for the device type
     * @param wiring    where MSI-X messages go, told of vector changes and of BAR 0 moves
     */
    public VirtioPciDevice(Backend backend, int classCode, Wiring wiring) {
        this.backend = backend;
        this.wiring = wiring;
        this.queueCount = backend.queueCount();
        this.deviceFeatures = backend.features();
        this.configSize = backend.configSize();
        int id = backend.deviceId();
        if (id < 1 || id > 0xff) {
            throw new IllegalArgumentException("virtio device id must be 1..255, got " + id);
        }
        if ((deviceFeatures & 1L << F_VERSION_1) == 0) {
            throw new IllegalArgumentException("a modern virtio-pci device must offer VIRTIO_F_VERSION_1 (bit 32)");
        }
        if (queueCount < 1 || queueCount + 1 > MSIX_MAX_VECTORS) {
            throw new IllegalArgumentException("queue count must be 1.." + (MSIX_MAX_VECTORS - 1) + " (one MSI-X vector each plus config), got " + queueCount);
        }
        if (configSize < 0 || configSize > DEVICE_MAX) {
            throw new IllegalArgumentException("device configuration size must be 0.." + DEVICE_MAX + ", got " + configSize);
        }
        this.queues = new QueueState[queueCount];
        for (int q = 0; q < queueCount; q++) {
            int max = backend.maxQueueSize(q);
            if (max < 1 || max > 32768) {
                throw new IllegalArgumentException("queue " + q + " maximum size must be 1..32768, got " + max);
            }
            queues[q] = new QueueState();
        }
        int deviceId = DEVICE_ID_BASE + id;
        this.config = new PciConfigSpace(VENDOR_ID, deviceId, classCode, REVISION, VENDOR_ID, deviceId).interruptPin(1);
        config.addBar(new PciBar(BAR, PciBar.Kind.MEMORY64, BAR_SIZE, false));
        config.addCapability(PCI_CAP_VENDOR, virtioCap(CAP_LENGTH, CAP_COMMON_CFG, COMMON, COMMON_LENGTH, -1), null);
        config.addCapability(PCI_CAP_VENDOR, virtioCap(NOTIFY_CAP_LENGTH, CAP_NOTIFY_CFG, NOTIFY, queueCount * NOTIFY_OFF_MULTIPLIER,
            NOTIFY_OFF_MULTIPLIER), null);
        config.addCapability(PCI_CAP_VENDOR, virtioCap(CAP_LENGTH, CAP_ISR_CFG, ISR, 1, -1), null);
        if (configSize > 0) {
            config.addCapability(PCI_CAP_VENDOR, virtioCap(CAP_LENGTH, CAP_DEVICE_CFG, DEVICE, configSize, -1), null);
        }
        int vectors = queueCount + 1;
        this.msix = new MsixTable(vectors, wiring);
        byte[] body = new byte[MSIX_CAP_LENGTH - 2];
        putLe(body, 0, 2, vectors - 1); // message control: table size N-1
        putLe(body, 2, 4, MSIX_TABLE | BAR); // table offset | BIR
        putLe(body, 6, 4, MSIX_PBA | BAR); // PBA offset | BIR
        byte[] writable = new byte[body.length];
        writable[1] = (byte) ((MSIX_ENABLE | MSIX_FUNCTION_MASK) >>> 8);
        this.msixCap = config.addCapability(PCI_CAP_MSIX, body, writable);
        byte[] window = virtioCap(PCI_CFG_CAP_LENGTH, CAP_PCI_CFG, 0, 0, 0); // pci_cfg_data where the multiplier would be
        byte[] windowWritable = new byte[window.length];
        windowWritable[CAP_BAR - 2] = (byte) 0xff;
        for (int i = CAP_OFFSET - 2; i < PCI_CFG_CAP_LENGTH - 2; i++) {
            windowWritable[i] = (byte) 0xff; // offset, length, pci_cfg_data
        }
        this.pciCfgCap = config.addCapability(PCI_CAP_VENDOR, window, windowWritable);
        resetState();
    }

    /** struct virtio_pci_cap after cap_vndr and cap_next (and notify_off_multiplier when {@code multiplier >= 0}). */
    private static byte[] virtioCap(int capLength, int type, int offset, int length, int multiplier) {
        byte[] b = new byte[capLength - 2];
        b[0] = (byte) capLength; // cap_len
        b[1] = (byte) type; // cfg_type
        b[2] = BAR; // bar
        b[3] = 0; // id
        putLe(b, 6, 4, offset);
        putLe(b, 10, 4, length);
        if (multiplier >= 0) {
            putLe(b, 14, 4, multiplier);
        }
        return b;
    }

    private static void putLe(byte[] b, int at, int size, long value) {
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (value >>> (8 * i));
        }
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    /** The MSI-X table (for tests and for wiring vectors to irqfds). */
    public MsixTable msix() {
        return msix;
    }

    public synchronized int status() {
        return status;
    }

    /** Why the device last set DEVICE_NEEDS_RESET, or null. */
    public synchronized String failure() {
        return failure;
    }

    /** How many times the driver brought the device to DRIVER_OK (a stamp for {@link #dataPlaneFailed}). */
    public synchronized int activation() {
        return activation;
    }

    /**
     * The data plane stopped serving activation {@code activation} of the device (a queue broke a
     * rule): DEVICE_NEEDS_RESET and a configuration change interrupt (virtio 1.2, 2.1.2). Ignored when
     * the driver has reset the device since. Any thread but the data plane's own (this takes the lock
     * the control path holds while it waits for the data plane).
     *
     * @return whether the device took it (false: not running, or reset since)
     */
    public synchronized boolean dataPlaneFailed(int activation, String why) {
        if (activation == this.activation && active) {
            needsReset(why);
            interruptConfig();
            return true;
        }
        return false;
    }

    private void needsReset(String why) {
        if ((status & STATUS_NEEDS_RESET) == 0) {
            failure = why;
            LOG.log(System.Logger.Level.ERROR, "virtio-pci device " + backend.deviceId() + ": DEVICE_NEEDS_RESET: " + why);
        }
        status |= STATUS_NEEDS_RESET;
    }

    @Override
    public void barMapped(int bar, long base) {
        if (bar == BAR) {
            wiring.notifyRegionMoved(base + NOTIFY);
        }
    }

    @Override
    public void barUnmapped(int bar, long base) {
        if (bar == BAR) {
            wiring.notifyRegionMoved(-1);
        }
    }

    /** Accesses at a wrong width or offset, dropped. */
    public synchronized long badAccesses() {
        return badAccesses;
    }

    /** The offset of the MSI-X capability in config space. */
    public int msixCapability() {
        return msixCap;
    }

    /** The offset of the VIRTIO_PCI_CAP_PCI_CFG capability in config space. */
    public int pciCfgCapability() {
        return pciCfgCap;
    }

    @Override
    public synchronized void configWritten(int offset, int size) {
        int control = msixCap + 2;
        if (offset < control + 2 && offset + size > control) {
            int value = (int) config.get(control, 2);
            msix.control((value & MSIX_ENABLE) != 0, (value & MSIX_FUNCTION_MASK) != 0);
        }
        if (touchesPciCfgData(offset, size)) {
            int length = pciCfgLength();
            if (length > 0) {
                barWrite(BAR, config.get(pciCfgCap + CAP_OFFSET, 4), length, config.get(pciCfgCap + CAP_PCI_CFG_DATA, length));
            }
        }
    }

    @Override
    public synchronized void configReading(int offset, int size) {
        if (touchesPciCfgData(offset, size)) {
            int length = pciCfgLength();
            config.put(pciCfgCap + CAP_PCI_CFG_DATA, 4,
                length > 0 ? barRead(BAR, config.get(pciCfgCap + CAP_OFFSET, 4), length) : 0);
        }
    }

    private boolean touchesPciCfgData(int offset, int size) {
        int data = pciCfgCap + CAP_PCI_CFG_DATA;
        return offset < data + 4 && offset + size > data;
    }

    /**
     * The window's access length, or 0 (counted as a bad access) when the driver broke 4.1.4.9.2:
     * cap.bar must be the BAR, cap.length 1, 2 or 4, cap.offset a multiple of it.
     */
    private int pciCfgLength() {
        int bar = (int) config.get(pciCfgCap + CAP_BAR, 1);
        long length = config.get(pciCfgCap + CAP_LENGTH_FIELD, 4);
        long offset = config.get(pciCfgCap + CAP_OFFSET, 4);
        if (bar != BAR || (length != 1 && length != 2 && length != 4) || offset % length != 0 || offset + length > BAR_SIZE) {
            badAccesses++;
            return 0;
        }
        return (int) length;
    }

    // ------------------------------------------------------------------ interrupts (device side)

    /** The device used buffers of {@code queue}: its MSI-X vector, or ISR bit 0 without MSI-X. */
    public synchronized void interruptQueue(int queue) {
        if (queue < 0 || queue >= queueCount) {
            throw new IllegalArgumentException("queue must be 0.." + (queueCount - 1) + ", got " + queue);
        }
        interrupt(queues[queue].vector, ISR_QUEUE);
    }

    /** The device configuration changed: config_generation moves, then the config vector or ISR bit 1. */
    public synchronized void interruptConfig() {
        configGeneration = (configGeneration + 1) & 0xff;
        interrupt(configVector, ISR_CONFIG);
    }

    private void interrupt(int vector, int isrBit) {
        if (msix.enabled()) {
            if (vector != NO_VECTOR) {
                msix.raise(vector);
            }
        } else {
            isr |= isrBit; // INTx: read by the driver from the ISR region (the INTx line itself is not wired yet)
        }
    }

    // ------------------------------------------------------------------ BAR 0

    @Override
    public synchronized long barRead(int bar, long offset, int size) {
        if (offset >= COMMON && offset < COMMON + COMMON_LENGTH) {
            return readCommon((int) (offset - COMMON), size);
        }
        if (offset == ISR && size == 1) {
            int value = isr;
            isr = 0; // 4.1.4.5: reading ISR status clears it
            return value;
        }
        if (offset >= DEVICE && offset + size <= DEVICE + configSize) {
            return backend.readConfig((int) (offset - DEVICE), size);
        }
        if (offset >= MSIX_TABLE && offset < MSIX_TABLE + (long) msix.vectors() * MSIX_ENTRY_SIZE) {
            return msix.readTable(offset - MSIX_TABLE, size);
        }
        if (offset >= MSIX_PBA && offset < MSIX_PBA + msix.pbaSize()) {
            return msix.readPba(offset - MSIX_PBA, size);
        }
        badAccesses++;
        return 0;
    }

    @Override
    public synchronized void barWrite(int bar, long offset, int size, long value) {
        if (offset >= COMMON && offset < COMMON + COMMON_LENGTH) {
            writeCommon((int) (offset - COMMON), size, value);
        } else if (offset >= NOTIFY && offset < NOTIFY + (long) queueCount * NOTIFY_OFF_MULTIPLIER
            && (offset - NOTIFY) % NOTIFY_OFF_MULTIPLIER == 0 && (size == 2 || size == 4)) {
            int queue = (int) ((offset - NOTIFY) / NOTIFY_OFF_MULTIPLIER);
            if (queues[queue].enabled && active) {
                backend.notify(queue);
            }
        } else if (offset >= DEVICE && offset + size <= DEVICE + configSize) {
            backend.writeConfig((int) (offset - DEVICE), size, value);
        } else if (offset >= MSIX_TABLE && offset < MSIX_TABLE + (long) msix.vectors() * MSIX_ENTRY_SIZE) {
            msix.writeTable(offset - MSIX_TABLE, size, value);
        } else {
            badAccesses++; // ISR and PBA are read-only; the rest of the BAR is empty
        }
    }

    // ------------------------------------------------------------------ common configuration

    private QueueState selected() {
        return queueSelect < queueCount ? queues[queueSelect] : null;
    }

    /** The natural width of the field at {@code offset}: 1, 2, 4, or 8 for the 64-bit queue addresses. */
    private static int width(int offset) {
        return switch (offset) {
            case DEVICE_FEATURE_SELECT, DEVICE_FEATURE, DRIVER_FEATURE_SELECT, DRIVER_FEATURE -> 4;
            case DEVICE_STATUS, CONFIG_GENERATION -> 1;
            case QUEUE_DESC, QUEUE_DRIVER, QUEUE_DEVICE -> 8;
            case QUEUE_DESC + 4, QUEUE_DRIVER + 4, QUEUE_DEVICE + 4 -> 4;
            case CONFIG_MSIX_VECTOR, NUM_QUEUES, QUEUE_SELECT, QUEUE_SIZE, QUEUE_MSIX_VECTOR, QUEUE_ENABLE,
                 QUEUE_NOTIFY_OFF, QUEUE_NOTIFY_DATA, QUEUE_RESET -> 2;
            default -> 0;
        };
    }

    private static boolean naturalAccess(int offset, int size) {
        int width = width(offset);
        return width == size || (width == 8 && size == 4);
    }

    private long readCommon(int offset, int size) {
        if (!naturalAccess(offset, size)) {
            badAccesses++;
            return 0;
        }
        QueueState q = selected();
        return switch (offset) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect;
            case DEVICE_FEATURE -> deviceFeatureSelect < 2 ? (deviceFeatures >>> (32 * deviceFeatureSelect)) & 0xffff_ffffL : 0;
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect;
            case DRIVER_FEATURE -> driverFeatureSelect < 2 ? (driverFeatures >>> (32 * driverFeatureSelect)) & 0xffff_ffffL : 0;
            case CONFIG_MSIX_VECTOR -> configVector;
            case NUM_QUEUES -> queueCount;
            case DEVICE_STATUS -> status;
            case CONFIG_GENERATION -> configGeneration;
            case QUEUE_SELECT -> queueSelect;
            case QUEUE_SIZE -> q == null ? 0 : q.size;
            case QUEUE_MSIX_VECTOR -> q == null ? NO_VECTOR : q.vector;
            case QUEUE_ENABLE -> q != null && q.enabled ? 1 : 0;
            case QUEUE_NOTIFY_OFF -> q == null ? 0 : queueSelect;
            case QUEUE_DESC, QUEUE_DESC + 4 -> q == null ? 0 : half(q.desc, offset - QUEUE_DESC, size);
            case QUEUE_DRIVER, QUEUE_DRIVER + 4 -> q == null ? 0 : half(q.driver, offset - QUEUE_DRIVER, size);
            case QUEUE_DEVICE, QUEUE_DEVICE + 4 -> q == null ? 0 : half(q.device, offset - QUEUE_DEVICE, size);
            default -> 0; // queue_notify_data (VIRTIO_F_NOTIF_CONFIG_DATA not offered), queue_reset (VIRTIO_F_RING_RESET not offered)
        };
    }

    private static long half(long value, int at, int size) {
        return size == 8 ? value : (value >>> (8 * at)) & 0xffff_ffffL;
    }

    private static long withHalf(long old, int at, int size, long value) {
        if (size == 8) {
            return value;
        }
        long shift = 8L * at;
        return (old & ~(0xffff_ffffL << shift)) | (value & 0xffff_ffffL) << shift;
    }

    private void writeCommon(int offset, int size, long value) {
        if (!naturalAccess(offset, size)) {
            badAccesses++;
            return;
        }
        int v16 = (int) (value & 0xffff);
        QueueState q = selected();
        boolean configurable = q != null && !q.enabled;
        switch (offset) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect = (int) value;
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect = (int) value;
            case DRIVER_FEATURE -> {
                if ((status & STATUS_FEATURES_OK) == 0 && driverFeatureSelect < 2) {
                    driverFeatures = withHalf(driverFeatures, 4 * driverFeatureSelect, 4, value);
                }
            }
            case CONFIG_MSIX_VECTOR -> configVector = v16 < msix.vectors() ? v16 : NO_VECTOR;
            case DEVICE_STATUS -> writeStatus((int) (value & 0xff));
            case QUEUE_SELECT -> queueSelect = v16;
            case QUEUE_SIZE -> {
                boolean packed = (driverFeatures & 1L << F_RING_PACKED) != 0;
                if (configurable && v16 >= 1 && v16 <= backend.maxQueueSize(queueSelect) && (packed || Integer.bitCount(v16) == 1)) {
                    q.size = v16;
                }
            }
            case QUEUE_MSIX_VECTOR -> {
                if (q != null) {
                    q.vector = v16 < msix.vectors() ? v16 : NO_VECTOR;
                }
            }
            case QUEUE_ENABLE -> {
                if (configurable && v16 == 1) {
                    q.enabled = true;
                }
            }
            case QUEUE_DESC, QUEUE_DESC + 4 -> {
                if (configurable) {
                    q.desc = withHalf(q.desc, offset - QUEUE_DESC, size, value);
                }
            }
            case QUEUE_DRIVER, QUEUE_DRIVER + 4 -> {
                if (configurable) {
                    q.driver = withHalf(q.driver, offset - QUEUE_DRIVER, size, value);
                }
            }
            case QUEUE_DEVICE, QUEUE_DEVICE + 4 -> {
                if (configurable) {
                    q.device = withHalf(q.device, offset - QUEUE_DEVICE, size, value);
                }
            }
            default -> badAccesses++; // read-only fields: device_feature, num_queues, config_generation, queue_notify_off, ...
        }
    }

    private void writeStatus(int value) {
        if (value == 0) {
            if (active) {
                backend.reset();
            }
            resetState();
            return;
        }
        int added = value & ~status;
        status = value | (status & STATUS_NEEDS_RESET); // the device's bit stays until the reset
        if ((added & STATUS_FEATURES_OK) != 0) {
            boolean subset = (driverFeatures & ~deviceFeatures) == 0;
            boolean modern = (driverFeatures & 1L << F_VERSION_1) != 0;
            if (!subset || !modern) {
                status &= ~STATUS_FEATURES_OK; // 3.1.1: the driver re-reads it and gives up
            }
        }
        if ((added & STATUS_DRIVER_OK) != 0 && !active) {
            if ((status & STATUS_FEATURES_OK) == 0) {
                needsReset("DRIVER_OK set without FEATURES_OK (virtio 1.2, 3.1.1)");
                return;
            }
            List<Queue> enabled = new ArrayList<>();
            for (int i = 0; i < queueCount; i++) {
                QueueState s = queues[i];
                if (s.enabled) {
                    enabled.add(new Queue(i, s.size, s.vector, s.desc, s.driver, s.device));
                }
            }
            activation++;
            try {
                backend.activate(driverFeatures, List.copyOf(enabled));
                active = true;
            } catch (IllegalArgumentException e) {
                needsReset(e.getMessage()); // 2.1.1: the device cannot go on until the driver resets it
                interruptConfig(); // 2.1.2: DRIVER_OK is set, so the driver is told
            }
        }
    }

    private void resetState() {
        status = 0;
        failure = null;
        deviceFeatureSelect = 0;
        driverFeatureSelect = 0;
        driverFeatures = 0;
        configVector = NO_VECTOR;
        queueSelect = 0;
        isr = 0;
        active = false;
        for (int i = 0; i < queueCount; i++) {
            QueueState s = queues[i];
            s.size = backend.maxQueueSize(i);
            s.vector = NO_VECTOR;
            s.enabled = false;
            s.desc = 0;
            s.driver = 0;
            s.device = 0;
        }
    }
}

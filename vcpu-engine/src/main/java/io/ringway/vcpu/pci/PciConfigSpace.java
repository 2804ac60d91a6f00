package io.ringway.vcpu.pci;

/**
 * The 256-byte configuration space of one type-0 PCI function (PCI Local Bus 3.0, 6.1), with the
 * access rules of each bit: read-only, read-write, or write-1-to-clear.
 *
 * <pre>
 * 0x00 vendor id        0x02 device id        0x04 command          0x06 status
 * 0x08 revision id      0x09 class code (prog-if, sub-class, base class)
 * 0x0c cache line size  0x0d latency timer    0x0e header type      0x0f BIST
 * 0x10..0x27 BAR 0..5   0x28 CardBus CIS      0x2c subsystem vendor id  0x2e subsystem id
 * 0x30 expansion ROM    0x34 capabilities pointer
 * 0x3c interrupt line   0x3d interrupt pin    0x3e min_gnt          0x3f max_lat
 * 0x40..0xff capabilities, each {id, next, body}, dword aligned, chained from 0x34
 * </pre>
 *
 * Writable: command bits I/O space, memory space, bus master, parity error response, SERR# enable,
 * interrupt disable (0x0547); cache line size; interrupt line; BAR address bits at and above the
 * BAR's size ({@link PciBar}); capability bytes a capability declares writable. Write-1-to-clear:
 * status error bits 8, 11..15. Everything else reads as set up and ignores writes; latency timer,
 * BIST, CardBus CIS and expansion ROM are hardwired to 0 (no ROM). Not thread-safe: the
 * {@link PciBus} serializes guest accesses.
 */
public final class PciConfigSpace {
    public static final int SIZE = 256;

    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    /** Programming interface; sub-class at 0x0a, base class at 0x0b. */
    public static final int CLASS_CODE = 0x09;
    public static final int CACHE_LINE_SIZE = 0x0c;
    public static final int LATENCY_TIMER = 0x0d;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int EXPANSION_ROM = 0x30;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;
    /** The first byte after the type-0 header: where capabilities go. */
    public static final int FIRST_CAPABILITY = 0x40;

    public static final int COMMAND_IO = 0x1;
    public static final int COMMAND_MEMORY = 0x2;
    public static final int COMMAND_BUS_MASTER = 0x4;
    public static final int COMMAND_PARITY_ERROR_RESPONSE = 0x40;
    public static final int COMMAND_SERR = 0x100;
    public static final int COMMAND_INTX_DISABLE = 0x400;
    /** The command bits a guest may set. */
    public static final int COMMAND_WRITABLE = COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER
        | COMMAND_PARITY_ERROR_RESPONSE | COMMAND_SERR | COMMAND_INTX_DISABLE;
    /** Status bit 3: the function's INTx is asserted. */
    public static final int STATUS_INTERRUPT = 0x8;
    /** Status bit 4: the capabilities pointer at 0x34 is valid. */
    public static final int STATUS_CAPABILITIES_LIST = 0x10;
    /** Status bits cleared by writing 1: master data parity error (8), signaled/received target abort (11, 12), received master abort (13), signaled system error (14), detected parity error (15). */
    public static final int STATUS_WRITE_1_TO_CLEAR = 0xf900;

    private final byte[] bytes = new byte[SIZE];
    private final byte[] writable = new byte[SIZE];
    private final byte[] writeOneToClear = new byte[SIZE];
    private final PciBar[] bars = new PciBar[PciBar.COUNT];
    private int nextCapability = FIRST_CAPABILITY;
    private int lastCapability;

    /**
     * A type-0 header with the given identity; no BARs, no capabilities, interrupt pin 0 (none).
     *
     * @param classCode 24 bits: base class, sub-class, programming interface (0x020000 is an Ethernet controller)
     */
    public PciConfigSpace(int vendorId, int deviceId, int classCode, int revision, int subsystemVendorId, int subsystemId) {
        check16("vendor id", vendorId);
        if (vendorId == 0xffff) {
            throw new IllegalArgumentException("vendor id 0xffff means 'no function' (PCI 3.0, 6.2.1)");
        }
        check16("device id", deviceId);
        check16("subsystem vendor id", subsystemVendorId);
        check16("subsystem id", subsystemId);
        if (classCode < 0 || classCode > 0xff_ffff) {
            throw new IllegalArgumentException("class code must be 24 bits, got 0x" + Integer.toHexString(classCode));
        }
        if (revision < 0 || revision > 0xff) {
            throw new IllegalArgumentException("revision id must be 8 bits, got " + revision);
        }
        put(VENDOR_ID, 2, vendorId);
        put(DEVICE_ID, 2, deviceId);
        put(REVISION_ID, 1, revision);
        put(CLASS_CODE, 3, classCode);
        put(SUBSYSTEM_VENDOR_ID, 2, subsystemVendorId);
        put(SUBSYSTEM_ID, 2, subsystemId);
        mask(writable, COMMAND, 2, COMMAND_WRITABLE);
        mask(writeOneToClear, STATUS, 2, STATUS_WRITE_1_TO_CLEAR);
        mask(writable, CACHE_LINE_SIZE, 1, 0xff);
        mask(writable, INTERRUPT_LINE, 1, 0xff);
    }

    private static void check16(String what, int value) {
        if (value < 0 || value > 0xffff) {
            throw new IllegalArgumentException(what + " must be 16 bits, got 0x" + Integer.toHexString(value));
        }
    }

    /** Sets the interrupt pin: 0 none, 1..4 INTA#..INTD#. */
    public PciConfigSpace interruptPin(int pin) {
        if (pin < 0 || pin > 4) {
            throw new IllegalArgumentException("interrupt pin must be 0 (none) or 1..4 (INTA#..INTD#), got " + pin);
        }
        put(INTERRUPT_PIN, 1, pin);
        return this;
    }

    /** Declares a BAR; its slot(s) must be free. */
    public PciBar addBar(PciBar bar) {
        int slots = bar.kind() == PciBar.Kind.MEMORY64 ? 2 : 1;
        for (int i = bar.index(); i < bar.index() + slots; i++) {
            if (bars[i] != null || (i > 0 && bars[i - 1] != null && bars[i - 1].kind() == PciBar.Kind.MEMORY64)) {
                throw new IllegalArgumentException("BAR slot " + i + " is already taken");
            }
        }
        bars[bar.index()] = bar;
        int at = BAR0 + 4 * bar.index();
        long mask = bar.addressMask();
        put(at, 4, bar.flags());
        mask(writable, at, 4, mask & 0xffff_ffffL);
        if (slots == 2) {
            mask(writable, at + 4, 4, mask >>> 32);
        }
        return bar;
    }

    /** The BAR declared at {@code index}, or null (also for the upper half of a 64-bit BAR). */
    public PciBar bar(int index) {
        if (index < 0 || index >= PciBar.COUNT) {
            throw new IllegalArgumentException("BAR index must be 0..5, got " + index);
        }
        return bars[index];
    }

    /** The address the guest programmed into BAR {@code index} (flag bits removed; 0 if never placed). */
    public long barAddress(int index) {
        PciBar bar = bar(index);
        if (bar == null) {
            throw new IllegalArgumentException("BAR " + index + " is not declared");
        }
        int at = BAR0 + 4 * index;
        long value = get(at, 4);
        if (bar.kind() == PciBar.Kind.MEMORY64) {
            value |= get(at + 4, 4) << 32;
        }
        return value & bar.addressMask();
    }

    /**
     * Appends a capability to the list: {@code id}, a next pointer (0 until another is added), then
     * {@code body}; returns its offset. {@code writableMask} (same length as body, or null for none)
     * says which body bits the guest may write. Capabilities are dword aligned from 0x40.
     */
    public int addCapability(int id, byte[] body, byte[] writableMask) {
        if (id < 1 || id > 0xff) {
            throw new IllegalArgumentException("capability id must be 1..255, got " + id);
        }
        if (writableMask != null && writableMask.length != body.length) {
            throw new IllegalArgumentException("capability 0x" + Integer.toHexString(id) + ": writable mask has "
                + writableMask.length + " bytes, body " + body.length);
        }
        int at = nextCapability;
        int length = 2 + body.length;
        if (at + length > SIZE) {
            throw new IllegalArgumentException("capability 0x" + Integer.toHexString(id) + " of " + length
                + " bytes does not fit at 0x" + Integer.toHexString(at) + " (config space ends at 0x100)");
        }
        bytes[at] = (byte) id;
        bytes[at + 1] = 0;
        System.arraycopy(body, 0, bytes, at + 2, body.length);
        if (writableMask != null) {
            System.arraycopy(writableMask, 0, writable, at + 2, body.length);
        }
        if (lastCapability == 0) {
            put(CAPABILITIES_POINTER, 1, at);
            put(STATUS, 2, get(STATUS, 2) | STATUS_CAPABILITIES_LIST);
        } else {
            bytes[lastCapability + 1] = (byte) at;
        }
        lastCapability = at;
        nextCapability = (at + length + 3) & ~3;
        return at;
    }

    /** The guest's read: {@code size} (1, 2 or 4) bytes at {@code offset}, little endian. */
    public long read(int offset, int size) {
        checkAccess(offset, size);
        return get(offset, size);
    }

    /** The guest's write: each bit lands only if writable, write-1-to-clear bits clear on 1. */
    public void write(int offset, int size, long value) {
        checkAccess(offset, size);
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            int v = (int) (value >>> (8 * i)) & 0xff;
            int old = bytes[at] & 0xff;
            int w = writable[at] & 0xff;
            int next = (old & ~w) | (v & w);
            next &= ~(v & writeOneToClear[at] & 0xff);
            bytes[at] = (byte) next;
        }
    }

    /** Device side: sets {@code size} bytes at {@code offset} whatever the guest masks say (status bits, capability state). */
    public void put(int offset, int size, long value) {
        checkRange(offset, size);
        for (int i = 0; i < size; i++) {
            bytes[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    /** Device side: {@code size} (1..8) bytes at {@code offset}, little endian. */
    public long get(int offset, int size) {
        checkRange(offset, size);
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = v << 8 | (bytes[offset + i] & 0xff);
        }
        return v;
    }

    /** Device side: lets the guest write the bits of {@code bits} in {@code size} bytes at {@code offset}. */
    public void writable(int offset, int size, long bits) {
        checkRange(offset, size);
        mask(writable, offset, size, bits);
    }

    /** The command register. */
    public int command() {
        return (int) get(COMMAND, 2);
    }

    private static void mask(byte[] masks, int offset, int size, long bits) {
        for (int i = 0; i < size; i++) {
            masks[offset + i] = (byte) (bits >>> (8 * i));
        }
    }

    private static void checkAccess(int offset, int size) {
        if (size != 1 && size != 2 && size != 4) {
            throw new IllegalArgumentException("config space access size must be 1, 2 or 4, got " + size);
        }
        checkRange(offset, size);
    }

    private static void checkRange(int offset, int size) {
        if (size < 1 || size > 8 || offset < 0 || offset + size > SIZE) {
            throw new IllegalArgumentException("config space access [0x" + Integer.toHexString(offset) + ", +" + size
                + ") outside 0x00..0xff");
        }
    }
}

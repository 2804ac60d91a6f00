package io.ringway.vcpu.kvm;

import java.util.ArrayList;
import java.util.List;

/**
 * One entry of the VM's GSI routing table (KVM_SET_GSI_ROUTING, api.rst 4.52): what happens when
 * global system interrupt {@code gsi} is raised, by KVM_IRQ_LINE or by an irqfd bound to it.
 * A GSI may have several entries (the legacy GSIs 0-15 go to both the PIC and the IOAPIC).
 */
public sealed interface GsiRoute permits GsiRoute.Irqchip, GsiRoute.Msi {
    /** The lowest vector a fixed interrupt may use: 0-15 are reserved (an APIC receiving one flags an illegal vector). */
    int MIN_VECTOR = 16;
    /** The x86 MSI address window: a message written here reaches a local APIC (SDM vol. 3A, 11.11.1). */
    long MSI_ADDRESS_BASE = 0xfee0_0000L;

    /** The GSI this entry routes. */
    int gsi();

    /**
     * {@code gsi} raises pin {@code pin} of in-kernel interrupt controller {@code irqchip}
     * ({@link KvmApi#KVM_IRQCHIP_PIC_MASTER}, {@link KvmApi#KVM_IRQCHIP_PIC_SLAVE}: pins 0-7;
     * {@link KvmApi#KVM_IRQCHIP_IOAPIC}: pins 0-23).
     */
    record Irqchip(int gsi, int irqchip, int pin) implements GsiRoute {
        public Irqchip {
            checkGsi(gsi);
            int pins = switch (irqchip) {
                case KvmApi.KVM_IRQCHIP_PIC_MASTER, KvmApi.KVM_IRQCHIP_PIC_SLAVE -> 8;
                case KvmApi.KVM_IRQCHIP_IOAPIC -> 24;
                default -> throw new IllegalArgumentException("irqchip must be 0 (PIC master), 1 (PIC slave) or 2 (IOAPIC), got " + irqchip);
            };
            if (pin < 0 || pin >= pins) {
                throw new IllegalArgumentException("irqchip " + irqchip + " has pins 0.." + (pins - 1) + ", got " + pin);
            }
        }
    }

    /** {@code gsi} sends the message signalled interrupt {@code data} to {@code address} (what a device's MSI-X table entry holds). */
    record Msi(int gsi, long address, int data) implements GsiRoute {
        public Msi {
            checkGsi(gsi);
            if ((address & ~0xf_ffffL) != MSI_ADDRESS_BASE) {
                throw new IllegalArgumentException("MSI address must lie in 0xfee00000..0xfeefffff (the local APIC window), got 0x" + Long.toHexString(address));
            }
            if ((data & 0xff) < MIN_VECTOR) {
                throw new IllegalArgumentException("MSI vector must be " + MIN_VECTOR + "..255 (0-15 are reserved), got " + (data & 0xff));
            }
        }
    }

    /** A fixed-delivery, edge-triggered MSI to the local APIC with id {@code apicId} (physical destination mode), vector {@code vector}. */
    static Msi msiToApic(int gsi, int apicId, int vector) {
        if (apicId < 0 || apicId > 255) {
            throw new IllegalArgumentException("APIC id must be 0..255 in xAPIC MSI addresses, got " + apicId);
        }
        if (vector < MIN_VECTOR || vector > 255) {
            throw new IllegalArgumentException("MSI vector must be " + MIN_VECTOR + "..255 (0-15 are reserved), got " + vector);
        }
        return new Msi(gsi, MSI_ADDRESS_BASE | (long) apicId << 12, vector);
    }

    /**
     * The table KVM_CREATE_IRQCHIP installs (kvm_setup_default_irq_routing): GSIs 0-15 to the PICs
     * (0-7 master, 8-15 slave) and the IOAPIC (GSI 0 to IOAPIC pin 2, as on a PC), GSIs 16-23 to the
     * IOAPIC. KVM_SET_GSI_ROUTING replaces the whole table: start from this to keep legacy interrupts.
     */
    static List<GsiRoute> defaultIrqchipRoutes() {
        List<GsiRoute> routes = new ArrayList<>();
        for (int gsi = 0; gsi < 24; gsi++) {
            if (gsi < 16) {
                routes.add(new Irqchip(gsi, gsi < 8 ? KvmApi.KVM_IRQCHIP_PIC_MASTER : KvmApi.KVM_IRQCHIP_PIC_SLAVE, gsi & 7));
            }
            routes.add(new Irqchip(gsi, KvmApi.KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi));
        }
        return routes;
    }

    private static void checkGsi(int gsi) {
        if (gsi < 0) {
            throw new IllegalArgumentException("GSI must be >= 0, got " + gsi);
        }
    }
}

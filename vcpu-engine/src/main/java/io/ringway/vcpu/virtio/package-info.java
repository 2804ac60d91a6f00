/**
 * virtio-mmio (virtio 1.2, 4.2, register layout version 2) for Ringway's in-process devices:
 * {@link io.ringway.vcpu.virtio.VirtioMmioTransport} puts a {@code VirtioDevice} (VirtioBlkDevice,
 * VirtioNetDevice) at a fixed guest-physical address on the MMIO bus. QueueNotify is a zero-length
 * ioeventfd (no exit) that wakes the device's own lcore; completions set InterruptStatus and signal
 * an irqfd into the in-kernel irqchip; the other registers are MMIO exits handled in Java. A driver
 * that breaks a rule gets DEVICE_NEEDS_RESET and one log line, never a crash.
 */
package io.ringway.vcpu.virtio;

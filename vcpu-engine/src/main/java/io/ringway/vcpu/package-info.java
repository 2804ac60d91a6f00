/**
 * Ringway vcpu-engine: a VMM core over /dev/kvm.
 *
 * <ul>
 *   <li>{@code kvm}: the ioctls — {@link io.ringway.vcpu.kvm.Kvm}, {@link io.ringway.vcpu.kvm.Vm},
 *       {@link io.ringway.vcpu.kvm.Vcpu} and the struct descriptors;</li>
 *   <li>{@code exit}: the run loop, exit dispatch to PIO/MMIO buses, exit statistics;</li>
 *   <li>{@code guest}: guest layout helpers (page tables, GDT, IDT, long-mode entry, GVA→GPA walker);</li>
 *   <li>{@code asm}: a small x86-64 code emitter for micro-guests;</li>
 *   <li>{@code bench}: the exit-cost suite behind {@code ringway vm exits};</li>
 *   <li>{@code boot}: booting Linux — bzImage setup header, boot_params and e820, vmlinux ELF with the PVH
 *       note, hvm_start_info, ACPI tables, {@link io.ringway.vcpu.boot.LinuxLoader} (memory) and
 *       {@link io.ringway.vcpu.boot.LinuxVm} (KVM) behind {@code ringway vm boot};</li>
 *   <li>{@code devices}: legacy PC devices — the 8250 UART, power-off/reset/debug-exit ports, the boot timer;</li>
 *   <li>{@code virtio}: the virtio-mmio transport of in-process devices (ioeventfd kicks, irqfd completions);</li>
 *   <li>{@code workload}: CPL-3 guest driver loops behind {@code ringway vm run}.</li>
 * </ul>
 */
package io.ringway.vcpu;

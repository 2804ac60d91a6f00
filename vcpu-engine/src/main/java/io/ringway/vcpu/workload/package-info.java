/**
 * Guest driver loops: CPL-3 micro-guests built with the assembler that negotiate a virtio-mmio
 * device, build split virtqueues in their own memory and move checked requests through a Ringway
 * device (blk-driver: {@link io.ringway.vcpu.workload.BlkDriverProgram}; net-loop:
 * {@link io.ringway.vcpu.workload.NetLoopProgram}), timing each with rdtsc into a shared results
 * area ({@link io.ringway.vcpu.workload.GuestResults}). {@link io.ringway.vcpu.workload.DriverLoop}
 * runs one and watches it so that it never hangs.
 */
package io.ringway.vcpu.workload;

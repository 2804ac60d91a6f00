/**
 * Ringway vcpu-engine: KVM vCPU engine (issues 6 and 8: not implemented yet).
 */
package io.ringway.vcpu;

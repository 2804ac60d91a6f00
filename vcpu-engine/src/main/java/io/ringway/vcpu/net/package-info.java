/**
 * Guest NICs of a {@code ringway vm boot} VM: {@link io.ringway.vcpu.net.NicSpec} parses a
 * {@code --net} argument ({@code switch}, {@code tap:NAME}, {@code vhost:SOCK}, each with an optional
 * {@code mac=}), {@link io.ringway.vcpu.net.GuestNics} builds the devices and what is behind them
 * (in-process {@code VirtioNetDevice}s on one net lcore with a tap or the VM's own L2 switch, or a
 * {@link io.ringway.vcpu.net.VhostUserNetDevice} in front of a vhost-user back-end), and the VM puts
 * each device on PCI bus 0 as a virtio-pci function ({@code LinuxVm.addVirtioPci}).
 */
package io.ringway.vcpu.net;

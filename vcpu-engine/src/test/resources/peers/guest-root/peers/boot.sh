#!/bin/sh
# Guest job of the Linux-boot test (kernel command line peers.run=boot): proves init ran on
# Ringway's VMM and that the console (the 8250 driver, interrupt-driven for user output) works.
echo "RINGWAY_BOOT_OK uptime=$(cut -d' ' -f1 /proc/uptime) cpus=$(grep -c ^processor /proc/cpuinfo) online=$(cat /sys/devices/system/cpu/online) mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"
# the CPU topology Linux derived from CPUID and the MADT (one package of N cores expected) and any firmware complaint
echo "RINGWAY_TOPO packages=$(sed -n 's/^physical id.*: //p' /proc/cpuinfo | sort -u | wc -l) core_ids=$(sed -n 's/^core id.*: //p' /proc/cpuinfo | tr '\n' ,) siblings=$(sed -n 's/^siblings.*: //p' /proc/cpuinfo | sort -u | tr '\n' ,) cpu_cores=$(sed -n 's/^cpu cores.*: //p' /proc/cpuinfo | sort -u | tr '\n' ,) apicids=$(sed -n 's/^apicid.*: //p' /proc/cpuinfo | tr '\n' ,) fw_bug=$(dmesg | grep -c 'Firmware Bug')"
dmesg | grep -E 'smpboot|smp: |Firmware Bug|[Tt]opology|APIC id' | sed 's/^/RINGWAY_DMESG /'
# the PCI functions Linux enumerated (none with pci=off)
for d in /sys/bus/pci/devices/*; do [ -e "$d/vendor" ] && echo "RINGWAY_PCI ${d##*/} $(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class")"; done
# the boot-timer port (0x440 = 1088): the VMM reports the time from VM creation to here
printf '\173' | dd of=/dev/port bs=1 seek=1088 count=1 2>/dev/null || echo "boot timer: /dev/port not writable"
# with peers.dmesg on the command line: the kernel's PCI/aperture lines (after the timer; every console byte is an exit)
if grep -q peers.dmesg /proc/cmdline; then
  dmesg | grep -i -E 'agp|aperture|pci|acpi.*bus|iommu' | sed 's/^/RINGWAY_DMESG /'
fi

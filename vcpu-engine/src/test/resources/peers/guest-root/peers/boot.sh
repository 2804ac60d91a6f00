#!/bin/sh
# Guest job of the Linux-boot test (kernel command line peers.run=boot): proves init ran on
# Ringway's VMM and that the console (the 8250 driver, interrupt-driven for user output) works.
echo "RINGWAY_BOOT_OK uptime=$(cut -d' ' -f1 /proc/uptime) cpus=$(grep -c ^processor /proc/cpuinfo) mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"

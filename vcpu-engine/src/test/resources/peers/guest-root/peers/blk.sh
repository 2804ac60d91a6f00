#!/bin/sh
# Guest job of the virtio-pci disk test (kernel command line peers.run=blk): the boot timer first
# (time to init with a disk), then the PCI functions, the disk, fio with crc32c verification on
# /dev/vda, and the MSI-X interrupts the disk's driver took.
printf '\173' | dd of=/dev/port bs=1 seek=1088 count=1 2>/dev/null || echo "boot timer: /dev/port not writable"
echo "RINGWAY_BOOT_OK uptime=$(cut -d' ' -f1 /proc/uptime) cpus=$(grep -c ^processor /proc/cpuinfo) online=$(cat /sys/devices/system/cpu/online)"
for d in /sys/bus/pci/devices/*; do [ -e "$d/vendor" ] && echo "RINGWAY_PCI ${d##*/} $(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class")"; done
if [ ! -b /dev/vda ]; then
  echo "RINGWAY_NO_DISK block devices: $(ls /sys/block | tr '\n' ' ')"
  dmesg | grep -i -E 'virtio|pci' | tail -20
  exit 1
fi
echo "RINGWAY_DISK sectors=$(cat /sys/block/vda/size) queues=$(ls /sys/block/vda/mq | wc -l)"
fio --name=v --filename=/dev/vda --rw=randwrite --bs=4k --size=16M --verify=crc32c --iodepth=8 \
    --ioengine=libaio --direct=1 > /tmp/fio.out 2>&1
rc=$?
# the job line (err=), throughput, and any verify complaint
grep -E 'err=|IOPS=|verify|bad' /tmp/fio.out | sed 's/^/RINGWAY_FIO /'
echo "RINGWAY_FIO_RC=$rc"
grep -E 'virtio' /proc/interrupts | tr -s ' ' | sed 's/^/RINGWAY_IRQ /'
exit $rc

#!/bin/sh
# Guest job for the QEMU vhost-user-blk interop tests (QemuVhostUserBlkTest).
# Kernel command line parameters:
#   peers.mode=verify  fio writes a crc32c-verified pattern over the first peers.mb MiB of /dev/vda
#                      (peers.jobs jobs, each on its own CPU and its own slice) and reads it back
#   peers.mode=ro      a write to /dev/vda must fail; prints the md5 of the first peers.mb MiB
#   peers.mb=16        region size in MiB;  peers.jobs=1  fio jobs (one per guest CPU)
# Result lines start with RINGWAY_ (the test parses them); the last one is RINGWAY_RESULT.
MODE=verify; MB=16; JOBS=1; LOOPS=1
for a in $(cat /proc/cmdline); do
  case $a in
    peers.mode=*) MODE=${a#peers.mode=};;
    peers.mb=*) MB=${a#peers.mb=};;
    peers.jobs=*) JOBS=${a#peers.jobs=};;
    peers.loops=*) LOOPS=${a#peers.loops=};;
  esac
done
if [ ! -b /dev/vda ]; then echo "RINGWAY_RESULT mode=$MODE error=no-vda"; exit 1; fi
echo "RINGWAY_DISK sectors=$(cat /sys/block/vda/size) ro=$(cat /sys/block/vda/ro) hwqueues=$(ls /sys/block/vda/mq | wc -l) cpus=$(grep -c ^processor /proc/cpuinfo)"

case $MODE in
verify)
  PER=$((MB / JOBS))
  echo "RINGWAY_JOB_START"
  # randwrite with mixed block sizes: fio keeps a map so no block is written twice, then reads all
  # back and checks each block's crc32c header (verify_fatal: stop at the first bad block).
  fio --name=pattern --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=16 \
      --rw=randwrite --bsrange=4k-64k --size=${PER}M --offset_increment=${PER}M --numjobs=$JOBS \
      --cpus_allowed=0-$((JOBS - 1)) --cpus_allowed_policy=split --loops=$LOOPS \
      --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=0 --group_reporting \
      --output-format=terse --terse-version=3 > /tmp/fio.out 2>&1
  rc=$?
  sed 's/^/RINGWAY_FIO /' /tmp/fio.out
  echo "RINGWAY_RESULT mode=verify fio_rc=$rc"
  ;;
ro)
  fio --name=rowrite --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=1 \
      --rw=write --bs=4k --size=64k --output-format=terse > /tmp/fio.out 2>&1
  rc=$?
  sed 's/^/RINGWAY_FIO /' /tmp/fio.out
  eio=0; grep -q "Input/output error" /tmp/fio.out && eio=1
  sum=$(dd if=/dev/vda bs=1M count=$MB iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
  echo "RINGWAY_MD5 $sum"
  echo "RINGWAY_RESULT mode=ro fio_rc=$rc eio=$eio"
  ;;
*)
  echo "RINGWAY_RESULT mode=$MODE error=unknown-mode"; exit 1;;
esac

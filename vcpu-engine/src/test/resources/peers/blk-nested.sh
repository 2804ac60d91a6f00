#!/bin/sh
# Runs inside nested-kvm.sh's L1 for LinuxBlkNestedTest: starts qemu-storage-daemon with a
# vhost-user-blk export (2 queues) of a 64 MiB raw file in L1's /tmp (a tmpfs) on $QSD_SOCK, runs the command
# (the JVM booting the guests), stops the daemon with SIGTERM and exits with the command's status.
set -u
SOCK=${QSD_SOCK:-/tmp/ringway-qsd-blk.sock}
truncate -s 64M /tmp/ringway-qsd-disk.raw
qemu-storage-daemon --blockdev driver=file,node-name=f0,filename=/tmp/ringway-qsd-disk.raw \
  --blockdev driver=raw,node-name=n0,file=f0 \
  --export type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path="$SOCK",writable=on,num-queues=2 \
  > /tmp/ringway-qsd.log 2>&1 &
QSD=$!
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$SOCK" ] || { echo "RINGWAY_QSD_MISSING no socket after 30 s:"; cat /tmp/ringway-qsd.log; }
"$@"
rc=$?
kill -TERM "$QSD" 2>/dev/null
wait "$QSD" 2>/dev/null
exit $rc

#!/bin/bash
# Race: dpdk-testpmd virtio-user txonly (CPU 1) -> {ringway net rxonly | dpdk-testpmd net_vhost0 rxonly} (CPU 0),
# 64-byte frames, busy polling, in turns (DPDK, Ringway, DPDK). Prints the per-second Rx pps of the back-end
# side and the c2c probe (core-to-core round trip) before each turn. Run as root from the repository root.
# Usage: packet-plane/bench/race_rxonly.sh [SECONDS] [extra virtio-user devargs, e.g. ,packed_vq=1]
set -u
SECS=${1:-8}; VARGS=${2:-}
D=${PEERS_DIR:-/tmp/ringway-peers}; mkdir -p $D/logs; SOCK=$D/race.sock; HUGE=$D/huge
mountpoint -q $HUGE || { mkdir -p $HUGE; mount -t hugetlbfs -o pagesize=2M nodev $HUGE; }
[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 512 ] || echo 512 > /proc/sys/vm/nr_hugepages
[ -x $D/c2c ] || gcc -O2 -pthread -o $D/c2c /work/shared/peers/c2c.c
here="$(cd "$(dirname "$0")/../.." && pwd)"

virtio_txonly() { # tag
  timeout -s INT $((SECS+2)) dpdk-testpmd --lcores '0@1,1@1' --main-lcore 0 --file-prefix rwv --huge-dir $HUGE -m 256 \
    --single-file-segments --iova-mode=va --no-pci --vdev "net_virtio_user0,path=$SOCK,queues=1$VARGS" \
    -- --total-num-mbufs=8192 --forward-mode=txonly --txpkts=64 --stats-period 1 > $D/logs/race_$1_virtio.txt 2>&1
}

dpdk_turn() {
  rm -f $SOCK $HUGE/rwh* $HUGE/rwv*
  timeout -s INT $((SECS+4)) dpdk-testpmd --lcores '0@0,1@0' --main-lcore 0 --file-prefix rwh --huge-dir $HUGE -m 256 \
    --single-file-segments --iova-mode=va --no-pci --vdev "net_vhost0,iface=$SOCK,queues=1" \
    -- --total-num-mbufs=8192 --forward-mode=rxonly --stats-period 1 > $D/logs/race_$1_vhost.txt 2>&1 &
  local p=$!
  for i in $(seq 50); do [ -S $SOCK ] && break; sleep 0.1; done
  virtio_txonly $1; wait $p
  echo "[$1] dpdk vhost rxonly Rx-pps: $(grep -E 'Rx-pps' $D/logs/race_$1_vhost.txt | awk '{print $2}' | tr '\n' ' ')"
}

ringway_turn() {
  rm -f $SOCK $HUGE/rwv*
  RINGWAY_NO_BUILD=1 timeout -s INT $((SECS+8)) "$here/ringway" net --socket $SOCK --mode rxonly --lcores 0 --idle busy \
    > $D/logs/race_$1_ringway.txt 2>&1 &
  local p=$!
  for i in $(seq 100); do [ -S $SOCK ] && break; sleep 0.1; done
  sleep 1
  virtio_txonly $1; kill -INT $p; wait $p
  echo "[$1] ringway rxonly rx Mpps: $(grep -oE 'vhost0 rx +[0-9.]+' $D/logs/race_$1_ringway.txt | awk '{print $3}' | tr '\n' ' ')"
  grep -A2 totals $D/logs/race_$1_ringway.txt
}

c2c() { echo "c2c: $($D/c2c 2>&1 | tail -1)"; }
[ "${ONLY_RINGWAY:-0}" = 1 ] || { c2c; dpdk_turn dpdk1; }
c2c; ringway_turn ringway1
[ "${ONLY_RINGWAY:-0}" = 1 ] || { c2c; dpdk_turn dpdk2; }
c2c

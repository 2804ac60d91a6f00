#!/bin/bash
# Race a Ringway role against DPDK's vhost PMD in the same role, in turns (DPDK, Ringway, DPDK), 64-byte frames.
# The back-end (ringway net, or dpdk-testpmd --vdev net_vhost0) runs on CPU 0 with a busy-polling lcore; the client
# is dpdk-testpmd --vdev net_virtio_user0 on CPU 1. The c2c probe (core-to-core round trip) is printed before
# every turn: compare only figures taken in the same machine state. Run as root from anywhere.
#   ROLE=rxonly : client txonly  -> back-end rxonly   (figure: back-end Rx pps)
#   ROLE=txonly : back-end txonly -> client rxonly     (figure: client Rx pps)
#   ROLE=macswap: client io --tx-first <-> back-end macswap (figure: client Rx pps)
# The Ringway turn starts with an unmeasured client run of WARMUP seconds (default 5, env WARMUP) so that the
# JIT has compiled the data path; the back-end process stays up and serves the measured client run next.
# Usage: packet-plane/bench/race.sh ROLE [SECONDS] [extra virtio-user devargs, e.g. ,packed_vq=1]
# RINGWAY_ARGS adds options to the Ringway back-end, e.g. RINGWAY_ARGS="--capture /dev/shm/rwcap" for the cost of
# a capture (compare with a run without it in the same machine state). The journal grows at the capture writer's
# rate for the whole run (GBs at these packet rates, not yet measured): put it where there is room, delete it after.
set -u
ROLE=${1:-rxonly}; SECS=${2:-8}; VARGS=${3:-}; WARMUP=${WARMUP:-5}
D=${PEERS_DIR:-/tmp/ringway-peers}; mkdir -p $D/logs; SOCK=$D/race.sock; HUGE=$D/huge
mountpoint -q $HUGE || { mkdir -p $HUGE; mount -t hugetlbfs -o pagesize=2M nodev $HUGE; }
# DPDK leaves its hugepage files behind when it exits or is killed, and they hold the pages.
trap 'rm -f $HUGE/rwh* $HUGE/rwv*' EXIT
[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 512 ] || echo 512 > /proc/sys/vm/nr_hugepages
here0="$(cd "$(dirname "$0")/../.." && pwd)"; [ -x $D/c2c ] || gcc -O2 -pthread -o $D/c2c "$here0/perf-harness/src/main/resources/io/ringway/perf/bench/c2c.c"
here="$(cd "$(dirname "$0")/../.." && pwd)"
case $ROLE in
  rxonly) BACK=rxonly; CLIENT="--forward-mode=txonly --txpkts=64";;
  txonly) BACK=txonly; CLIENT="--forward-mode=rxonly";;
  macswap) BACK=macswap; CLIENT="--forward-mode=io --tx-first";;
  *) echo "ROLE must be rxonly, txonly or macswap" >&2; exit 2;;
esac

client() { # tag [seconds]
  timeout -s INT $((${2:-$SECS}+2)) dpdk-testpmd --lcores '0@1,1@1' --main-lcore 0 --file-prefix rwv --huge-dir $HUGE -m 256 \
    --single-file-segments --iova-mode=va --no-pci --vdev "net_virtio_user0,path=$SOCK,queues=1$VARGS" \
    -- --total-num-mbufs=8192 $CLIENT --stats-period 1 > $D/logs/race_$1_virtio.txt 2>&1
}

figure() { # tag file
  if [ $ROLE = rxonly ]; then f=$2; else f=$D/logs/race_$1_virtio.txt; fi
  grep -E 'Rx-pps' $f | awk '{print $2}' | tr '\n' ' '
}

dpdk_turn() {
  rm -f $SOCK $HUGE/rwh* $HUGE/rwv*
  timeout -s INT $((SECS+4)) dpdk-testpmd --lcores '0@0,1@0' --main-lcore 0 --file-prefix rwh --huge-dir $HUGE -m 256 \
    --single-file-segments --iova-mode=va --no-pci --vdev "net_vhost0,iface=$SOCK,queues=1" \
    -- --total-num-mbufs=8192 --forward-mode=$BACK --txpkts=64 --stats-period 1 > $D/logs/race_$1_vhost.txt 2>&1 &
  local p=$!
  for i in $(seq 50); do [ -S $SOCK ] && break; sleep 0.1; done
  client $1; wait $p
  echo "[$1] DPDK vhost $ROLE, Rx pps per second: $(figure $1 $D/logs/race_$1_vhost.txt)"
}

ringway_turn() {
  rm -f $SOCK $HUGE/rwv*
  RINGWAY_NO_BUILD=1 timeout -s INT $((SECS+WARMUP+16)) "$here/ringway" net --socket $SOCK --mode $BACK --lcores 0 --idle busy ${RINGWAY_ARGS:-} \
    > $D/logs/race_$1_ringway.txt 2>&1 &
  local p=$!
  for i in $(seq 100); do [ -S $SOCK ] && break; sleep 0.1; done
  sleep 1
  [ "$WARMUP" -gt 0 ] && { client $1-warmup $WARMUP; sleep 1; }
  client $1; kill -INT $p; wait $p
  if [ $ROLE = rxonly ]; then
    echo "[$1] Ringway $ROLE, Rx pps per second (measured run): $(grep -E 'Rx-pps' $D/logs/race_$1_virtio.txt >/dev/null; grep -oE 'vhost0 rx +[0-9.]+' $D/logs/race_$1_ringway.txt | awk '{print $3}' | tail -n $((SECS+1)) | tr '\n' ' ') (Mpps)"
  else
    echo "[$1] Ringway $ROLE, client Rx pps per second: $(figure $1 x)"
  fi
  grep -A2 totals $D/logs/race_$1_ringway.txt
}

c2c() { echo "c2c: $($D/c2c 2>&1 | tail -1)"; }
[ "${ONLY_RINGWAY:-0}" = 1 ] || { c2c; dpdk_turn dpdk1; }
c2c; ringway_turn ringway1
[ "${ONLY_RINGWAY:-0}" = 1 ] || { c2c; dpdk_turn dpdk2; }
c2c

#!/bin/bash
# Race Ringway's L2 learning switch against OVS-DPDK in the same topology, in turns (OVS, Ringway, OVS), 64-byte frames.
# The switch has two vhost-user ports and runs on CPU 0 (Ringway: `ringway net --mode switch`, one busy lcore; OVS:
# ovs-vswitchd-dpdk, bridge datapath_type=netdev, two dpdkvhostuserclient ports, pmd-cpu-mask=0x1). ONE dpdk-testpmd
# on CPU 1 owns both ends (--vdev net_virtio_user0 and net_virtio_user1) and runs --forward-mode=mac --tx-first:
# what arrives on one port leaves on the other, addressed to the first port's MAC, so the frames circulate through
# the switch (two testpmds sharing CPU 1 as sender and receiver would measure the scheduler, not the switch).
# Figure: the sum of both testpmd ports' Rx-pps, averaged over the last SECONDS one-second periods (the first
# SETTLE periods are left out). Each OVS turn runs twice: flows "in_port=1,actions=2 / in_port=2,actions=1" and
# NORMAL (OVS's learning switch). The c2c probe (core-to-core round trip) is printed before every turn: compare
# only figures taken in the same machine state. Run as root from anywhere.
# OVS (Debian package openvswitch-switch-dpdk) is started and stopped here, with its database, sockets and logs in
# a temporary directory; nothing of it stays running. Without it only the Ringway turn runs.
# The Ringway turn starts with an unmeasured testpmd run of WARMUP seconds (default 5, env WARMUP) so that the JIT
# has compiled the data path; the switch process stays up and serves the measured run next.
# Usage: packet-plane/bench/switch-race.sh [SECONDS] [extra virtio-user devargs, e.g. ,packed_vq=1]
#   env ONLY_RINGWAY=1: skip the OVS turns; SETTLE (default 2): periods left out at the start of each run.
#   env RINGWAY_JAVA_OPTS=-Dringway.net.switch.zeroCopy=false: the Ringway turn without the switch's zero-copy path
#   (packet buffers only, the path before it), for a before/after comparison in the same machine state.
set -u
SECS=${1:-10}; VARGS=${2:-}; WARMUP=${WARMUP:-5}; SETTLE=${SETTLE:-2}
D=${PEERS_DIR:-/tmp/ringway-peers}; mkdir -p $D/logs; HUGE=$D/huge
S0=$D/switch-race-0.sock; S1=$D/switch-race-1.sock
MAC0=02:52:57:00:5e:00; MAC1=02:52:57:00:5e:01
OVSD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
here="$(cd "$(dirname "$0")/../.." && pwd)"
mountpoint -q $HUGE || { mkdir -p $HUGE; mount -t hugetlbfs -o pagesize=2M nodev $HUGE; }
[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 512 ] || echo 512 > /proc/sys/vm/nr_hugepages
[ -x $D/c2c ] || gcc -O2 -pthread -o $D/c2c "$here/perf-harness/src/main/resources/io/ringway/perf/bench/c2c.c"
OVS_TMP=""
cleanup() {
  # Stopped early (a signal): end what this script started (testpmd, ringway net, under timeout) before OVS.
  local j; j=$(jobs -p); [ -n "$j" ] && { kill -TERM $j 2>/dev/null; wait $j 2>/dev/null; }
  ovs_stop
  rm -f $S0 $S1 $HUGE/rwsw*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# testpmd on CPU 1 with both virtio-user ports. Port 0's frames carry MAC0 as source; what port 1 sends goes to MAC0
# (--eth-peer=1,MAC0) and the reverse, so a learning switch forwards every frame to exactly one port.
# SERVER=1: virtio-user listens (OVS's dpdkvhostuserclient ports connect to it); else it connects to the switch.
loop() { # tag seconds
  local srv="" p i
  [ "${SERVER:-0}" = 1 ] && srv=",server=1"
  rm -f $HUGE/rwswv*
  timeout -s INT $(($2 + SETTLE + 30)) dpdk-testpmd --lcores '0@1,1@1' --main-lcore 0 --file-prefix rwswv --huge-dir $HUGE \
    -m 256 --single-file-segments --iova-mode=va --no-pci \
    --vdev "net_virtio_user0,path=$S0,queues=1,mac=$MAC0$srv$VARGS" --vdev "net_virtio_user1,path=$S1,queues=1,mac=$MAC1$srv$VARGS" \
    -- --total-num-mbufs=16384 --nb-cores=1 --forward-mode=mac --eth-peer=0,$MAC1 --eth-peer=1,$MAC0 --tx-first \
    --stats-period 1 > $D/logs/switch_race_$1_testpmd.txt 2>&1 &
  p=$!
  # The window counts from the first period with traffic (in server mode the switch may take seconds to connect):
  # stop testpmd once it has printed SETTLE + seconds + 1 of them.
  for i in $(seq $((10 * ($2 + SETTLE + 30)))); do
    [ "$(periods $1 | wc -l)" -gt $(($2 + SETTLE)) ] && break
    kill -0 $p 2>/dev/null || break
    sleep 0.1
  done
  kill -INT $p 2>/dev/null; wait $p
}

# testpmd prints one block per port each period (Rx-pps of port 0, then port 1). periods: the per-period sums in
# Mpps from the first period with traffic on (before it the switch had not connected yet). figure: leaves out SETTLE
# periods more, prints the mean of the next SECONDS sums and the sums themselves.
periods() { # tag
  grep -E 'Rx-pps' $D/logs/switch_race_$1_testpmd.txt | awk '
    { v[n++] = $2 }
    END { on = 0; for (i = 0; i + 1 < n; i += 2) { s = v[i] + v[i + 1]; if (s > 0) on = 1; if (on) printf "%.3f\n", s / 1e6 } }'
}

figure() { # tag
  periods $1 | awk -v settle=$SETTLE -v secs=$SECS '
    NR > settle && NR <= settle + secs { line = line sprintf("%.2f ", $1); sum += $1; k++ }
    END { if (k == 0) { print "no figure (no traffic in testpmd'"'"'s statistics; see its log)"; exit }
          printf "%.3f Mpps mean of %d s (per second: %s)\n", sum / k, k, line }'
}

ovs_start() {
  OVS_TMP=$(mktemp -d /tmp/ringway-switch-race-ovs.XXXXXX)
  export OVS_RUNDIR=$OVS_TMP OVS_LOGDIR=$OVS_TMP OVS_DBDIR=$OVS_TMP
  VSCTL="ovs-vsctl --db=unix:$OVS_TMP/db.sock --timeout=30"
  OFCTL="ovs-ofctl"
  ovsdb-tool create $OVS_TMP/conf.db /usr/share/openvswitch/vswitch.ovsschema || return 1
  ovsdb-server $OVS_TMP/conf.db --remote=punix:$OVS_TMP/db.sock --pidfile=$OVS_TMP/ovsdb-server.pid \
    --unixctl=$OVS_TMP/ovsdb-server.ctl --log-file=$OVS_TMP/ovsdb-server.log --detach 2>> $OVS_TMP/start.log || return 1
  $VSCTL --no-wait init
  # DPDK inside OVS: its own hugepage file prefix, no PCI scan, 256 MB; the PMD thread on CPU 0, the other threads off CPU 1.
  $VSCTL --no-wait set Open_vSwitch . other_config:dpdk-init=true other_config:pmd-cpu-mask=0x1 \
    other_config:dpdk-lcore-mask=0x1 other_config:dpdk-socket-mem=256 other_config:dpdk-socket-limit=256 \
    other_config:per-port-memory=false \
    "other_config:dpdk-extra=--file-prefix=rwswo --huge-dir=$HUGE --single-file-segments --iova-mode=va --no-pci"
  taskset -c 0 $OVSD unix:$OVS_TMP/db.sock --pidfile=$OVS_TMP/ovs-vswitchd.pid --unixctl=$OVS_TMP/ovs-vswitchd.ctl \
    --log-file=$OVS_TMP/ovs-vswitchd.log --detach 2>> $OVS_TMP/start.log || { tail -20 $OVS_TMP/ovs-vswitchd.log; return 1; }
  $VSCTL add-br br0 -- set bridge br0 datapath_type=netdev \
    -- add-port br0 vu0 -- set Interface vu0 type=dpdkvhostuserclient options:vhost-server-path=$S0 ofport_request=1 \
    -- add-port br0 vu1 -- set Interface vu1 type=dpdkvhostuserclient options:vhost-server-path=$S1 ofport_request=2 \
    || { tail -20 $OVS_TMP/ovs-vswitchd.log; return 1; }
}

ovs_stop() {
  [ -n "$OVS_TMP" ] || return 0
  for d in ovs-vswitchd ovsdb-server; do
    local pid; pid=$(cat $OVS_TMP/$d.pid 2>/dev/null) || continue
    kill -TERM $pid 2>/dev/null
    for i in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    kill -KILL $pid 2>/dev/null
  done
  cp $OVS_TMP/ovs-vswitchd.log $D/logs/switch_race_ovs-vswitchd.log 2>/dev/null
  rm -rf $OVS_TMP; OVS_TMP=""
  rm -f $HUGE/rwswo*
}

ovs_turn() { # tag
  rm -f $S0 $S1 $HUGE/rwsw*
  ovs_start || { echo "[$1] OVS did not start (logs in $D/logs/switch_race_ovs-vswitchd.log)"; ovs_stop; return; }
  $OFCTL del-flows br0
  $OFCTL add-flow br0 in_port=1,actions=output:2
  $OFCTL add-flow br0 in_port=2,actions=output:1
  SERVER=1 loop $1-flows $SECS
  echo "[$1] OVS-DPDK in_port flows: $(figure $1-flows)  [c2c before: $C2C]"
  $OFCTL del-flows br0
  $OFCTL add-flow br0 actions=NORMAL
  SERVER=1 loop $1-normal $SECS
  echo "[$1] OVS-DPDK NORMAL:         $(figure $1-normal)  [c2c before: $C2C]"
  $OFCTL dump-ports br0 > $D/logs/switch_race_$1_ovs_ports.txt 2>&1
  ovs_stop
}

ringway_turn() { # tag
  rm -f $S0 $S1 $HUGE/rwsw*
  RINGWAY_NO_BUILD=1 timeout -s INT $((SECS + SETTLE + WARMUP + 20)) "$here/ringway" net --mode switch --socket $S0 --socket $S1 \
    --lcores 0 --idle busy > $D/logs/switch_race_$1_ringway.txt 2>&1 &
  local p=$!
  for i in $(seq 100); do [ -S $S0 ] && [ -S $S1 ] && break; sleep 0.1; done
  sleep 1
  [ "$WARMUP" -gt 0 ] && { loop $1-warmup $WARMUP; sleep 1; }
  loop $1 $SECS; kill -TERM $p; wait $p
  echo "[$1] Ringway switch:          $(figure $1)  [c2c before: $C2C]"
  grep -E '^  switch' $D/logs/switch_race_$1_ringway.txt | sed 's/^/    /'
}

C2C=""
c2c() { C2C=$($D/c2c 2>&1 | tail -1 | sed 's/c2c_roundtrip_ns=//'); C2C="$C2C ns"; echo "c2c: $C2C"; }
OVS=1
if [ "${ONLY_RINGWAY:-0}" = 1 ]; then OVS=0
elif [ ! -x $OVSD ] || ! command -v ovsdb-server >/dev/null; then
  OVS=0; echo "OVS-DPDK is not installed, racing Ringway alone: apt-get install openvswitch-switch-dpdk (it need not run as a service)"
fi
[ $OVS = 1 ] && { c2c; ovs_turn ovs1; }
c2c; ringway_turn ringway1
[ $OVS = 1 ] && { c2c; ovs_turn ovs2; }
c2c

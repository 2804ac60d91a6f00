#!/bin/bash
# Runs inside nested-kvm.sh (L1, hardware-style KVM) for VmBootNetNestedTest: Ringway's switch
# (`ringway net --mode switch`, two vhost-user sockets) in one process and two Linux guests, each a
# `ringway vm boot` process with `--net vhost:SOCK` (virtio-net over virtio-pci, rings served by the
# switch process), whose inits ping each other (guest job netping.sh, role both) and power off; then,
# with TAP=1, a third guest on `--net tap:NAME` pinging L1's address on that tap.
# Every output line is prefixed with its source and the seconds since this script started:
# "A 12.3| ..." guest A (console and VMM), "B", "T" (tap guest), "SW" (the switch's log, at the end),
# "S" (this script). Prints "S ...| VMNET_EXIT <who> <status>" per process.
# Usage: vm-net-ping.sh JAVA CLASSPATH KERNEL INITRD GUEST_TIMEOUT_S [tap|-] [PCI_CMDLINE]
# (PCI_CMDLINE: what LinuxVm.PCI_CMDLINE adds to a PCI guest's command line, e.g. pci=noearly)
# (an argument, not the environment: nested-kvm.sh does not pass the environment into L1)
set -u
JAVA=$1; CP=$2; KERNEL=$3; INITRD=$4; T=${5:-150}; TAP=${6:-}; PCI_CMDLINE=${7:-}
[ "$TAP" = - ] && TAP=
D=$(mktemp -d /tmp/vm-net.XXXXXX)
T0=${EPOCHREALTIME/./}
J=("$JAVA" --enable-native-access=ALL-UNNAMED --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED
   -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss512k -cp "$CP" io.ringway.cli.Main)
stamp() { # prefix: each line gets "prefix seconds| "
  local l d
  while IFS= read -r l; do d=$(( (${EPOCHREALTIME/./} - T0) / 100000 )); printf '%s %d.%d| %s\n' "$1" $((d / 10)) $((d % 10)) "$l"; done
}
say() { echo "$*" | stamp S; }
cleanup() {
  local j; j=$(jobs -p); [ -n "$j" ] && { kill -TERM $j 2>/dev/null; wait $j 2>/dev/null; }
  rm -rf "$D"
}
trap cleanup EXIT

CMD="console=ttyS0 quiet reboot=k panic=-1 peers.run=netping peers.wait=60 $PCI_CMDLINE"
boot() { # who net ip role peer [extra --net and cmdline]
  { "${J[@]}" vm boot --kernel "$KERNEL" --initrd "$INITRD" --memory 256M --cpus 1 --net "$2" ${6:+--net "$6"} --timeout "$T" \
      --cmdline "$CMD peers.ip=$3 peers.role=$4 peers.peer=$5 ${7:-}" 2>&1; echo "VMNET_EXIT $1 $?"; } | stamp "$1"
}

"${J[@]}" net --mode switch --socket "$D/a.sock" --socket "$D/b.sock" --idle adaptive --mbufs 4096 > "$D/switch.log" 2>&1 &
SW=$!
A_TAP=(); 
if [ "$TAP" = tap ]; then
  TAPN=rwvmtap0
  modprobe tun 2>/dev/null # L1 loads only what its own boot needed
  A_TAP=("tap:$TAPN,mac=52:54:00:21:50:03" "peers.ip2=10.216.0.2/24 peers.peer2=10.216.0.1")
  # L1's side of the tap: configured as soon as guest A's VMM has created it (down, without an address)
  ( for i in $(seq 1800); do [ -e /sys/class/net/$TAPN ] && break; sleep 0.1; done
    ip addr add 10.216.0.1/24 dev $TAPN && ip link set $TAPN up && echo "tap $TAPN up with 10.216.0.1/24" | stamp S ) &
fi
for i in $(seq 1200); do [ -S "$D/a.sock" ] && [ -S "$D/b.sock" ] && break; kill -0 $SW 2>/dev/null || break; sleep 0.1; done
say "switch listening"
boot A "vhost:$D/a.sock,mac=52:54:00:21:50:01" 10.215.0.1/24 both 10.215.0.2 "${A_TAP[@]}" &
PA=$!
boot B "vhost:$D/b.sock,mac=52:54:00:21:50:02" 10.215.0.2/24 both 10.215.0.1 &
PB=$!
wait $PA $PB
kill -TERM $SW; wait $SW; echo "VMNET_EXIT SW $?" | stamp S
grep -v 'Mpps tx' "$D/switch.log" | stamp SW
wait

#!/bin/sh
# Guest job for the QEMU two-guest ping test (packet-plane interop.QemuTwoGuestPingTest).
# Kernel command line: peers.ip=A.B.C.D/N (this guest's address on eth0), peers.role=ping|answer,
# peers.peer=A.B.C.D (ping role: the address to ping), peers.wait=SECONDS (how long to try).
# ping role: retries one ping a second until the peer answers (it may still be booting), then
# "ping -c 3" and prints its summary. answer role: configures eth0, prints the ready marker and
# stays up answering until the test stops QEMU (or peers.wait runs out).
# both role (two guests pinging each other, then powering off by themselves): as ping, then stays up
# answering until the peer's own "ping -c 3" has reached this guest (4 echo requests seen: the probe
# that found it up and the three; /proc/net/snmp InEchos) or peers.wait runs out, and prints
# "RINGWAY_PING_DONE rc=RC echoes_in=N uptime=S".
# peers.ip2=A.B.C.D/N and peers.peer2=A.B.C.D (optional, ping and both roles): a second NIC, eth1, gets
# ip2 and, after the ping above, pings peer2 the same way; prints "RINGWAY_PING2 rc=RC".
for a in $(cat /proc/cmdline); do
  case $a in
    peers.ip=*) IP=${a#peers.ip=};;
    peers.role=*) ROLE=${a#peers.role=};;
    peers.peer=*) PEER=${a#peers.peer=};;
    peers.wait=*) WAIT=${a#peers.wait=};;
    peers.ip2=*) IP2=${a#peers.ip2=};;
    peers.peer2=*) PEER2=${a#peers.peer2=};;
  esac
done
WAIT=${WAIT:-60}
ip link set lo up
ip link set eth0 up || { echo "RINGWAY_NET no eth0: $(ls /sys/class/net)"; exit 2; }
ip addr add "$IP" dev eth0
echo "RINGWAY_NET eth0 $(cat /sys/class/net/eth0/address) $IP driver=$(basename "$(readlink /sys/class/net/eth0/device/driver)")"
if [ -n "${IP2:-}" ]; then
  ip link set eth1 up || { echo "RINGWAY_NET no eth1: $(ls /sys/class/net)"; exit 2; }
  ip addr add "$IP2" dev eth1
  echo "RINGWAY_NET eth1 $(cat /sys/class/net/eth1/address) $IP2 driver=$(basename "$(readlink /sys/class/net/eth1/device/driver)")"
fi
stats() {
  echo "RINGWAY_NET_STATS tx_packets=$(cat /sys/class/net/eth0/statistics/tx_packets) rx_packets=$(cat /sys/class/net/eth0/statistics/rx_packets)"
}
if [ "$ROLE" = answer ]; then
  echo "RINGWAY_NET ready"
  i=0
  while [ $i -lt "$WAIT" ]; do sleep 1; i=$((i + 1)); done
  stats
  exit 0
fi
i=0
until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -ge "$WAIT" ] && { echo "RINGWAY_NET peer $PEER did not answer in $WAIT tries"; stats; exit 1; }
done
echo "RINGWAY_NET peer answered after $i failed tries, uptime $(cut -d' ' -f1 /proc/uptime)"
ping -c 3 -W 2 "$PEER"
rc=$?
stats
echo "RINGWAY_PING rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
if [ -n "${PEER2:-}" ]; then
  i=0
  until ping -c 1 -W 1 "$PEER2" >/dev/null 2>&1; do i=$((i + 1)); [ $i -ge "$WAIT" ] && break; done
  ping -c 3 -W 2 "$PEER2"
  echo "RINGWAY_PING2 rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
fi
[ "$ROLE" = both ] || exit $rc
echoes() { awk '$1 == "Icmp:" && n++ { for (i = 2; i <= NF; i++) if (h[i] == "InEchos") print $i; next } $1 == "Icmp:" { for (i = 2; i <= NF; i++) h[i] = $i }' /proc/net/snmp; }
i=0
while [ "$(echoes)" -lt 4 ] && [ $i -lt $((WAIT * 5)) ]; do sleep 0.2; i=$((i + 1)); done
sleep 1 # the reply to the peer's last echo request leaves
echo "RINGWAY_PING_DONE rc=$rc echoes_in=$(echoes) uptime=$(cut -d' ' -f1 /proc/uptime)"
exit $rc

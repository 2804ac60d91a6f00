#!/bin/bash
# boot-race.sh — time from process start to the guest's init, Ringway vs QEMU, inside ONE nested-kvm.sh
# run (a QEMU TCG guest whose /dev/kvm is a hardware-style kvm_amd; see vcpu-engine/README.md "Boot race").
#
# The same Debian kernel (/boot/vmlinuz-*, a bzImage), the same busybox initramfs, memory, vCPUs and
# kernel command line are booted in turns — ringway, microvm, q35, ringway, microvm, q35, ... — by
#   ringway  ./ringway vm boot (the launcher, as a user runs it; the cli jar built on the host first)
#   microvm  qemu-system-x86_64 -M microvm -accel kvm (its qboot-based bios-microvm.bin, ISA serial)
#   q35      qemu-system-x86_64 -M q35 -accel kvm -kernel/-initrd/-append (SeaBIOS, or --q35-bios qboot)
# Every turn is timed the same way: the script reads the VMM's console line by line, stamps each line
# with bash's $EPOCHREALTIME as it arrives, and takes the arrival of the init job's marker line
# (BOOTRACE_INIT, printed by guest-root/peers/race.sh right after its boot-timer port write) minus the
# time just before the VMM was started. For Ringway it also reports its BootTimer reading (VM creation to
# the port write) and main() to the port write (`vm boot --timings`).
#
# Usage: vcpu-engine/bench/boot-race.sh [-n TURNS] [--cpus N] [--memory MIB] [--l1-cpus N]
#            [--q35-bios seabios|qboot] [--cmdline S] [--ringway-opts S] [--variant NAME=JVM-OPTIONS]...
#            [--vmms "ringway microvm q35"] [--no-warmup] [--verbose] [--topology | --topology-cpus "N..."]
#   -n TURNS       timed turns per VMM (default 3), after one untimed warm-up round (page cache of L1,
#                  which reads the JDK, QEMU and the images over 9p; its figures print as turn 0)
#   --topology     instead of the race: boot Ringway with 1, 2 and 4 vCPUs and print the guest's
#                  topology (/proc/cpuinfo, smpboot lines, "[Firmware Bug]" count); --topology-cpus "2 4"
#                  picks the counts. Use --l1-cpus 1 for SMP guests (see vcpu-engine/README.md)
#   --ringway-opts extra JVM options for the ringway turns (RINGWAY_JAVA_OPTS)
#   --variant      an extra Ringway column "ringway-NAME" run with these JVM options added, e.g.
#                  "noaot=-XX:AOTMode=off", "c2=-XX:TieredStopAtLevel=4" or "g1=-XX:+UseG1GC" (the launcher
#                  selects the serial collector for vm boot without devices unless the options name a
#                  collector, -XX:+Use...GC), or, when they start with
#                  "--", these `vm boot` arguments: "huge=--hugepages" (L1 then reserves huge pages)
#   --verbose      print every turn's console with each line's arrival time
# The ringway launcher uses cli/target/ringway-cli.aot (an AOT cache, see ../../ringway) when it is newer
# than the jar; this script makes it on the host first with a training `vm boot` (RINGWAY_AOT_TRAIN=1).
# env NESTED_TIMEOUT (default 1500 s) bounds the whole nested run; TURN_TIMEOUT (default 180 s) each turn.
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${BOOT_RACE_ROOT:-$(cd "$HERE/../.." && pwd)}
TURNS=3; CPUS=1; MEM=512; L1_CPUS=2; Q35_BIOS=seabios; MODE=race; RINGWAY_OPTS=""; VARIANTS=""; VMMS="ringway microvm q35"
WARMUP=1; VERBOSE=0; TOPOLOGY_CPUS="1 2 4"
CMDLINE="console=ttyS0 reboot=k panic=-1 quiet pci=off peers.run=race"
TURN_TIMEOUT=${TURN_TIMEOUT:-180}

if [ "${1:-}" = --inner ]; then
  # ---- runs inside L1 (nested-kvm.sh): the project is visible read-only at $ROOT, /tmp is a fresh tmpfs ----
  shift
  MODE=$1 TURNS=$2 CPUS=$3 MEM=$4 Q35_BIOS=$5 KERNEL=$6 INITRD=$7 CMDLINE=$8 RINGWAY_OPTS=$9 TURN_TIMEOUT=${10}
  VARIANTS=${11} VMMS=${12} WARMUP=${13} VERBOSE=${14} LAUNCHER=${15} TOPOLOGY_CPUS=${16}
  W=$(mktemp -d /tmp/boot-race.XXXX)
  # Stamps each console line with its arrival time. perl reads the pipe in blocks (a bash read loop
  # reads it byte by byte and, starved by a busy JVM on L1's CPUs, stamped Ringway's lines seconds late);
  # it runs at a higher priority than the VMMs for the same reason.
  if perl -MTime::HiRes=time -e 1 2>/dev/null; then
    stamp() { nice -n -10 perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } s/\r?\n\z//; printf "%.6f %s\n", time, $_'; }
  else
    stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "${l%$'\r'}"; done; }
  fi
  # the commands, as arrays (timeout runs executables, not functions)
  ringway_cmd() { # VCPUS CMDLINE [JVM-OPTIONS | --VM-BOOT-ARGS]
    local jvm="" args=()
    case ${3:-} in --*) read -r -a args <<< "$3";; *) jvm=${3:-};; esac
    cmd=(env RINGWAY_NO_BUILD=1 "RINGWAY_JAVA_OPTS=$RINGWAY_OPTS${jvm:+ $jvm}" "$LAUNCHER" vm boot --kernel "$KERNEL" --initrd "$INITRD"
      --cpus "$1" --memory "${MEM}M" --cmdline "$2" --timeout "$TURN_TIMEOUT" --timings "${args[@]}")
  }
  if [[ "$VARIANTS" == *--hugepages* ]]; then
    # huge pages for the guest RAM of the --hugepages turns (L1 boots with none reserved)
    echo $((MEM / 2 + 16)) > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
    echo "L1: $(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages) huge pages of 2 MiB reserved"
  fi
  qemu_cmd() { # MACHINE CMDLINE
    local bios=()
    [ "$1" = q35 ] && [ "$Q35_BIOS" = qboot ] && bios=(-bios /usr/share/qemu/qboot.rom)
    cmd=(qemu-system-x86_64 -M "$1" -accel kvm -cpu host -smp "$CPUS" -m "$MEM" -nodefaults -no-user-config -display none
      -serial stdio -no-reboot "${bios[@]}" -kernel "$KERNEL" -initrd "$INITRD" -append "$2")
  }
  # one turn: VMM, turn number, command...; prints a BOOTRACE_RESULT line
  turn() {
    local vmm=$1 i=$2; shift 2
    local out=$W/$vmm.$i.log t0 t1 rc=0
    t0=$EPOCHREALTIME
    timeout -k 5 "$TURN_TIMEOUT" "$@" < /dev/null 2>&1 | stamp > "$out" || rc=$?
    t1=$(awk '/BOOTRACE_INIT/ {print $1; exit}' "$out")
    local init_ms=-1 timer_ms=-1 main_ms=-1 jvm_ms=-1
    [ -n "$t1" ] && init_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", (b - a) * 1000}')
    if [ "${vmm%%-*}" = ringway ]; then
      timer_ms=$(sed -n 's/.*boot timer written \([0-9.]*\) ms.*/\1/p' "$out" | head -1); timer_ms=${timer_ms:--1}
      main_ms=$(sed -n 's/.*main_to_init_ms=\([0-9.]*\).*/\1/p' "$out" | head -1); main_ms=${main_ms:--1}
      jvm_ms=$(sed -n 's/.*launcher_to_main_ms=\([0-9.?]*\).*/\1/p' "$out" | head -1); jvm_ms=${jvm_ms:--1}
      # || true: a turn whose JVM did not start (a bad --variant) prints no such line; under set -e the grep
      # would end the whole race instead of this turn showing init_ms=-1 with its console below
      { grep -h 'ringway vm boot: ' "$out" || true; } | cut -d' ' -f2- | sed 's/^/  /'
    fi
    local end; end=$(awk -v a="$t0" '{t = $1} END {printf "%.0f", (t - a) * 1000}' "$out")
    echo "BOOTRACE_RESULT vmm=$vmm turn=$i init_ms=$init_ms timer_ms=$timer_ms main_ms=$main_ms jvm_to_main_ms=$jvm_ms last_line_ms=$end status=$rc"
    if [ "$init_ms" = -1 ] || [ "$VERBOSE" = 1 ]; then
      [ "$init_ms" = -1 ] && echo "  $vmm turn $i: no BOOTRACE_INIT marker; console:"
      awk -v a="$t0" '{t = $1; $1 = ""; printf "    | %7.0f ms%s\n", (t - a) * 1000, $0}' "$out" | tail -40
    fi
  }
  echo "L1: $(nproc) CPUs, $(sed -n 's/^model name.*: //p' /proc/cpuinfo | head -1), $(sed -n 's/^vendor_id.*: //p' /proc/cpuinfo | head -1); /dev/kvm: $(ls -l /dev/kvm 2>&1 | cut -c1-10)"
  if [ "$MODE" = topology ]; then
    for n in $TOPOLOGY_CPUS; do
      echo "== ringway vm boot --cpus $n"
      ringway_cmd "$n" "${CMDLINE/peers.run=race/peers.run=boot}"
      timeout -k 5 "$TURN_TIMEOUT" "${cmd[@]}" < /dev/null 2>&1 \
        | grep -E 'RINGWAY_(BOOT_OK|TOPO|DMESG)|Firmware Bug|ringway vm boot' || true
    done
  else
    for i in $(seq $((1 - WARMUP)) "$TURNS"); do
      for vmm in $VMMS; do
        case $vmm in
          ringway)
            ringway_cmd "$CPUS" "$CMDLINE"; turn ringway "$i" "${cmd[@]}"
            IFS='|' read -r -a vs <<< "$VARIANTS"
            for v in "${vs[@]}"; do
              [ -n "$v" ] || continue
              ringway_cmd "$CPUS" "$CMDLINE" "${v#*=}"; turn "ringway-${v%%=*}" "$i" "${cmd[@]}"
            done;;
          # microvm: earlyprintk=ttyS0 as docs/system/i386/microvm.rst shows (its only difference from the others)
          microvm) qemu_cmd microvm "$CMDLINE earlyprintk=ttyS0"; turn microvm "$i" "${cmd[@]}";;
          q35) qemu_cmd q35 "$CMDLINE"; turn q35 "$i" "${cmd[@]}";;
        esac
      done
    done
  fi
  rm -rf "$W"
  exit 0
fi

# ---- on the host ----
# bash reads a script as it runs it: run a copy, so that editing this file during a (long) run is safe
if [ -z "${BOOT_RACE_ROOT:-}" ]; then
  mkdir -p "$ROOT/vcpu-engine/target/boot-race"
  cp "$0" "$ROOT/vcpu-engine/target/boot-race/boot-race.sh"
  BOOT_RACE_ROOT=$ROOT exec /bin/bash "$ROOT/vcpu-engine/target/boot-race/boot-race.sh" "$@"
fi
while [ $# -gt 0 ]; do
  case $1 in
    -n) TURNS=$2; shift 2;;
    --cpus) CPUS=$2; shift 2;;
    --memory) MEM=$2; shift 2;;
    --l1-cpus) L1_CPUS=$2; shift 2;;
    --q35-bios) Q35_BIOS=$2; shift 2;;
    --cmdline) CMDLINE=$2; shift 2;;
    --ringway-opts) RINGWAY_OPTS=$2; shift 2;;
    --topology) MODE=topology; shift;;
    --topology-cpus) MODE=topology; TOPOLOGY_CPUS=$2; shift 2;;
    --variant) VARIANTS="$VARIANTS|$2"; shift 2;;
    --vmms) VMMS=$2; shift 2;;
    --no-warmup) WARMUP=0; shift;;
    --verbose) VERBOSE=1; shift;;
    *) echo "boot-race.sh: unknown argument $1 (see the header of $0)" >&2; exit 2;;
  esac
done
case $Q35_BIOS in seabios|qboot) ;; *) echo "--q35-bios must be seabios or qboot, got $Q35_BIOS" >&2; exit 2;; esac
command -v qemu-system-x86_64 >/dev/null || { echo "boot-race.sh: needs qemu-system-x86_64 (apt-get install qemu-system-x86)" >&2; exit 2; }
KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -r "$KERNEL" ] || { echo "boot-race.sh: needs a kernel in /boot/vmlinuz-* (apt-get install linux-image-amd64)" >&2; exit 2; }
W=$ROOT/vcpu-engine/target/boot-race; mkdir -p "$W"
INITRD=$W/initramfs.cpio.gz
MODS=" " EXTRA="$ROOT/vcpu-engine/src/test/resources/peers/guest-root" \
  "$ROOT/storage-plane/src/test/resources/peers/mkinitramfs.sh" "$INITRD" > "$W/mkinitramfs.log"
# build the cli if missing or stale (the launcher does it), so that L1 runs it with RINGWAY_NO_BUILD=1
"$ROOT/ringway" --version > /dev/null
# L1 runs a snapshot of the launcher and the jar (a rebuild on the host during the run cannot change them),
# with the launcher's AOT cache made here by a training `vm boot` (it needs no guest to finish: a few
# seconds of the command's start and run loop load the classes the boot path uses)
SNAP=$W/snapshot; rm -rf "$SNAP"; mkdir -p "$SNAP/cli/target"
cp -p "$ROOT/ringway" "$SNAP/"; cp -p "$ROOT/cli/target/ringway-cli.jar" "$SNAP/cli/target/"
RINGWAY_AOT_TRAIN=1 RINGWAY_NO_BUILD=1 "$SNAP/ringway" vm boot --kernel "$KERNEL" --initrd "$INITRD" --cpus "$CPUS" \
  --memory "${MEM}M" --cmdline "$CMDLINE" --timeout 3 --timings > "$W/aot-training.log" 2>&1 || true
[ -f "$SNAP/cli/target/ringway-cli.aot" ] && echo "boot-race: AOT cache $SNAP/cli/target/ringway-cli.aot ($(stat -c %s "$SNAP/cli/target/ringway-cli.aot") bytes)" \
  || echo "boot-race: no AOT cache made (training log $W/aot-training.log)"
LOG=$W/boot-race-$(date -u +%Y%m%dT%H%M%SZ).log
echo "boot-race: $MODE, $TURNS turn(s), kernel $KERNEL, initrd $INITRD ($(stat -c %s "$INITRD") bytes), $CPUS vCPU(s), $MEM MiB," \
  "q35 firmware $Q35_BIOS, L1 $L1_CPUS CPU(s); cmdline: $CMDLINE${RINGWAY_OPTS:+; ringway JVM options: $RINGWAY_OPTS}; log $LOG"
# L1 memory: a guest's RAM at a time, twice (QEMU's own and L1's page cache of the images, the JDK and the
# jar, which must not be evicted between turns), plus what the reserved huge pages take away
L1_MEM=$((MEM * 2 + 1024)); [[ "$VARIANTS" == *--hugepages* ]] && L1_MEM=$((L1_MEM + MEM))
cd "$ROOT"
NESTED_SHARE=$ROOT NESTED_TIMEOUT=${NESTED_TIMEOUT:-1500} \
  "$ROOT/vcpu-engine/src/test/resources/peers/nested-kvm.sh" -m "$L1_MEM" -c "$L1_CPUS" -- \
  /bin/bash "$HERE/boot-race.sh" --inner "$MODE" "$TURNS" "$CPUS" "$MEM" "$Q35_BIOS" "$KERNEL" "$INITRD" "$CMDLINE" \
  "$RINGWAY_OPTS" "$TURN_TIMEOUT" "${VARIANTS#|}" "$VMMS" "$WARMUP" "$VERBOSE" "$SNAP/ringway" "$TOPOLOGY_CPUS" | tee "$LOG"
[ "$MODE" = race ] || exit 0
# the table: median and min of the console-marker time per VMM, and Ringway / QEMU
awk '
  /^BOOTRACE_RESULT/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    if (f["turn"] == 0) next
    if (!(f["vmm"] in seen)) { seen[f["vmm"]] = 1; order[++no] = f["vmm"] }
    if (f["init_ms"] >= 0) { v = f["vmm"]; n[v]++; t[v, n[v]] = f["init_ms"] + 0
      if (v == "ringway") { nm++; m[nm] = f["main_ms"] + 0; nt++; tm[nt] = f["timer_ms"] + 0 } }
    else failed[f["vmm"]]++
  }
  function med(a, k,   i, j, x, b) { for (i = 1; i <= k; i++) b[i] = a[i]
    for (i = 2; i <= k; i++) { x = b[i]; for (j = i - 1; j >= 1 && b[j] > x; j--) b[j + 1] = b[j]; b[j + 1] = x }
    return k % 2 ? b[(k + 1) / 2] : (b[k / 2] + b[k / 2 + 1]) / 2 }
  function mn(a, k,   i, x) { x = a[1]; for (i = 2; i <= k; i++) if (a[i] < x) x = a[i]; return x }
  END {
    for (o = 1; o <= no; o++) { v = order[o]; k = n[v] + 0
      if (k == 0) continue
      for (i = 1; i <= k; i++) a[i] = t[v, i]
      md[v] = med(a, k); mi[v] = mn(a, k) }
    printf "\n%-16s %6s %10s %10s %16s %16s\n", "VMM", "turns", "median ms", "min ms", "this/microvm", "this/q35"
    for (o = 1; o <= no; o++) { v = order[o]; k = n[v] + 0
      if (k == 0) { printf "%-16s %6d %10s %10s%s\n", v, 0, "-", "-", failed[v] ? "  (" failed[v] " failed)" : ""; continue }
      r1 = (v ~ /^ringway/ && ("microvm" in md)) ? sprintf("%.2f (min %.2f)", md[v] / md["microvm"], mi[v] / mi["microvm"]) : "-"
      r2 = (v ~ /^ringway/ && ("q35" in md)) ? sprintf("%.2f (min %.2f)", md[v] / md["q35"], mi[v] / mi["q35"]) : "-"
      printf "%-16s %6d %10.0f %10.0f %16s %16s%s\n", v, k, md[v], mi[v], r1, r2, failed[v] ? "  (" failed[v] " failed)" : "" }
    if (nm > 0) printf "ringway: main() to init median %.0f ms (min %.0f); BootTimer (VM creation to the port write) median %.0f ms (min %.0f)\n",
      med(m, nm), mn(m, nm), med(tm, nt), mn(tm, nt)
    print "(console marker arrival minus process start, inside nested-kvm.sh; a ratio < 1: Ringway faster)"
  }' "$LOG"

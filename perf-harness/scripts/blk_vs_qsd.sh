#!/bin/bash
# 4 KiB random read and write, QD1 and QD32, the same load generator against Ringway and
# qemu-storage-daemon, in turns, for two pairs:
#   null: `ringway blk --bdev null:1G`   vs  QSD null-co (1 GiB)
#   ram:  `ringway blk --bdev malloc:1G` vs  QSD raw node on a 1 GiB file in /dev/shm (cache.direct=off)
# Both RAM stores are written first (sequential 4 KiB writes at QD32 for FILL seconds, default 4: the
# whole 1 GiB at >= 66k IOPS; the fill line shows the rate), so measured requests pay no first-touch fault. Back-end on CPU 0, load generator on CPU 1.
# Usage: blk_vs_qsd.sh [ROUNDS] [SECONDS] [PAIRS]   (PAIRS: "null ram" by default)
set -u
here="$(cd "$(dirname "$0")/../.." && pwd)"
ROUNDS=${1:-2}; SECS=${2:-5}; PAIRS=${3:-null ram}
D=${PEERS_DIR:-/tmp/ringway-peers}; mkdir -p $D
J=$(ls -d /usr/lib/jvm/*25*/bin/java | head -1)
FLAGS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"
JAR=$here/cli/target/ringway-cli.jar
loadgen() { taskset -c 1 $J $FLAGS -cp $JAR io.ringway.perf.blk.BlkLoadGenerator "$@" 2>/dev/null | grep loadgen; }
gen() { loadgen --socket $1 --qd $2 --rw $3 --seconds $SECS; }
FILL=${FILL:-4}
fill() { echo "  fill ($FILL s seq write QD32, 262144 blocks to cover): $(loadgen --socket $1 --qd 32 --rw write --seconds $FILL)"; }
if [ -f /work/shared/peers/c2c.c ]; then gcc -O2 -pthread -o $D/c2c /work/shared/peers/c2c.c 2>/dev/null; fi
c2c() { [ -x $D/c2c ] && $D/c2c 2>/dev/null | tail -1; }
wait_sock() { for i in $(seq 100); do [ -S $1 ] && break; sleep 0.1; done; }
loads() {  # $1 label, $2 socket
  for rw in randread randwrite; do for qd in 1 32; do
    printf '%-17s %-9s QD%-2s: %s\n' "$1" $rw $qd "$(gen $2 $qd $rw)"
  done; done
}
RAW=""
trap '[ -n "$RAW" ] && rm -f "$RAW"' EXIT
for r in $(seq $ROUNDS); do
  echo "== round $r, c2c: $(c2c)"
  for pair in $PAIRS; do
    case $pair in
      null) BDEV=null:1G; QSD_NODE=(--blockdev driver=null-co,node-name=n0,size=1073741824); QLABEL="qsd null";;
      ram)  BDEV=malloc:1G; RAW=$(mktemp /dev/shm/ringway-qsd-XXXXXX.raw); truncate -s 1G $RAW
            QSD_NODE=(--blockdev driver=file,node-name=f0,filename=$RAW,cache.direct=off
                      --blockdev driver=raw,node-name=n0,file=f0); QLABEL="qsd ram-file";;
      *) echo "unknown pair $pair (null, ram)" >&2; exit 2;;
    esac
    S=$D/ringway-blk.sock; rm -f $S
    RINGWAY_NO_BUILD=1 taskset -c 0 $here/ringway blk --socket $S --bdev $BDEV --lcores 0 --idle busy > $D/ringway-blk.log 2>&1 &
    P=$!; wait_sock $S
    [ $pair = ram ] && fill $S
    loads "ringway $pair" $S
    kill -TERM $P; wait $P 2>/dev/null  # SIGINT is ignored by background jobs of a script
    S=$D/qsd-blk.sock; rm -f $S
    taskset -c 0 qemu-storage-daemon "${QSD_NODE[@]}" \
      --export type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=$S,writable=on > $D/qsd.log 2>&1 &
    P=$!; wait_sock $S
    [ $pair = ram ] && fill $S
    loads "$QLABEL" $S
    kill $P; wait $P 2>/dev/null
    if [ $pair = ram ]; then rm -f $RAW; RAW=""; fi
  done
done

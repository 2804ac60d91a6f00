#!/bin/bash
# 4 KiB random read, QD1 and QD32, the same load generator against `ringway blk --bdev null:1G`
# and qemu-storage-daemon (null-co, 1 GiB), in turns (Ringway, QSD, Ringway, QSD ...).
# Back-end on CPU 0, load generator on CPU 1. Usage: blk_vs_qsd.sh [ROUNDS] [SECONDS]
set -u
here="$(cd "$(dirname "$0")/../.." && pwd)"
ROUNDS=${1:-2}; SECS=${2:-5}
D=${PEERS_DIR:-/tmp/ringway-peers}; mkdir -p $D
J=$(ls -d /usr/lib/jvm/*25*/bin/java | head -1)
FLAGS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"
JAR=$here/cli/target/ringway-cli.jar
gen() { taskset -c 1 $J $FLAGS -cp $JAR io.ringway.perf.blk.BlkLoadGenerator --socket $1 --qd $2 --seconds $SECS 2>/dev/null | grep loadgen; }
if [ -f /work/shared/peers/c2c.c ]; then gcc -O2 -pthread -o $D/c2c /work/shared/peers/c2c.c 2>/dev/null; fi
c2c() { [ -x $D/c2c ] && $D/c2c 2>/dev/null | tail -1; }
for r in $(seq $ROUNDS); do
  echo "== round $r, c2c: $(c2c)"
  S=$D/ringway-blk.sock; rm -f $S
  RINGWAY_NO_BUILD=1 taskset -c 0 $here/ringway blk --socket $S --bdev null:1G --lcores 0 --idle busy > $D/ringway-blk.log 2>&1 &
  P=$!; for i in $(seq 100); do [ -S $S ] && break; sleep 0.1; done
  echo "ringway   QD1 : $(gen $S 1)"; echo "ringway   QD32: $(gen $S 32)"
  kill -TERM $P; wait $P 2>/dev/null  # SIGINT is ignored by background jobs of a script
  S=$D/qsd-blk.sock; rm -f $S
  taskset -c 0 qemu-storage-daemon --blockdev driver=null-co,node-name=n0,size=1073741824 \
    --export type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=$S,writable=on > $D/qsd.log 2>&1 &
  P=$!; for i in $(seq 100); do [ -S $S ] && break; sleep 0.1; done
  echo "qsd       QD1 : $(gen $S 1)"; echo "qsd       QD32: $(gen $S 32)"
  kill $P; wait $P 2>/dev/null
done

#!/bin/bash
# Runs a command inside a QEMU TCG guest ("L1") whose CPU has SVM, so that L1 has a KVM of the
# hardware kind (kvm_amd, nested paging emulated by TCG) instead of this machine's PVM.
# The host's root is shared read-only at / inside L1 (9p, chroot), with /tmp, /run and /dev/shm as
# fresh tmpfs; the current directory is kept. The command's output streams back; the exit status
# is the command's.
# Usage: nested-kvm.sh [-m MEM_MB] [-c CPUS] -- COMMAND [ARG...]
# Cost: ~4 s to boot L1; code in L1 runs under TCG (several times slower than the host).
# Project copy of /work/shared/peers/nested-kvm.sh; changes: the initramfs recipe is the project's
# (storage-plane's mkinitramfs.sh, or $MKINITRAMFS), output streams line by line (grep/sed would
# otherwise hold it in a 4 KiB buffer until the end), the L1 cache name says which recipe built it,
# and NESTED_SHARE=DIR shows a host directory read-only at the same path inside L1 even where L1 has a
# fresh tmpfs (a project cloned under /tmp, as CI may do).
set -euo pipefail
MEM=2048; CPUS=1
while [ $# -gt 0 ]; do case $1 in -m) MEM=$2; shift 2;; -c) CPUS=$2; shift 2;; --) shift; break;; *) break;; esac; done
[ $# -gt 0 ] || { echo "usage: nested-kvm.sh [-m MB] [-c CPUS] -- COMMAND..." >&2; exit 2; }
D=${PEERS_DIR:-/tmp/ringway-peers}; mkdir -p "$D"
HERE=$(cd "$(dirname "$0")" && pwd)
KVER=${KVER:-$(ls /lib/modules | sort -V | tail -1)}
MKINITRAMFS=${MKINITRAMFS:-$HERE/../../../../../storage-plane/src/test/resources/peers/mkinitramfs.sh}
[ -x "$MKINITRAMFS" ] || { echo "initramfs recipe $MKINITRAMFS missing" >&2; exit 2; }
INITRD=$D/nested-l1-project-v2-$KVER.cpio.gz
if [ ! -f "$INITRD" ]; then
  R=$(mktemp -d); mkdir -p "$R/peers" "$R/host"
  cat > "$R/peers/nested.sh" <<'JOB'
#!/bin/sh
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /host || { echo "NESTED_RC=97"; exit 0; }
mount -t proc proc /host/proc; mount -t sysfs sys /host/sys; mount -t devtmpfs dev /host/dev
for t in tmp run dev/shm; do mount -t tmpfs tmpfs /host/$t 2>/dev/null; done
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=512000 job /host/run 2>/dev/null
if [ -s /host/run/share ]; then
  s=$(cat /host/run/share); mkdir -p "/host$s" 2>/dev/null
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 share "/host$s" || echo "nested: could not mount $s"
fi
chroot /host /bin/sh -c 'cd "$(cat /run/cwd)" && /bin/sh /run/cmd' < /dev/null
echo "NESTED_RC=$?"
JOB
  chmod +x "$R/peers/nested.sh"
  EXTRA=$R MODS="virtio virtio_ring virtio_pci kvm kvm_amd 9p 9pnet_virtio" KVER=$KVER "$MKINITRAMFS" "$INITRD" > /dev/null
  rm -rf "$R"
fi
J=$(mktemp -d "$D/job.XXXX")
pwd > "$J/cwd"; printf '%q ' "$@" > "$J/cmd"
SHARE_ARGS=()
if [ -n "${NESTED_SHARE:-}" ]; then
  [ -d "$NESTED_SHARE" ] || { echo "NESTED_SHARE=$NESTED_SHARE is not a directory" >&2; exit 2; }
  printf '%s' "$(cd "$NESTED_SHARE" && pwd -P)" > "$J/share"
  SHARE_ARGS=(-virtfs "local,path=$NESTED_SHARE,mount_tag=share,security_model=none,readonly=on,multidevs=remap")
fi
set +e
timeout "${NESTED_TIMEOUT:-1500}" qemu-system-x86_64 -M q35 -accel tcg -cpu max -smp "$CPUS" -m "$MEM" \
  -nographic -no-reboot -kernel /boot/vmlinuz-$KVER -initrd "$INITRD" \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$J",mount_tag=job,security_model=none "${SHARE_ARGS[@]}" \
  -append "console=ttyS0 quiet panic=-1 peers.run=nested" 2>&1 | sed -u 's/\r$//' \
  | sed -u -n '/PEERS_MARKER modules-loaded/,$p' | grep --line-buffered -v -E 'PEERS_MARKER|reboot: Power down' | tee "$J/out"
rc=$(sed -n 's/^NESTED_RC=\([0-9]*\).*/\1/p' "$J/out" | tail -1)
rm -rf "$J"
exit "${rc:-98}"

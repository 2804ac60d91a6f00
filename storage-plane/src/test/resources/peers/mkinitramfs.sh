#!/bin/bash
# Builds a minimal initramfs for the QEMU interop tests: busybox-static + the installed Debian
# kernel's virtio modules (dependencies resolved from modules.dep) + optional dynamically linked
# binaries with their shared libraries + the guest jobs under guest-root/. Packed as cpio newc + gzip.
# Started from /work/shared/peers/mkinitramfs.sh; changes: busybox is looked up in /bin and /usr/bin,
# a missing module the tests need is an error (not a warning), binaries may be names or paths,
# the job's exit status is printed, and the build is reproducible enough to be cached by its inputs.
#
# Usage: mkinitramfs.sh OUT.cpio.gz [BINARY...]
#   env KVER   kernel version of the modules (default: the newest under /lib/modules with a /boot/vmlinuz)
#   env MODS   top-level modules to include; dependencies are resolved from modules.dep
#   env EXTRA  directory whose contents are copied verbatim into the root (default: guest-root beside this script)
# The generated /init mounts proc/sys/devtmpfs, insmods every module in dependency order, prints
# "PEERS_MARKER modules-loaded", runs /peers/X.sh when the kernel command line has peers.run=X,
# prints "PEERS_MARKER job-exit=RC", then "poweroff -f" (with -no-reboot and panic=-1 a failing
# init also ends QEMU).
set -euo pipefail
OUT=${1:?usage: mkinitramfs.sh OUT.cpio.gz [BINARY...]}; shift
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${KVER:-}" ]; then
  for k in $(ls /lib/modules | sort -rV); do [ -f "/boot/vmlinuz-$k" ] && { KVER=$k; break; }; done
fi
[ -n "${KVER:-}" ] || { echo "no kernel: apt-get install linux-image-amd64" >&2; exit 1; }
MODDIR=/lib/modules/$KVER
MODS=${MODS:-"virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"}
EXTRA=${EXTRA:-$here/guest-root}
BUSYBOX=${BUSYBOX:-}
if [ -z "$BUSYBOX" ]; then
  for b in /bin/busybox /usr/bin/busybox; do [ -x "$b" ] && { BUSYBOX=$b; break; }; done
fi
[ -n "$BUSYBOX" ] && [ -x "$BUSYBOX" ] || { echo "busybox missing: apt-get install busybox-static" >&2; exit 1; }
command -v cpio >/dev/null || { echo "cpio missing: apt-get install cpio" >&2; exit 1; }
if ldd "$BUSYBOX" >/dev/null 2>&1; then echo "$BUSYBOX is not static: apt-get install busybox-static" >&2; exit 1; fi

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/ringway-initramfs.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,lib/modules/$KVER,peers}

# busybox + applet symlinks (created at build time so /init does not pay for --install)
cp "$BUSYBOX" "$ROOT/bin/busybox"
for a in $("$BUSYBOX" --list-full); do
  [ -e "$ROOT/$a" ] || [ -L "$ROOT/$a" ] || ln -s /bin/busybox "$ROOT/$a"
done

# modules: resolve dependencies recursively from modules.dep, emit deps-first order
declare -A SEEN=(); ORDER=()
path_of() { awk -F: -v m="$1" '{n=$1; sub(/.*\//,"",n); sub(/\.ko(\.[a-z]+)?$/,"",n); gsub(/-/,"_",n); if (n==m) {print $1; exit}}' "$MODDIR/modules.dep"; }
visit() { # $1 = relative path in modules.dep
  local rel=$1 d
  [ -n "${SEEN[$rel]:-}" ] && return; SEEN[$rel]=1
  for d in $(awk -F: -v p="$rel" '$1==p {print $2}' "$MODDIR/modules.dep"); do visit "$d"; done
  ORDER+=("$rel")
}
for m in $MODS; do
  rel=$(path_of "${m//-/_}")
  if [ -z "$rel" ]; then
    # built into the kernel is fine; absent is not
    grep -q "/${m//_/[-_]}.ko" "$MODDIR/modules.builtin" 2>/dev/null && continue
    echo "module $m not found in $MODDIR (neither a module nor built in)" >&2; exit 1
  fi
  visit "$rel"
done
: > "$ROOT/etc/modules.load"
for rel in "${ORDER[@]}"; do
  b=$(basename "$rel"); cp "$MODDIR/$rel" "$ROOT/lib/modules/$KVER/$b"
  echo "$b" >> "$ROOT/etc/modules.load"
done

# extra dynamically-linked binaries with their libraries (same absolute paths)
for bin in "$@"; do
  src=$(command -v "$bin") || { echo "$bin not found" >&2; exit 1; }
  mkdir -p "$ROOT$(dirname "$src")"; cp -L "$src" "$ROOT$src"
  for lib in $(ldd "$src" | awk '$2=="=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do
    mkdir -p "$ROOT$(dirname "$lib")"; cp -L "$lib" "$ROOT$lib"
  done
done
[ -d "$EXTRA" ] && cp -a "$EXTRA"/. "$ROOT"/
chmod +x "$ROOT"/peers/*.sh 2>/dev/null || true

cat > "$ROOT/init" <<INIT
#!/bin/busybox sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in \$(cat /etc/modules.load); do insmod /lib/modules/$KVER/\$m || echo "insmod \$m failed"; done
echo "PEERS_MARKER modules-loaded"
for a in \$(cat /proc/cmdline); do case \$a in peers.run=*) R=\${a#peers.run=};; esac; done
if [ -n "\${R:-}" ] && [ -f /peers/\$R.sh ]; then sh /peers/\$R.sh; echo "PEERS_MARKER job-exit=\$?"; fi
echo "PEERS_MARKER done"
poweroff -f
INIT
chmod +x "$ROOT/init"
(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet | gzip -6 > "$OUT.tmp") && mv "$OUT.tmp" "$OUT"
echo "built $OUT ($(stat -c %s "$OUT") bytes) for $KVER; modules: $(tr '\n' ' ' < "$ROOT/etc/modules.load")"

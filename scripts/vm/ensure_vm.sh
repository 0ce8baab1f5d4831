#!/usr/bin/env bash
# ensure_vm.sh: makes sure the kernel-WireGuard test VM can boot.
#
# 1. Installs, only where missing, the Debian packages it needs: qemu-system-x86,
#    linux-image-amd64 (Debian's kernel: this machine's own kernel has no
#    WireGuard), busybox-static, cpio, kmod, xz-utils, and what the guest runs
#    from the host's file system in the smoke test (wireguard-tools, iproute2,
#    iputils-ping).
# 2. Prepares, in .tools/vm/KVER/ (git-ignored), for the newest installed
#    linux-image-*-amd64 kernel (the plain flavour; set WG_VM_KVER to pick
#    another, e.g. an -rt- one):
#      vmlinux        the uncompressed kernel: under TCG the compressed one spends
#                     seconds decompressing itself on every boot;
#      initramfs.cpio static busybox, the virtio/9p/overlay modules decompressed
#                     (busybox insmod cannot read .ko.xz) in dependency order,
#                     and guest_init.sh as /init. Left uncompressed: fewer
#                     emulated instructions at boot than gunzip.
# 3. Prints KEY=VALUE lines (VM_KVER, VM_KERNEL, VM_INITRD, VM_CACHE) on stdout
#    and writes them to .tools/vm/vm.env. Progress goes to stderr.
#
# Idempotent: a stamp of the inputs (kernel file, busybox, init script, this
# script) decides whether anything is rebuilt; the fast path costs a few
# milliseconds. Concurrent callers serialize on a lock file. Any failure is one
# line on stderr starting with "ensure_vm:" and exit status 1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$root/.tools/vm"
init_src="$here/guest_init.sh"
# Modules the initramfs needs to reach the host's file system; their
# dependencies are added by modprobe --show-depends, in load order.
initramfs_modules=(virtio_pci 9pnet_virtio 9p overlay)
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

die() {
  echo "ensure_vm: $*" >&2
  exit 1
}

# --- 1. packages -----------------------------------------------------------

# Which kernels are installed: "KVER" lines for every /boot/vmlinuz-*-amd64 whose
# modules are there too (a half-removed package leaves one without the other).
installed_kernels() {
  local f v
  for f in /boot/vmlinuz-*-amd64; do
    [ -e "$f" ] || continue
    v=${f#/boot/vmlinuz-}
    [ -f "/lib/modules/$v/modules.dep" ] && echo "$v"
  done
  return 0
}

missing_packages() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 || echo qemu-system-x86
  command -v cpio >/dev/null 2>&1 || echo cpio
  command -v xz >/dev/null 2>&1 || echo xz-utils
  command -v modprobe >/dev/null 2>&1 || echo kmod
  command -v wg >/dev/null 2>&1 || echo wireguard-tools
  command -v ip >/dev/null 2>&1 || echo iproute2
  command -v ping >/dev/null 2>&1 || echo iputils-ping
  # busybox (dynamic) and busybox-static both provide /bin/busybox: only the
  # static one works in an initramfs without a C library.
  if ! [ -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    echo busybox-static
  fi
  [ -n "$(installed_kernels)" ] || echo linux-image-amd64
}

mkdir -p "$cache" || die "cannot create $cache"
exec 9>"$cache/.lock" || die "cannot open $cache/.lock"

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -gt 0 ]; then
  flock 9
  mapfile -t missing < <(missing_packages)
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
  echo "ensure_vm: installing ${missing[*]} (the kernel package takes a while: initramfs hooks)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Package lists are fetched only when apt does not know a package yet (a
  # fresh machine or container), not on every install.
  for p in "${missing[@]}"; do
    if ! apt-cache show "$p" >/dev/null 2>&1; then
      apt-get update -qq >&2 || die "apt-get update failed"
      break
    fi
  done
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
  mapfile -t still < <(missing_packages)
  [ ${#still[@]} -eq 0 ] || die "still missing after apt-get install: ${still[*]}"
fi

# --- 2. kernel choice --------------------------------------------------------

if [ -n "${WG_VM_KVER:-}" ]; then
  kver=$WG_VM_KVER
  installed_kernels | grep -qxF "$kver" ||
    die "WG_VM_KVER=$kver: no /boot/vmlinuz-$kver with /lib/modules/$kver/modules.dep"
else
  # Plain flavour first (-rt- and -cloud- behave or boot differently), newest
  # version first; any flavour if only those are installed.
  kver=$(installed_kernels | grep -Ev -- '-(rt|cloud)-amd64$' | sort -V | tail -n1 || true)
  [ -n "$kver" ] || kver=$(installed_kernels | sort -V | tail -n1)
  [ -n "$kver" ] || die "no linux-image-*-amd64 kernel installed (apt-get install linux-image-amd64)"
fi
vmlinuz="/boot/vmlinuz-$kver"
[ -r "$vmlinuz" ] || die "cannot read $vmlinuz (run as root)"

dir="$cache/$kver"
kernel="$dir/vmlinux"
initrd="$dir/initramfs.cpio"

print_env() {
  local env
  env=$(printf 'VM_KVER=%s\nVM_KERNEL=%s\nVM_INITRD=%s\nVM_CACHE=%s\n' "$kver" "$kernel" "$initrd" "$cache")
  # Rewrite the env file only when it changes: readers never see half a file.
  if [ "$(cat "$cache/vm.env" 2>/dev/null || true)" != "$env" ]; then
    printf '%s\n' "$env" >"$cache/vm.env.tmp" && mv "$cache/vm.env.tmp" "$cache/vm.env"
  fi
  printf '%s\n' "$env"
}

# Everything the cached files are made of; a change in any rebuilds them.
stamp_of() {
  printf 'format 1\nkver %s\n' "$kver"
  stat -Lc 'kernel %s %Y' "$vmlinuz"
  stat -Lc 'busybox %s %Y' /bin/busybox
  stat -Lc 'modules.dep %s %Y' "/lib/modules/$kver/modules.dep"
  cksum <"$init_src"
  cksum <"${BASH_SOURCE[0]}"
}
stamp=$(stamp_of)

if [ -f "$kernel" ] && [ -f "$initrd" ] && [ "$(cat "$dir/stamp" 2>/dev/null || true)" = "$stamp" ]; then
  print_env
  exit 0
fi

# --- 3. build (under the lock; re-check: another caller may have just built) --

flock 9
if [ -f "$kernel" ] && [ -f "$initrd" ] && [ "$(cat "$dir/stamp" 2>/dev/null || true)" = "$stamp" ]; then
  print_env
  exit 0
fi
echo "ensure_vm: preparing $dir" >&2
mkdir -p "$dir"
build=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$build"' EXIT

# The uncompressed kernel: bzImage = setup code + an xz stream holding the ELF
# vmlinux. QEMU boots that ELF directly through its PVH entry point. The magic
# may also occur by chance earlier: try each offset until one decompresses to
# an ELF file.
found=""
while IFS=: read -r off _; do
  # Process substitution, not a pipe: xz stops reading at the end of its
  # stream, tail then dies of SIGPIPE, and pipefail would call that a failure.
  if xz -dc --single-stream < <(tail -c +"$((off + 1))" "$vmlinuz") >"$build/vmlinux" 2>/dev/null &&
    [ "$(head -c 4 "$build/vmlinux" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
    found=$off
    break
  fi
done < <(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" || true)
[ -n "$found" ] || die "no xz-compressed ELF kernel inside $vmlinuz"

# The initramfs tree.
rootfs="$build/root"
mkdir -p "$rootfs"/{bin,dev,proc,sys,job,lower,ovl,newroot,modules}
cp /bin/busybox "$rootfs/bin/busybox"
# Applet links made here rather than by "busybox --install" at every boot.
for applet in $("$rootfs/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done
cp "$init_src" "$rootfs/init"
chmod 0755 "$rootfs/init"

# Modules in load order, each once; "builtin X" lines need nothing.
declare -A seen=()
: >"$rootfs/modules/order"
for m in "${initramfs_modules[@]}"; do
  deps=$(modprobe -S "$kver" --show-depends "$m" 2>/dev/null) || die "module $m not found for $kver"
  while read -r verb path _; do
    [ "$verb" = insmod ] || continue
    name=$(basename "$path")
    name=${name%.xz}
    name=${name%.zst}
    name=${name%.gz}
    [ -n "${seen[$name]:-}" ] && continue
    seen[$name]=1
    case "$path" in
      *.ko) cp "$path" "$rootfs/modules/$name" ;;
      *.ko.xz) xz -dc "$path" >"$rootfs/modules/$name" ;;
      *.ko.zst)
        command -v zstd >/dev/null 2>&1 || die "$path is zstd-compressed: apt-get install zstd"
        zstd -qdc "$path" >"$rootfs/modules/$name"
        ;;
      *.ko.gz) gzip -dc "$path" >"$rootfs/modules/$name" ;;
      *) die "unexpected module file $path" ;;
    esac
    echo "$name" >>"$rootfs/modules/order"
  done <<<"$deps"
done

(cd "$rootfs" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$build/initramfs.cpio" ||
  die "cpio failed"

# Replace the old files only once the new ones are complete.
mv -f "$build/vmlinux" "$kernel"
mv -f "$build/initramfs.cpio" "$initrd"
printf '%s\n' "$stamp" >"$dir/stamp"
echo "ensure_vm: kernel $kver ($(du -h "$kernel" | cut -f1)), initramfs $(du -h "$initrd" | cut -f1): $(tr '\n' ' ' <"$rootfs/modules/order")" >&2
print_env

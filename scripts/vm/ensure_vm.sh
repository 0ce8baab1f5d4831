#!/usr/bin/env bash
# ensure_vm.sh: makes sure the kernel-WireGuard test VM can boot.
#
# 1. Installs, only where missing, the Debian packages it needs: qemu-system-x86,
#    busybox-static, cpio, kmod, xz-utils, what the guest runs from the host's
#    file system in the smoke test (wireguard-tools, iproute2, iputils-ping),
#    linux-image-amd64 when no plain-flavour kernel is installed (Debian's
#    kernel: this machine's own has no WireGuard; an -rt- or -cloud- one that
#    apt recommends pulled in does not count, see choose_kernel.sh), and zstd
#    when the chosen kernel is zstd-compressed (Debian's 6.12 kernels).
# 2. Prepares, in .tools/vm/KVER/ (git-ignored), for the kernel
#    choose_kernel.sh picks (the newest plain one; WG_VM_KVER=KVER picks any
#    installed one, e.g. an -rt- one):
#      vmlinux        the uncompressed ELF kernel (extract_vmlinux.sh): under
#                     TCG the compressed one spends seconds decompressing
#                     itself on every boot;
#      initramfs.cpio static busybox, the virtio/9p/overlay modules decompressed
#                     (busybox insmod cannot read .ko.xz) in dependency order,
#                     and guest_init.sh as /init. Left uncompressed: fewer
#                     emulated instructions at boot than gunzip.
# 3. Prints KEY=VALUE lines (VM_KVER, VM_KERNEL, VM_INITRD, VM_CACHE) on stdout
#    and writes them to .tools/vm/vm.env. Progress goes to stderr.
#
# Idempotent: a stamp of the inputs (kernel file, busybox, init script, this
# script and extract_vmlinux.sh) decides whether anything is rebuilt; the fast path costs a few
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
  # A kernel named in WG_VM_KVER needs no other one.
  [ -n "${WG_VM_KVER:-}" ] || bash "$here/choose_kernel.sh" >/dev/null 2>&1 || echo linux-image-amd64
}

# apt_install PACKAGE...: apt-get install, fetching the package lists only when apt
# does not know a package yet (a fresh machine or container), not every time.
apt_install() {
  [ "$(id -u)" -eq 0 ] || die "need root to install $*: run as root, or apt-get install $* first"
  echo "ensure_vm: installing $* (a kernel package takes a while: initramfs hooks)" >&2
  local p
  for p in "$@"; do
    if ! apt-cache show "$p" >/dev/null 2>&1; then
      apt-get update -qq >&2 ||
        die "apt-get update failed (output above): fix the apt sources or the network, then rerun"
      break
    fi
  done
  # Lock timeout: another apt run (a parallel test's, unattended-upgrades) may
  # hold the dpkg lock for a while.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "$@" >&2 ||
    die "apt-get install $* failed (output above): fix apt, then rerun"
}

mkdir -p "$cache" || die "cannot create $cache: run as root or as the owner of $root"
exec 9>"$cache/.lock" || die "cannot open $cache/.lock: run as root or as the owner of $root"

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -gt 0 ]; then
  flock 9
  mapfile -t missing < <(missing_packages)
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
  mapfile -t still < <(missing_packages)
  [ ${#still[@]} -eq 0 ] ||
    die "still missing after apt-get install: ${still[*]}: run apt-get install ${still[*]} by hand to see why"
fi

# --- 2. kernel choice --------------------------------------------------------

# Its error already starts with "ensure_vm:".
kver=$(bash "$here/choose_kernel.sh") || exit 1
vmlinuz="/boot/vmlinuz-$kver"
[ -r "$vmlinuz" ] || die "cannot read $vmlinuz: run as root"

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
  cksum <"$here/extract_vmlinux.sh"
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

# zstd only when this kernel or its modules need it: Debian 12's own 6.1 is xz
# throughout. The magic may occur by chance in an xz kernel; that only costs an
# install.
if ! command -v zstd >/dev/null 2>&1 &&
  { LC_ALL=C grep -qaP '\x28\xb5\x2f\xfd' "$vmlinuz" || grep -q '\.ko\.zst' "/lib/modules/$kver/modules.dep"; }; then
  apt_install zstd
fi

# Its error already starts with "ensure_vm:".
unpacked=$(bash "$here/extract_vmlinux.sh" "$vmlinuz" "$build/vmlinux") || exit 1

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
  deps=$(modprobe -S "$kver" --show-depends "$m" 2>/dev/null) ||
    die "module $m not found for $kver: apt-get install --reinstall linux-image-$kver, or set WG_VM_KVER to another installed kernel"
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
      *) die "unexpected module file $path: set WG_VM_KVER to another installed kernel" ;;
    esac
    echo "$name" >>"$rootfs/modules/order"
  done <<<"$deps"
done

(cd "$rootfs" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$build/initramfs.cpio" ||
  die "cpio failed (output above): check free space in $cache"

# Replace the old files only once the new ones are complete.
mv -f "$build/vmlinux" "$kernel"
mv -f "$build/initramfs.cpio" "$initrd"
printf '%s\n' "$stamp" >"$dir/stamp"
echo "ensure_vm: kernel $kver ($(du -h "$kernel" | cut -f1), ${unpacked% *} at byte ${unpacked#* }), initramfs $(du -h "$initrd" | cut -f1): $(tr '\n' ' ' <"$rootfs/modules/order")" >&2
print_env

#!/usr/bin/env bash
# Assembles the private glibc runtime that lets the glibc-linked Deno binary
# start on musl systems (OpenWrt): the glibc loader and exactly the shared
# libraries the binary needs, taken from Debian's glibc for the architecture.
#   x86_64:  from this (amd64) build host's libc6 and libgcc-s1
#   aarch64: from Debian's arm64 libc6 and libgcc-s1 (scripts/release/arm64_packages.sh:
#            a private apt state; the host's apt setup is not changed)
# The binary is then started as
#   <dir>/ld-linux-<arch>.so.* --library-path <dir> <dir>/wg-reinstate ...
# never with LD_LIBRARY_PATH: musl's loader honours that variable too, and
# the musl programs the tool starts (wg, ubus, uci) would load glibc.
# Usage: glibc_runtime.sh x86_64|aarch64 OUTDIR
set -euo pipefail
arch=${1:?usage: glibc_runtime.sh x86_64|aarch64 OUTDIR}
out=${2:?usage: glibc_runtime.sh x86_64|aarch64 OUTDIR}
# What Deno 2.9's binaries list as NEEDED (readelf -d), besides the loader.
libs=(libc.so.6 libm.so.6 libdl.so.2 librt.so.1 libpthread.so.0 libgcc_s.so.1)

case $arch in
  x86_64)
    triplet=x86_64-linux-gnu loader=ld-linux-x86-64.so.2 machine="X86-64"
    [ "$(dpkg --print-architecture)" = amd64 ] || { echo "glibc_runtime: x86_64 needs an amd64 build host" >&2; exit 1; }
    root=/
    ;;
  aarch64)
    triplet=aarch64-linux-gnu loader=ld-linux-aarch64.so.1 machine="AArch64"
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    bash "$(dirname "${BASH_SOURCE[0]}")/arm64_packages.sh" "$root" libc6 libgcc-s1
    ;;
  *) echo "glibc_runtime: unknown architecture $arch (x86_64 or aarch64)" >&2; exit 2 ;;
esac

find_lib() {
  local name=$1 dir
  for dir in "$root/lib/$triplet" "$root/usr/lib/$triplet" "$root/lib64" "$root/lib"; do
    if [ -e "$dir/$name" ]; then echo "$dir/$name"; return 0; fi
  done
  echo "glibc_runtime: $name not found for $arch" >&2
  return 1
}

mkdir -p "$out"
for name in "$loader" "${libs[@]}"; do
  cp -L "$(find_lib "$name")" "$out/$name"
  # Guard against a host library of the wrong architecture slipping in.
  readelf -h "$out/$name" | grep -q "Machine:.*$machine" || {
    echo "glibc_runtime: $name is not $machine" >&2
    exit 1
  }
done
chmod 0644 "$out"/*.so*
chmod 0755 "$out/$loader"
echo "$out: $loader ${libs[*]} ($(du -sh "$out" | cut -f1))"

#!/usr/bin/env bash
# extract_vmlinux.sh KERNEL OUT: writes the uncompressed ELF kernel held in the
# bzImage KERNEL (a /boot/vmlinuz-*) to OUT and prints "FORMAT OFFSET" (e.g.
# "zstd 21196"). QEMU boots that ELF directly through its PVH entry point;
# under TCG the compressed image spends seconds decompressing itself instead.
#
# A bzImage is setup code followed by one compressed stream: xz in Debian's
# 6.1 kernels, zstd in its 6.12 ones (CONFIG_KERNEL_ZSTD). Either magic may
# also occur by chance, so every offset holding one is tried, in file order,
# until one decompresses to a whole ELF.
#
# Errors: one line starting "ensure_vm:" (this is its helper), exit status 1,
# and no OUT left behind.
set -euo pipefail
# Byte-wise grep; the bytes read here are never UTF-8.
export LC_ALL=C

die() {
  rm -f "${out:-}"
  echo "ensure_vm: $*" >&2
  exit 1
}

[ "$#" -eq 2 ] || die "usage: extract_vmlinux.sh KERNEL OUT"
kernel=$1
out=$2
if ! [ -f "$kernel" ] || ! [ -r "$kernel" ]; then
  die "cannot read $kernel: run as root, or set WG_VM_KVER to another installed kernel"
fi

# num OFFSET BYTES: the unsigned little-endian integer at OFFSET of $out.
num() { od -An --endian=little -tu"$2" -j "$1" -N "$2" "$out" | tr -d ' \n'; }

# Whether $out is a whole x86-64 ELF: its program headers' segments and its
# section header table all end inside the file. Exit statuses cannot tell:
# zstd always fails on the bytes after its frame (the kernel build appends the
# size, then the rest of the bzImage follows), having written everything.
whole_elf() {
  local size ph phnum phsize sh shnum shsize i o n
  # 7f 'E' 'L' 'F', 64-bit, little-endian.
  [ "$(od -An -tx1 -N 6 "$out" | tr -d ' \n')" = 7f454c460201 ] || return 1
  [ "$(num 18 2)" = 62 ] || return 1 # EM_X86_64
  size=$(stat -c %s "$out")
  ph=$(num 32 8) sh=$(num 40 8)
  phsize=$(num 54 2) phnum=$(num 56 2) shsize=$(num 58 2) shnum=$(num 60 2)
  # Beyond 15 digits bash arithmetic would wrap: no real kernel is that big.
  [ "${#ph}" -le 15 ] && [ "${#sh}" -le 15 ] || return 1
  [ "$((ph + phnum * phsize))" -le "$size" ] && [ "$((sh + shnum * shsize))" -le "$size" ] ||
    return 1
  for ((i = 0; i < phnum; i++)); do
    o=$(num $((ph + i * phsize + 8)) 8)  # p_offset
    n=$(num $((ph + i * phsize + 32)) 8) # p_filesz
    [ "${#o}" -le 15 ] && [ "${#n}" -le 15 ] && [ "$((o + n))" -le "$size" ] || return 1
  done
}

# "OFFSET FORMAT" lines in file order; cut keeps the matched bytes out.
candidates() {
  {
    grep -obUaP '\xfd7zXZ\x00' "$kernel" | cut -d: -f1 | sed 's/$/ xz/' || true
    grep -obUaP '\x28\xb5\x2f\xfd' "$kernel" | cut -d: -f1 | sed 's/$/ zstd/' || true
  } | sort -n
}

declare -A lacking=() # packages of decompressors the candidates needed
while read -r off format; do
  case "$format" in
    xz) tool=xz package=xz-utils ;;
    *) tool=zstd package=zstd ;;
  esac
  if ! command -v "$tool" >/dev/null 2>&1; then
    lacking[$package]=1
    continue
  fi
  # Process substitution, not a pipe: the decompressor stops reading at the
  # end of its stream, tail then dies of SIGPIPE, and pipefail would call that
  # a failure.
  if [ "$format" = xz ]; then
    # --single-stream: the rest of the bzImage after the stream is no error.
    xz -dc --single-stream < <(tail -c +"$((off + 1))" "$kernel") >"$out" 2>/dev/null || continue
  else
    zstd -qdc < <(tail -c +"$((off + 1))" "$kernel") >"$out" 2>/dev/null || true
  fi
  if whole_elf; then
    echo "$format $off"
    exit 0
  fi
done < <(candidates)

[ "${#lacking[@]}" -eq 0 ] ||
  die "no ELF kernel found inside $kernel with the decompressors installed: apt-get install ${!lacking[*]}"
die "no xz- or zstd-compressed ELF kernel inside $kernel: is it a bzImage? apt-get install --reinstall its package, or set WG_VM_KVER to another installed kernel"

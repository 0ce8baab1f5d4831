#!/usr/bin/env bash
# choose_kernel.sh [BOOT_DIR [MODULES_DIR]]: prints the KVER of the Debian
# kernel the test VM boots. Installed means BOOT_DIR/vmlinuz-KVER (an -amd64
# one) and MODULES_DIR/KVER/modules.dep both exist: a half-removed package
# leaves one without the other. Defaults: /boot and /lib/modules.
#
# WG_VM_KVER=KVER picks any installed kernel. Otherwise the newest plain one
# (not -rt-, not -cloud-), and never another flavour: on PREEMPT_RT every peer
# removal waits out a normal RCU grace period (~33 ms against well under 1 ms)
# and -cloud- has a trimmed driver set, so tests would measure something else.
# Apt recommends can install an -rt- kernel on their own (wireguard-tools
# does); ensure_vm.sh then installs linux-image-amd64 beside it.
#
# A pure choice over file names: it reads no kernel, so it can be tested on a
# directory of empty files. Errors: one line starting "ensure_vm:" (this is
# its helper), exit status 1.
set -euo pipefail

boot=${1:-/boot}
modules=${2:-/lib/modules}

die() {
  echo "ensure_vm: $*" >&2
  exit 1
}

installed=()
for f in "$boot"/vmlinuz-*-amd64; do
  [ -e "$f" ] || continue
  v=${f##*/vmlinuz-}
  [ -f "$modules/$v/modules.dep" ] && installed+=("$v")
done
list=${installed[*]:-none}

if [ -n "${WG_VM_KVER:-}" ]; then
  for v in "${installed[@]}"; do
    if [ "$v" = "$WG_VM_KVER" ]; then
      echo "$v"
      exit 0
    fi
  done
  die "WG_VM_KVER=$WG_VM_KVER is not installed (no $boot/vmlinuz-$WG_VM_KVER with $modules/$WG_VM_KVER/modules.dep): set it to one of [$list], or unset it"
fi

plain=$(printf '%s\n' "${installed[@]}" | grep -Ev -- '-(rt|cloud)-amd64$' | sort -V | tail -n1 || true)
[ -n "$plain" ] ||
  die "no plain linux-image-*-amd64 kernel in $boot (installed: [$list]; -rt-/-cloud- are only used when named): apt-get install linux-image-amd64, or set WG_VM_KVER to an installed kernel"
echo "$plain"

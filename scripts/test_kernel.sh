#!/usr/bin/env bash
# The kernel tier: tests/kernel/ run inside a QEMU guest booting Debian's own
# kernel, against kernel WireGuard (scripts/vm/). Three boots:
#   - a normal kernel: every test but slow_kernel_test.ts, in parallel;
#   - a slow kernel (rcupdate.rcu_normal=1, as PREEMPT_RT behaves): slow_kernel_test.ts;
#   - the host's systemd as PID 1: tests/systemd/ (the unit under real systemd).
# Each prints Deno's own summary line. Exits non-zero when any fails.
# Extra arguments go to both `deno test` runs. Needs root.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
deno=${DENO:-$(command -v deno)}
[ -x "$deno" ] || { echo "test_kernel: deno not found (run through scripts/test.sh)" >&2; exit 1; }
bash scripts/vm/ensure_vm.sh >/dev/null || exit 1

# The guest sees the host's files (its Deno cache too) under a throwaway overlay.
vm=(bash scripts/vm/run_in_vm.sh --modprobe "wireguard,veth" --timeout 2400 --env NO_COLOR
  --env DENO_DIR)
status=0
echo "== kernel tier: normal kernel"
"${vm[@]}" -- "$deno" test --allow-all --parallel tests/kernel/ \
  --ignore=tests/kernel/slow_kernel_test.ts "$@" || status=1
echo "== kernel tier: slow kernel (rcupdate.rcu_normal=1)"
"${vm[@]}" --cmdline rcupdate.rcu_normal=1 -- "$deno" test --allow-all \
  tests/kernel/slow_kernel_test.ts "$@" || status=1
echo "== kernel tier: systemd as PID 1"
"${vm[@]}" --init systemd -- "$deno" test --allow-all tests/systemd/ "$@" || status=1
exit "$status"

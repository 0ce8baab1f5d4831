#!/usr/bin/env bash
# Every test tier: unit, lab and release on this host (one `deno test`), the
# kernel tier in the VM (scripts/test_kernel.sh), then the host-state tier:
# the host's /var/run/wg-reinstate, /etc and /var/lib are as they were before.
# Each `deno test` prints its own summary line; .ci/run adds them up. Exits
# non-zero when any tier fails, after running them all. Extra arguments go to
# every `deno test`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
status=0
# Set-up that may install packages comes before the host's state is recorded.
bash scripts/vm/ensure_vm.sh >/dev/null || status=1
record=$(mktemp)
trap 'rm -f "$record"' EXIT
deno run --allow-read --allow-write="$record" tests/support/host_state.ts "$record" || status=1

echo "== unit, lab and release tiers"
deno test --allow-all --parallel tests/unit/ tests/lab/ tests/release/ "$@" || status=1
bash scripts/test_kernel.sh "$@" || status=1
echo "== host state"
WG_REINSTATE_HOST_STATE=$record deno test --allow-all tests/host/ "$@" || status=1
exit "$status"

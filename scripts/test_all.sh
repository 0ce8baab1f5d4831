#!/usr/bin/env bash
# Every test tier: unit, lab and release on this host (one `deno test`), then
# the kernel tier in the VM (scripts/test_kernel.sh). Each `deno test` prints
# its own summary line; .ci/run adds them up. Exits non-zero when any tier
# fails, after running them all. Extra arguments go to every `deno test`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
status=0
echo "== unit, lab and release tiers"
deno test --allow-all --parallel tests/unit/ tests/lab/ tests/release/ "$@" || status=1
bash scripts/test_kernel.sh "$@" || status=1
exit "$status"

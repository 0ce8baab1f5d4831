#!/usr/bin/env bash
# The benchmark: installs what is missing, then runs `deno task bench`.
# Extra arguments go to scripts/bench.ts (--peers 1000,10000 --runs 5).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deno=$(bash "$root/scripts/ensure_deps.sh")
cd "$root"
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: run as root (network namespaces)" >&2; exit 1; }
PATH="$(dirname "$deno"):$PATH"
export PATH
exec "$deno" task bench "$@"

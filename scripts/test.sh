#!/usr/bin/env bash
# The test command: installs what is missing, then runs `deno task test`
# (unit tests, and integration tests against real wireguard-go in network
# namespaces; those need root). Extra arguments go to `deno test`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deno=$(bash "$root/scripts/ensure_deps.sh")
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: the integration tests need root (network namespaces, wireguard-go)" >&2
  exit 1
fi
PATH="$(dirname "$deno"):$PATH"
export PATH
exec "$deno" task test "$@"

#!/usr/bin/env bash
# The demo: a wireguard-go server in a network namespace with real clients;
# shows `status`, purges, shows `status` again. Installs what is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deno=$(bash "$root/scripts/ensure_deps.sh")
cd "$root"
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (network namespaces)" >&2; exit 1; }
PATH="$(dirname "$deno"):$PATH"
export PATH
exec "$deno" task demo "$@"

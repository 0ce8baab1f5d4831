#!/usr/bin/env bash
# Installs what is missing (scripts/ensure_deps.sh), then runs a deno task as
# root: with_deps.sh TASK [ARGS...]. demo.sh, test.sh and bench.sh use it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
task=${1:?usage: with_deps.sh TASK [ARGS...]}
shift
# The tests need the full list; the demo and the benchmark only WireGuard.
case $task in
  test*) profile="test" ;;
  *) profile="demo" ;;
esac
deno=$(bash "$root/scripts/ensure_deps.sh" "$profile")
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
  echo "$task: run as root (network namespaces, wireguard-go)" >&2
  exit 1
fi
PATH="$(dirname "$deno"):$PATH"
# Trust the host's CA store as apt and curl do (a proxy's CA), besides Deno's own.
DENO_TLS_CA_STORE=${DENO_TLS_CA_STORE:-system,mozilla}
export PATH DENO_TLS_CA_STORE
# Fetch the npm packages once, quietly, before anything prints: the demo's
# story then has no download lines in it.
"$deno" install --quiet >&2
exec "$deno" task --quiet "$task" "$@"

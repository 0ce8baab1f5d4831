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
export PATH
exec "$deno" task "$task" "$@"

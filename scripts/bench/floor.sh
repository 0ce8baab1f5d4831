#!/usr/bin/env bash
# The floor for one purge cycle, for the benchmark: the least any tool must
# do, issued straight from a shell. One `wg show <iface> dump`, a 0600 file
# per preshared key, batched `wg set` remove/re-add calls (same argv budget
# as wg-reinstate), and one verify dump. Purges every peer that has an
# endpoint and a handshake (the benchmark makes them all stale), or with
# BEFORE, one whose handshake is older than that unix second.
# Usage: floor.sh IFACE [ARGV_BUDGET_BYTES] [BEFORE]
set -euo pipefail
iface=$1
budget=${2:-524288}
before=${3:-0}
umask 077
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

wg show "$iface" dump >"$dir/dump"
# One argument per line into chunk files of at most $budget bytes of argv
# (text + NUL + pointer per argument, as wg-reinstate counts).
awk -F'\t' -v dir="$dir" -v budget="$budget" -v before="$before" '
  function arg(a) { line = line a "\n"; cost += length(a) + 9 }
  NR > 1 && $3 != "(none)" && $5 > 0 && (before == 0 || $5 < before) {
    line = ""; cost = 0
    arg("peer"); arg($1); arg("remove"); arg("peer"); arg($1)
    if ($4 != "(none)") { arg("allowed-ips"); arg($4) }
    if ($2 != "(none)") { f = dir "/psk-" NR; print $2 > f; close(f); arg("preshared-key"); arg(f) }
    if ($8 != "off") { arg("persistent-keepalive"); arg($8) }
    if (chunk == 0 || size + cost > budget) { chunk++; size = 0 }
    printf "%s", line > (dir "/chunk-" chunk)
    size += cost
  }' "$dir/dump"
for chunk in "$dir"/chunk-*; do
  [ -e "$chunk" ] || continue
  mapfile -t args <"$chunk"
  wg set "$iface" "${args[@]}"
done
wg show "$iface" dump >/dev/null

#!/usr/bin/env bash
# Removes what an interrupted test run may have left: network namespaces
# named wr-* and the processes inside them (wireguard-go, load generators).
# Processes are found through their namespace (`ip netns pids`) and ended by
# pid, never by matching command lines, so nothing outside a lab is touched.
# Usage: clean_labs.sh [PREFIX]   (namespaces whose name starts with PREFIX; default wr-)
set -u
prefix=${1:-wr-}
mapfile -t namespaces < <(ip netns list 2>/dev/null | awk -v p="$prefix" 'index($1, p) == 1 {print $1}')
for ns in "${namespaces[@]}"; do
  mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
  # Give them a moment to exit, then end whatever is left.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
    sleep 0.2
  done
  mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
  [ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
done
exit 0

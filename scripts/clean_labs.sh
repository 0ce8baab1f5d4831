#!/usr/bin/env bash
# Removes what an interrupted test run may have left: network namespaces
# named wr-* and the wireguard-go processes serving wr* interfaces.
set -u
pkill -f 'wireguard-go -f wr' 2>/dev/null || true
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^wr-/ {print $1}'); do
  ip netns del "$ns" 2>/dev/null || true
done

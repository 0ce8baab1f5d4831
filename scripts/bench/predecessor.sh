#!/usr/bin/env bash
# The predecessor's method, for the benchmark's comparison: for every peer
# with an endpoint and a handshake, one `wg set IFACE peer K remove` and then
# one `wg set IFACE peer K allowed-ips ... [preshared-key FILE]
# [persistent-keepalive N]`: two processes per peer. (The predecessor dropped
# preshared keys; this keeps them, so that both leave the same state.)
# Usage: predecessor.sh IFACE
set -euo pipefail
iface=$1
umask 077
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
wg show "$iface" dump | tail -n +2 >"$dir/dump"
n=0
while IFS=$'\t' read -r key psk endpoint ips handshake _ _ keepalive; do
  if [ "$endpoint" = "(none)" ] || [ "$handshake" -eq 0 ]; then continue; fi
  args=(peer "$key")
  [ "$ips" != "(none)" ] && args+=(allowed-ips "$ips")
  if [ "$psk" != "(none)" ]; then
    n=$((n + 1))
    printf '%s\n' "$psk" >"$dir/psk-$n"
    args+=(preshared-key "$dir/psk-$n")
  fi
  [ "$keepalive" != "off" ] && args+=(persistent-keepalive "$keepalive")
  wg set "$iface" peer "$key" remove
  wg set "$iface" "${args[@]}"
done <"$dir/dump"

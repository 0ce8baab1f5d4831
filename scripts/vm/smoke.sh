#!/usr/bin/env bash
# smoke.sh [run_in_vm options]: proves the VM can do what the kernel WireGuard
# tests need. Boots the VM (run_in_vm.sh, options passed through, e.g.
# --cmdline rcupdate.rcu_normal=1) and, inside it:
#   - loads wireguard and veth with the host's modprobe;
#   - builds two network namespaces joined by a veth pair, a kernel WireGuard
#     interface in each, one peer each way with a preshared key;
#   - pings through the tunnel so that a real handshake happens;
#   - prints `wg show all dump` with the private and preshared keys hidden;
#   - checks that one `wg set IFACE peer K remove peer K allowed-ips ...
#     preshared-key FILE` leaves endpoint (none), latest handshake 0, and the
#     same preshared key and allowed-ips;
#   - runs the repo's deno.
# Exits 0 only if every check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

# ---------------------------------------------------------------- host side
if [ "${1:-}" != --guest ]; then
  deno=${DENO:-$repo/.tools/deno/deno}
  if ! [ -x "$deno" ]; then
    if command -v deno >/dev/null 2>&1; then
      deno=$(command -v deno)
    elif [ -f "$repo/scripts/dev.sh" ]; then
      # The project's own installer puts Deno from npm into .tools/.
      deno=$(bash "$repo/scripts/dev.sh" deps demo) || {
        echo "smoke: cannot install deno" >&2
        exit 1
      }
    else
      echo "smoke: no deno: set DENO=/path/to/deno" >&2
      exit 1
    fi
  fi
  exec bash "$here/run_in_vm.sh" --timeout 300 "$@" --env "DENO=$deno" -- bash "$here/smoke.sh" --guest
fi

# --------------------------------------------------------------- guest side
failures=0
check() { # DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    echo "ok   $1: $3"
  else
    echo "FAIL $1: expected [$2], got [$3]"
    failures=$((failures + 1))
  fi
}

echo "kernel $(uname -r), $(nproc) vCPUs, $(wg --version)"
modprobe wireguard
modprobe veth
echo "modules: $(lsmod | awk '$1 == "wireguard" || $1 == "veth" {print $1}' | sort | tr '\n' ' ')"

# Two namespaces on a veth pair: 10.99.0.0/24 underneath, 10.100.0.0/24 in the
# tunnel.
a=smoke-a
b=smoke-b
ip netns add "$a"
ip netns add "$b"
ip link add va netns "$a" type veth peer name vb netns "$b"
ip -n "$a" link set lo up
ip -n "$b" link set lo up
ip -n "$a" addr add 10.99.0.1/24 dev va
ip -n "$b" addr add 10.99.0.2/24 dev vb
ip -n "$a" link set va up
ip -n "$b" link set vb up

keys=$(mktemp -d) # the guest's /tmp: a tmpfs
umask 077
wg genkey >"$keys/a.key"
wg genkey >"$keys/b.key"
wg genpsk >"$keys/psk"
pub_a=$(wg pubkey <"$keys/a.key")
pub_b=$(wg pubkey <"$keys/b.key")

ip -n "$a" link add wga type wireguard
ip -n "$b" link add wgb type wireguard
ip netns exec "$a" wg set wga listen-port 51820 private-key "$keys/a.key" \
  peer "$pub_b" preshared-key "$keys/psk" allowed-ips 10.100.0.2/32 endpoint 10.99.0.2:51821
ip netns exec "$b" wg set wgb listen-port 51821 private-key "$keys/b.key" \
  peer "$pub_a" preshared-key "$keys/psk" allowed-ips 10.100.0.1/32 endpoint 10.99.0.1:51820
ip -n "$a" addr add 10.100.0.1/24 dev wga
ip -n "$b" addr add 10.100.0.2/24 dev wgb
ip -n "$a" link set wga up
ip -n "$b" link set wgb up

echo "ping through the tunnel:"
ping_out=$(ip netns exec "$a" ping -c 3 -i 0.2 -W 3 10.100.0.2 2>&1) || true
echo "$ping_out" | tail -n 2
check "ping 10.100.0.2 from $a" "3 received" "$(echo "$ping_out" | grep -o '[0-9]* received' || echo none)"

# wg show all dump, secrets hidden: the interface line's 2nd field is its
# private key, a peer line's 3rd field its preshared key.
show_dump() { # NAMESPACE
  ip netns exec "$1" wg show all dump | awk -F'\t' -v OFS='\t' '
    NF == 5 { $2 = "(private key hidden)" }
    NF == 9 && $3 != "(none)" { $3 = "(psk hidden)" }
    { print "  " $0 }'
}
echo "wg show all dump in $a (after the handshake):"
show_dump "$a"
echo "wg show all dump in $b:"
show_dump "$b"

field() { # NAMESPACE IFACE WHAT: the one peer's value of `wg show IFACE WHAT`
  ip netns exec "$1" wg show "$2" "$3" | awk -F'\t' '{print $2}'
}
hs_a=$(field "$a" wga latest-handshakes)
check "handshake happened on wga" yes "$([ "${hs_a:-0}" -gt 0 ] && echo yes || echo no)"
check "endpoint of $b's peer on wga" 10.99.0.2:51821 "$(field "$a" wga endpoints)"
psk_before=$(field "$a" wga preshared-keys)
allowed_before=$(field "$a" wga allowed-ips)
check "preshared key set on wga" yes "$([ "$psk_before" = "$(cat "$keys/psk")" ] && echo yes || echo no)"

echo "purge in one call: wg set wga peer B remove peer B allowed-ips 10.100.0.2/32 preshared-key FILE"
ip netns exec "$a" wg set wga peer "$pub_b" remove \
  peer "$pub_b" allowed-ips 10.100.0.2/32 preshared-key "$keys/psk"
echo "wg show all dump in $a (after the purge):"
show_dump "$a"
check "peers on wga" 1 "$(ip netns exec "$a" wg show wga peers | wc -l)"
check "endpoint after purge" "(none)" "$(field "$a" wga endpoints)"
check "latest handshake after purge" 0 "$(field "$a" wga latest-handshakes)"
check "same preshared key after purge" yes "$([ "$(field "$a" wga preshared-keys)" = "$psk_before" ] && echo yes || echo no)"
check "same allowed-ips after purge" "$allowed_before" "$(field "$a" wga allowed-ips)"

echo "deno in the guest:"
deno_ok=yes
deno_out=$("$DENO" --version 2>&1) || deno_ok=no
while IFS= read -r line; do echo "  $line"; done <<<"$deno_out"
check "deno runs" yes "$deno_ok"

if [ "$failures" -eq 0 ]; then
  echo "smoke: all checks passed"
  exit 0
fi
echo "smoke: $failures check(s) failed"
exit 1

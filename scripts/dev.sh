#!/usr/bin/env bash
# The one entry for developer tasks, as root from a checkout. Each installs,
# only where missing, what it needs, then runs:
#   dev.sh demo [--real]   the tool on a built-in demo (scripts/demo.ts)
#   dev.sh test [ARGS...]  every test tier; ARGS go to every `deno test`
#   dev.sh bench [ARGS...] the benchmark (scripts/bench/bench.ts)
#   dev.sh deps [demo|test] only the installing; prints the Deno binary's path
#
# What is installed, from apt without recommends (wireguard-tools recommends a
# whole kernel):
#   demo, bench: wireguard-tools, wireguard-go, iproute2, iputils-ping, curl,
#                ca-certificates, and Deno
#   test:        that, plus the release tier's tools (util-linux's setpriv,
#                procps, man-db, busybox-static, musl, musl-tools, binutils, file, shellcheck,
#                make, systemd, dpkg, git, prometheus, prometheus-node-exporter,
#                qemu-user-static, debootstrap, zstd, conntrack, nftables, netplan.io,
#                network-manager), the aarch64 Deno, and the
#                kernel tier's QEMU and Debian kernel (scripts/vm/ensure_vm.sh)
# Deno is the @deno/linux-x64-glibc (or -arm64-) package's tarball from the npm
# registry, fetched with curl or wget and checked against the registry's sha512
# integrity, into .tools/ (git-ignored): a fresh Debian has no node or npm, and
# Debian's npm would be about 300 packages to fetch one file.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DENO_VERSION=2.9.6

die() {
  echo "dev.sh: $*" >&2
  exit 1
}

# --- installing ----------------------------------------------------------------

missing=()
need() { # need COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 || missing+=("${@:2}")
}

install_packages() { # install_packages demo|test
  need wg wireguard-tools
  need wireguard-go wireguard-go
  need ip iproute2
  need ping iputils-ping
  command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1 || missing+=(curl)
  [ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
  if [ "$1" = test ]; then
    need setpriv util-linux
    [ -x /bin/kill ] || missing+=(procps) # kill is also a shell builtin: look for the program
    need man man-db # systemd-analyze verify checks the unit's Documentation=man:wg(8)
    [ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q "statically linked" ||
      missing+=(busybox-static)
    need file file
    need musl-gcc musl musl-tools
    need readelf binutils
    need shellcheck shellcheck
    need make make
    need systemd-analyze systemd
    need dpkg-deb dpkg
    need git git
    need promtool prometheus
    need prometheus-node-exporter prometheus-node-exporter
    need qemu-aarch64-static qemu-user-static
    need debootstrap debootstrap
    need zstd zstd
    # conntrack and nft live in /usr/sbin, which a user's PATH may lack.
    [ -x /usr/sbin/conntrack ] || missing+=(conntrack)
    [ -x /usr/sbin/nft ] || missing+=(nftables)
    # The configurators whose files the readers are checked against.
    [ -x /usr/sbin/netplan ] || missing+=(netplan.io)
    need nmcli network-manager
  fi
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" -eq 0 ] || die "need root to install ${missing[*]}"
  echo "dev.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt (an unattended upgrade, a parallel installer) to finish.
  local apt=(apt-get -o DPkg::Lock::Timeout=600)
  "${apt[@]}" update -qq >&2 || die "apt-get update failed"
  "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
}

download() { # download URL: the body on stdout
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 2 "$1"; else wget -qO- "$1"; fi
}

# fetch_deno PACKAGE DEST: the deno binary of @deno/PACKAGE@DENO_VERSION at
# DEST, unless DEST already is that version.
fetch_deno() {
  local package=$1 dest=$2 registry meta tarball integrity want got tmp
  if [ -x "$dest" ] && [ "$(cat "$dest.version" 2>/dev/null)" = "$DENO_VERSION" ]; then
    return 0
  fi
  echo "dev.sh: fetching @deno/$package@$DENO_VERSION into ${dest#"$root"/}" >&2
  # npm's own setting names the registry, as for npm itself.
  registry=${npm_config_registry:-https://registry.npmjs.org/}
  meta=$(download "${registry%/}/@deno%2f$package/$DENO_VERSION") ||
    die "cannot read @deno/$package@$DENO_VERSION from $registry (network, or set npm_config_registry)"
  tarball=$(sed -nE 's/.*"tarball": *"([^"]+)".*/\1/p' <<<"$meta")
  integrity=$(sed -nE 's/.*"integrity": *"sha512-([^"]+)".*/\1/p' <<<"$meta")
  if [ -z "$tarball" ] || [ -z "$integrity" ]; then
    die "the registry's answer for @deno/$package@$DENO_VERSION has no tarball or sha512 integrity"
  fi
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  download "$tarball" >"$tmp/deno.tgz" || die "cannot download $tarball"
  want=$(base64 -d <<<"$integrity" | od -An -v -tx1 | tr -d ' \n')
  got=$(sha512sum "$tmp/deno.tgz" | cut -d' ' -f1)
  [ "$want" = "$got" ] || die "$tarball does not match the registry's sha512 integrity; not installed"
  tar -xzf "$tmp/deno.tgz" -C "$tmp" package/deno || die "$tarball holds no package/deno"
  mkdir -p "$(dirname "$dest")"
  install -m 0755 "$tmp/package/deno" "$dest.new"
  mv -f "$dest.new" "$dest"
  echo "$DENO_VERSION" >"$dest.version"
}

deps() { # deps demo|test: installs; Deno on PATH, its npm packages fetched
  install_packages "$1"
  case $(uname -m) in
    x86_64) fetch_deno linux-x64-glibc "$root/.tools/deno/deno" ;;
    aarch64) fetch_deno linux-arm64-glibc "$root/.tools/deno/deno" ;;
    *) die "Deno is built for x86_64 and aarch64 only, not $(uname -m)" ;;
  esac
  # The aarch64 build of the same Deno, for the aarch64 runtime test under qemu-user.
  [ "$1" != test ] || fetch_deno linux-arm64-glibc "$root/.tools/deno-arm64/deno"
  PATH="$root/.tools/deno:$PATH"
  # Trust the host's CA store as apt and curl do (a proxy's CA), besides Deno's own.
  DENO_TLS_CA_STORE=${DENO_TLS_CA_STORE:-system,mozilla}
  export PATH DENO_TLS_CA_STORE
  # The npm packages, once and quietly, before anything prints: the demo's
  # story then has no download lines in it.
  (cd "$root" && deno install --quiet) >&2
}

# --- the tiers -----------------------------------------------------------------

# Every tier: unit, lab and release on this host (one `deno test`), the kernel
# tier in four VM boots, then the host-state tier. Each `deno test` prints its
# own summary line (.ci/run adds them up); runs them all, then fails if any did.
run_tests() {
  local status=0 record
  # Set-up that installs packages comes before the host's state is recorded.
  bash scripts/vm/ensure_vm.sh >/dev/null || status=1
  record=$(mktemp)
  # shellcheck disable=SC2064 # expand now
  trap "rm -f '$record'" EXIT
  deno run --allow-read --allow-write="$record" tests/support/host_state.ts "$record" || status=1

  echo "== unit, lab and release tiers"
  deno test --allow-all --parallel tests/unit/ tests/lab/ tests/release/ "$@" || status=1
  # The kernel tier: tests/kernel/ in a QEMU guest booting Debian's kernel (scripts/vm/),
  # which sees the host's files (its Deno cache too) under a throwaway overlay.
  local vm=(bash scripts/vm/run_in_vm.sh --modprobe "wireguard,veth" --timeout 2400 --env NO_COLOR
    --env DENO_DIR)
  local deno
  deno=$(command -v deno)
  echo "== kernel tier: normal kernel"
  local slow=(tests/kernel/slow_kernel_test.ts tests/kernel/interrupt_kernel_test.ts)
  "${vm[@]}" -- "$deno" test --allow-all --parallel tests/kernel/ \
    --ignore="$(IFS=,; echo "${slow[*]}")" "$@" || status=1
  # One boot per slow test: each takes a good part of the boot's time limit. The
  # interrupt test's instants take about 4 minutes each under emulation (1,500
  # handshakes, then a purge and its replay), and one that finds the purge over
  # is drawn again: its boot gets 50 minutes.
  local test limit
  for test in "${slow[@]}"; do
    echo "== kernel tier: slow kernel (rcupdate.rcu_normal=1, as PREEMPT_RT behaves): ${test##*/}"
    limit=2400
    [[ $test != *interrupt* ]] || limit=3000
    "${vm[@]}" --timeout "$limit" --cmdline rcupdate.rcu_normal=1 -- "$deno" test --allow-all \
      "$test" "$@" || status=1
  done
  echo "== kernel tier: systemd as PID 1"
  "${vm[@]}" --init systemd -- "$deno" test --allow-all tests/systemd/ "$@" || status=1

  echo "== host state"
  WG_REINSTATE_HOST_STATE=$record deno test --allow-all tests/host/ "$@" || status=1
  return "$status"
}

task=${1:-}
[ $# -eq 0 ] || shift
cd "$root"
case $task in
  deps)
    deps "${1:-test}"
    echo "$root/.tools/deno/deno"
    ;;
  demo | bench | test)
    [ "$(id -u)" -eq 0 ] || die "$task: run as root (network namespaces, wireguard-go)"
    if [ "$task" = test ]; then deps test; else deps demo; fi
    case $task in
      demo) exec deno run --allow-all scripts/demo.ts "$@" ;;
      bench) exec deno run --allow-all scripts/bench/bench.ts "$@" ;;
      test) run_tests "$@" ;;
    esac
    ;;
  *) die "usage: dev.sh demo [--real] | test [DENO_TEST_ARGS...] | bench [ARGS...] | deps [demo|test]" ;;
esac

#!/usr/bin/env bash
# Installs, only where missing, what one use of the project needs:
#   ensure_deps.sh demo   the demo and the benchmark: real WireGuard in network
#                         namespaces (wireguard-tools, wireguard-go, iproute2,
#                         iputils-ping) and Deno
#   ensure_deps.sh test   every test tier (CI): the demo's list, plus
#                         util-linux (setpriv), busybox-static (ash for the init
#                         script tests, the shell of the musl-only root), musl
#                         and musl-tools (that root and its helper), binutils
#                         (readelf), file, shellcheck, make, systemd
#                         (systemd-analyze), dpkg (dpkg-deb), git, prometheus
#                         (promtool) and prometheus-node-exporter (the metrics
#                         file), qemu-user-static (the aarch64 runtime),
#                         debootstrap (the fresh-root test), zstd (zstd kernels
#                         in the VM test), and the aarch64 Deno
#                         of the same version into .tools/deno-arm64/
# Packages come from apt without recommends: wireguard-tools recommends a whole
# kernel. Deno comes from the npm registry as the platform package's tarball,
# fetched with curl (or wget) and checked against the registry's sha512
# integrity, into .tools/ (git-ignored): a fresh Debian has no node or npm, and
# Debian's npm would be about 300 packages to fetch one file.
# Prints nothing but progress on stderr; the Deno binary path on stdout.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DENO_VERSION=2.9.6
profile=${1:-test}

die() {
  echo "ensure_deps: $*" >&2
  exit 1
}

missing=()
need() { # need COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 || missing+=("${@:2}")
}
need wg wireguard-tools
need wireguard-go wireguard-go
need ip iproute2
need ping iputils-ping
command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1 || missing+=(curl)
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
case $profile in
  demo) ;;
  test)
    need setpriv util-linux
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
    ;;
  *) die "unknown profile $profile (demo or test)" ;;
esac
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "need root to install ${missing[*]}"
  echo "ensure_deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt (an unattended upgrade, a parallel installer) to finish.
  apt=(apt-get -o DPkg::Lock::Timeout=600)
  "${apt[@]}" update -qq >&2 || die "apt-get update failed"
  "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
fi

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
  echo "ensure_deps: fetching @deno/$package@$DENO_VERSION into ${dest#"$root"/}" >&2
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

case $(uname -m) in
  x86_64) fetch_deno linux-x64-glibc "$root/.tools/deno/deno" ;;
  aarch64) fetch_deno linux-arm64-glibc "$root/.tools/deno/deno" ;;
  *) die "Deno is built for x86_64 and aarch64 only, not $(uname -m)" ;;
esac
# The aarch64 build of the same Deno, for the aarch64 runtime test under qemu-user.
if [ "$profile" = test ]; then
  fetch_deno linux-arm64-glibc "$root/.tools/deno-arm64/deno"
fi
echo "$root/.tools/deno/deno"

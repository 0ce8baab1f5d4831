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
#                         file), qemu-user-static (the aarch64 runtime), and the
#                         aarch64 Deno of the same version into .tools/arm64/
# Deno comes from the npm registry into .tools/ (git-ignored; never in
# package.json, or `deno compile` would embed it).
# Prints nothing but progress on stderr; the Deno binary path on stdout.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DENO_VERSION=2.9.6
profile=${1:-test}

missing=()
need() { # need COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 || missing+=("${@:2}")
}
need wg wireguard-tools
need wireguard-go wireguard-go
need ip iproute2
need ping iputils-ping
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
    ;;
  *) echo "ensure_deps: unknown profile $profile (demo or test)" >&2; exit 2 ;;
esac
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_deps: need root to install ${missing[*]}" >&2
    exit 1
  fi
  echo "ensure_deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

bin="$root/.tools/node_modules/@deno/linux-x64-glibc/deno"
[ "$(uname -m)" = aarch64 ] && bin="$root/.tools/node_modules/@deno/linux-arm64-glibc/deno"
if ! [ -x "$bin" ] || [ "$("$bin" --version 2>/dev/null | head -n1 | cut -d' ' -f2)" != "$DENO_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || {
    echo "ensure_deps: npm is needed to install Deno ($DENO_VERSION) from the npm registry" >&2
    exit 1
  }
  echo "ensure_deps: installing deno@$DENO_VERSION into .tools/" >&2
  mkdir -p "$root/.tools"
  npm install --silent --no-save --no-audit --no-fund --prefix "$root/.tools" "deno@$DENO_VERSION" >&2
fi
[ -x "$bin" ] || { echo "ensure_deps: deno binary missing after install: $bin" >&2; exit 1; }
# The aarch64 build of the same Deno, for the aarch64 runtime test under
# qemu-user. npm would refuse to install it on x86_64, so it is unpacked.
arm64="$root/.tools/arm64/deno"
if [ "$profile" = test ] && { ! [ -x "$arm64" ] || [ "$(cat "$arm64.version" 2>/dev/null)" != "$DENO_VERSION" ]; }; then
  echo "ensure_deps: unpacking @deno/linux-arm64-glibc@$DENO_VERSION into .tools/arm64/" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "@deno/linux-arm64-glibc@$DENO_VERSION" >/dev/null)
  mkdir -p "$root/.tools/arm64"
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  install -m 0755 "$tmp/package/deno" "$arm64"
  echo "$DENO_VERSION" >"$arm64.version"
  rm -rf "$tmp"
fi
echo "$bin"

#!/usr/bin/env bash
# Installs what wg-reinstate's tests and demo need, only where it is missing:
#   - Debian packages: wireguard-tools (wg), wireguard-go, iproute2, iputils-ping,
#     util-linux (setpriv), busybox-static (ash for the init script tests, and
#     the shell of the musl-only root), musl and musl-tools (that root and its
#     test helper), binutils (readelf), file, shellcheck, make
#   - Deno from the npm registry into .tools/ (git-ignored; never in package.json,
#     or `deno compile` would embed it)
# Prints nothing but progress on stderr; the Deno binary path on stdout.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DENO_VERSION=2.9.6

missing=()
command -v wg >/dev/null 2>&1 || missing+=(wireguard-tools)
command -v wireguard-go >/dev/null 2>&1 || missing+=(wireguard-go)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q "statically linked" || missing+=(busybox-static)
command -v file >/dev/null 2>&1 || missing+=(file)
command -v musl-gcc >/dev/null 2>&1 || missing+=(musl musl-tools)
command -v readelf >/dev/null 2>&1 || missing+=(binutils)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)
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
echo "$bin"

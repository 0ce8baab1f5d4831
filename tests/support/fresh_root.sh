#!/usr/bin/env bash
# fresh_root.sh DIR [--keep-going] -- COMMAND...: runs COMMAND as root in a
# freshly made Debian 12 minbase root at DIR (what `debootstrap --variant=minbase
# bookworm` makes: no node, npm, curl, CA bundle, WireGuard or iproute2), with a
# clean copy of the project's tracked files at /wg-reinstate as its working
# directory. Prints COMMAND's output; exits with its status.
#
# The root is what a new user has, plus only what this network needs to reach
# the registries at all: the host's local CAs (in /usr/local/share/ca-certificates,
# picked up once the root installs ca-certificates) and the host's apt sources
# and settings that no package owns.
#
# debootstrap runs once per mirror: its result is cached as a tarball in
# .tools/fresh-root/ (git-ignored) and unpacked anew for every DIR. COMMAND runs
# in a private mount namespace, so /proc, /sys, /dev and /run of the root vanish
# with it. DIR is left for the caller to remove.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${1:?usage: fresh_root.sh DIR -- COMMAND...}
shift
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "fresh_root: no command" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "fresh_root: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "fresh_root: apt-get install debootstrap" >&2; exit 2; }

# The host's Debian mirror: the first URI of its deb822 or one-line sources.
mirror=$(sed -nE 's/^URIs: *([^ ]+).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
[ -n "$mirror" ] ||
  mirror=$(sed -nE 's/^deb +(\[[^]]*\] +)?([^ ]+) +bookworm .*/\2/p' /etc/apt/sources.list 2>/dev/null |
    head -n1 || true)
[ -n "$mirror" ] || { echo "fresh_root: no bookworm mirror in the host's apt sources" >&2; exit 2; }

cache="$repo/.tools/fresh-root"
tarball="$cache/minbase-$(printf '%s' "$mirror" | cksum | cut -d' ' -f1).tar"
if ! [ -s "$tarball" ]; then
  mkdir -p "$cache"
  build=$(mktemp -d "$cache/.build.XXXXXX")
  echo "fresh_root: debootstrap --variant=minbase bookworm from $mirror (once)" >&2
  debootstrap --variant=minbase bookworm "$build" "$mirror" >"$build.log" 2>&1 || {
    tail -n 20 "$build.log" >&2
    echo "fresh_root: debootstrap failed" >&2
    exit 1
  }
  tar -C "$build" -cf "$tarball.new" . && mv -f "$tarball.new" "$tarball"
  rm -rf "$build" "$build.log"
fi

mkdir -p "$dir"
tar -C "$dir" -xf "$tarball"
# A real "/" is 0755; the tarball's "." is debootstrap's temporary directory (0700).
chmod 0755 "$dir"
install -d "$dir/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/" 2>/dev/null || true
rm -f "$dir/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
  /etc/apt/apt.conf.d/*; do
  [ -f "$f" ] || continue
  dpkg -S "$f" >/dev/null 2>&1 || cp "$f" "$dir$f"
done
cp /etc/resolv.conf "$dir/etc/resolv.conf"
# The project as a clone would have it: .git, tracked files and uncommitted
# changes, no .tools/.
mkdir -p "$dir/wg-reinstate"
{
  printf '.git\0'
  git -C "$repo" ls-files -z --cached --others --exclude-standard
} | (cd "$repo" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
  tar -C "$dir/wg-reinstate" -xf -

# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare --mount --propagation private bash -c '
  set -e
  root=$1
  shift
  # A mount point of its own, as a real "/" is: `ip netns exec` remounts it.
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
  exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c "cd /wg-reinstate && exec \"\$@\"" bash "$@"
' bash "$dir" "$@"

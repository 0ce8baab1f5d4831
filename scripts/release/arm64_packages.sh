#!/usr/bin/env bash
# Downloads Debian arm64 packages and unpacks them into DEST, through a
# private apt state that sees only arm64: the host's apt configuration (its
# architectures and package lists) is read, never changed, and nothing is
# installed on the host.
# Usage: arm64_packages.sh DEST PACKAGE...
set -euo pipefail
dest=${1:?usage: arm64_packages.sh DEST PACKAGE...}
shift
[ "$#" -gt 0 ] || { echo "arm64_packages: no package named" >&2; exit 2; }
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
chmod 0755 "$state" # apt downloads as its own user
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$dest"
apt_opts=(
  -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
  -o "Dir::State::status=/dev/null" -o "APT::Architecture=arm64"
  -o "APT::Architectures::=arm64" -o "APT::Sandbox::User=root"
)
apt-get "${apt_opts[@]}" update -qq
(cd "$state" && apt-get "${apt_opts[@]}" download -qq "${@/%/:arm64}")
for deb in "$state"/*.deb; do dpkg-deb -x "$deb" "$dest"; done

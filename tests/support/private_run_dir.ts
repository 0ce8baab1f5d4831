/**
 * The shipped program may write only below its run directory (the baked-in
 * permissions of scripts/release/runtime_flags.ts), which is the host's own
 * /var/run/wg-reinstate. A test of it runs the program in a mount namespace
 * of its own where that directory is the test's `stateDir`; the rest of /run
 * (wireguard-go's sockets, network namespaces) is the host's.
 *
 * @module
 */

const SCRIPT = `set -e
state=$1
shift
old=$(mktemp -d)
mount --bind /run "$old"
mount -t tmpfs -o mode=0755 tmpfs /run
for d in wireguard netns; do
  if [ -d "$old/$d" ]; then mkdir "/run/$d" && mount --rbind "$old/$d" "/run/$d"; fi
done
umount -l "$old" && rmdir "$old"
mkdir -m 0700 /run/wg-reinstate
mount --bind "$state" /run/wg-reinstate
exec "$@"`;

/** `cmd` run with /var/run/wg-reinstate being `stateDir` (a directory private to root). */
export function withPrivateRunDir(stateDir: string, cmd: readonly string[]): string[] {
  return [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    SCRIPT,
    "sh",
    stateDir,
    ...cmd,
  ];
}

/**
 * Builds the `wg set` arguments that replace peers (remove each and add it
 * back), and splits them into as few invocations as the kernel's
 * argument-size limit allows. Pure functions: only the real `wg` runner
 * (command.ts) deals in argv.
 *
 * @module
 */
import type { WgPeer } from "./dump.ts";

/** The parts of a peer that a re-add restores. */
export type PeerConfig = Pick<
  WgPeer,
  "publicKey" | "allowedIps" | "presharedKey" | "persistentKeepalive"
>;

/**
 * Linux allows argv plus the environment up to ARG_MAX, which is a quarter
 * of the stack limit: 2 MiB with the usual 8 MiB stack, never less than
 * 128 KiB. Half a MiB of arguments leaves room for a large environment on a
 * default system; if the kernel still answers E2BIG, the runner splits the
 * chunk in two and tries again.
 */
export const DEFAULT_ARGV_BUDGET = 512 * 1024;

/**
 * The arguments that remove a peer and add it back, for one `wg set`
 * invocation. Removing and re-adding in the same call means the peer is never
 * missing between two processes, and the re-added peer has no endpoint.
 *
 * @param peer the configuration to restore, as read before the purge
 * @param pskFile a file holding the peer's preshared key; required when it has one
 */
export function replaceArgs(peer: PeerConfig, pskFile: string | null): string[] {
  const args = ["peer", peer.publicKey, "remove", "peer", peer.publicKey];
  if (peer.allowedIps.length > 0) args.push("allowed-ips", peer.allowedIps.join(","));
  if (peer.presharedKey !== null) {
    if (pskFile === null) throw new Error("internal: no preshared-key file for a PSK peer");
    args.push("preshared-key", pskFile);
  }
  if (peer.persistentKeepalive !== null) {
    args.push("persistent-keepalive", String(peer.persistentKeepalive));
  }
  return args;
}

/** UTF-8 length of a string, without encoding it (this runs for every argument). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4; // a surrogate pair: one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Bytes one argument takes in the exec image: its text, a NUL, and a pointer. */
function argCost(arg: string): number {
  return utf8Length(arg) + 1 + 8;
}

/**
 * Groups items (one per peer) into chunks whose total argument size stays
 * within `budget` bytes, keeping their order. An item larger than the budget
 * gets a chunk of its own.
 *
 * @param items one entry per peer
 * @param argsOf the `wg set` arguments of an entry, e.g. from {@link replaceArgs}
 * @param budget bytes of argv allowed per invocation
 */
export function chunkByArgSize<T>(
  items: readonly T[],
  argsOf: (item: T) => readonly string[],
  budget: number,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const cost = argsOf(item).reduce((sum, arg) => sum + argCost(arg), 0);
    if (current.length > 0 && size + cost > budget) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

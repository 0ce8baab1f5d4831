/**
 * Checks, without side effects, that purged peers came back exactly as they
 * were: present, with the same allowed IPs, preshared key and keepalive, and
 * without the endpoint they had. What someone else changed meanwhile is told
 * apart from what a failed call of ours may have done, so that a repair never
 * reverts another's change.
 *
 * @module
 */
import { isCutAllowedIp, isCutKeepalive } from "../wg/cut_line.ts";
import type { WgPeer } from "../wg/dump.ts";
import type { PeerConfig } from "../wg/set_args.ts";

/**
 * One way a purged peer can differ from what it was before. `unsettled`: it
 * looks right, but the call that re-added it did not finish, and wireguard-go
 * does not start a peer whose `set` stream was cut, so it is re-added again.
 * `unknown`: it could not be read.
 */
export type PurgeProblem =
  | "missing"
  | "allowed-ips"
  | "preshared-key"
  | "persistent-keepalive"
  | "endpoint-kept"
  | "unsettled"
  | "unknown";

/** A purged peer that did not come back as it was. */
export interface VerifyFinding {
  /** The peer as it was before the purge: what a repair restores. */
  expected: WgPeer;
  /** Every difference found. */
  problems: PurgeProblem[];
}

/**
 * A peer someone else changed after it was read: `removed`, `changed` (its
 * configuration), or `active` (it handshook again, so it is no longer stale).
 */
export interface LeftAlone {
  publicKey: string;
  change: "removed" | "changed" | "active";
}

/** What a re-read says about the purged peers. */
export interface VerifyResult {
  /** Peers to repair, in purge order. */
  findings: VerifyFinding[];
  /** Peers someone else removed or changed: left as they made them. */
  leftAlone: LeftAlone[];
}

/**
 * How a peer's configuration now compares with what it was: the `same`; less
 * of it (`damaged`: fields emptied or allowed IPs dropped, or a value
 * half-written: what a call cut part-way leaves); or `different` (a new key,
 * new allowed IPs: someone else's change).
 */
export type ConfigMatch =
  | { kind: "same" }
  | { kind: "damaged"; problems: PurgeProblem[] }
  | { kind: "different" };

/**
 * Compares a configuration with what it was. Allowed IPs compare as sets.
 * With `cut` (the call that re-added the peer did not finish), one value
 * that the cut left half-written (wg/cut_line.ts) also counts as damage.
 */
export function matchConfig(
  before: PeerConfig,
  now: PeerConfig,
  options: { cut?: boolean } = {},
): ConfigMatch {
  const problems: PurgeProblem[] = [];
  let lessened = true;
  // A stream is cut in one place, so at most one value is half-written.
  let halfWritten = options.cut ? 1 : 0;
  const ours = (isCut: boolean) => {
    if (!isCut || halfWritten === 0) return false;
    halfWritten--;
    return true;
  };
  const had = new Set(before.allowedIps);
  const has = new Set(now.allowedIps);
  if (had.size !== has.size || [...has].some((ip) => !had.has(ip))) {
    problems.push("allowed-ips");
    lessened &&= [...has].every((ip) => had.has(ip) || ours(isCutAllowedIp(before.allowedIps, ip)));
  }
  if (now.presharedKey !== before.presharedKey) {
    problems.push("preshared-key");
    lessened &&= now.presharedKey === null;
  }
  if (now.persistentKeepalive !== before.persistentKeepalive) {
    problems.push("persistent-keepalive");
    lessened &&= now.persistentKeepalive === null ||
      ours(isCutKeepalive(before.persistentKeepalive, now.persistentKeepalive));
  }
  if (problems.length === 0) return { kind: "same" };
  return lessened ? { kind: "damaged", problems } : { kind: "different" };
}

/**
 * Splits the peers of a coming call, as read before, by a fresh read: those
 * still as they were go into the call; one someone else removed or changed
 * since, or that handshook again, is left out of it. Pure.
 *
 * @param batch the peers of the call, as read before
 * @param now the interface's peers as read right before the call
 */
export function stillAsRead(
  batch: readonly WgPeer[],
  now: readonly WgPeer[],
): { keep: WgPeer[]; leftAlone: LeftAlone[] } {
  const byKey = new Map(now.map((p) => [p.publicKey, p]));
  const keep: WgPeer[] = [];
  const leftAlone: LeftAlone[] = [];
  for (const before of batch) {
    const peer = byKey.get(before.publicKey);
    const leave = (change: LeftAlone["change"]) =>
      leftAlone.push({ publicKey: before.publicKey, change });
    if (peer === undefined) leave("removed");
    else if (matchConfig(before, peer).kind !== "same") leave("changed");
    else if (peer.latestHandshake !== before.latestHandshake) leave("active");
    else keep.push(before);
  }
  return { keep, leftAlone };
}

/**
 * Compares each purged peer's state before the purge with the state read
 * afterwards.
 *
 * A peer whose call exited 0 (settled) came back whole, so any difference
 * is someone else's: missing means removed by them. A peer of a call that
 * did not finish (unsettled) may have been left missing or partly re-added
 * by it, and is repaired; only a change no cut call can make (a new key,
 * new allowed IPs) is taken as someone else's.
 *
 * A peer may legitimately hold an endpoint again if it handshaked between the
 * purge and this read; that shows as a different latest-handshake value (0
 * after an unconfirmed initiation), so an endpoint only counts as kept when
 * the handshake value is also unchanged.
 *
 * @param expected the purged peers as read before the purge
 * @param after the interface's peers as read after the purge
 * @param unsettled public keys of the peers whose call did not exit 0
 */
export function verifyPurged(
  expected: readonly WgPeer[],
  after: readonly WgPeer[],
  unsettled: ReadonlySet<string> = new Set(),
): VerifyResult {
  const byKey = new Map(after.map((p) => [p.publicKey, p]));
  const result: VerifyResult = { findings: [], leftAlone: [] };
  for (const before of expected) {
    const now = byKey.get(before.publicKey);
    const cut = unsettled.has(before.publicKey);
    const find = (problems: PurgeProblem[]) => result.findings.push({ expected: before, problems });
    const leave = (change: LeftAlone["change"]) =>
      result.leftAlone.push({ publicKey: before.publicKey, change });
    if (now === undefined) {
      if (cut) find(["missing"]);
      else leave("removed");
      continue;
    }
    const match = matchConfig(before, now, { cut });
    if (match.kind === "different" || (match.kind === "damaged" && !cut)) {
      leave("changed");
    } else if (match.kind === "damaged") {
      find(match.problems);
    } else if (endpointKept(before, now)) {
      // Only a peer with a completed handshake can show that the purge did
      // not happen: an unconfirmed one (handshake 0 before and after) may
      // have sent a new initiation since, which brings an endpoint back.
      find(["endpoint-kept"]);
    } else if (cut && now.latestHandshake === 0) {
      find(["unsettled"]);
    }
  }
  return result;
}

function endpointKept(before: WgPeer, now: WgPeer): boolean {
  return now.endpoint !== null && before.latestHandshake > 0 &&
    now.latestHandshake === before.latestHandshake;
}

/**
 * Whether the only problem is a kept endpoint: the peer's configuration is
 * whole, as when a `wg set` failed before changing it; nothing was lost.
 */
export function intact(problems: readonly PurgeProblem[]): boolean {
  return problems.length > 0 && problems.every((p) => p === "endpoint-kept");
}

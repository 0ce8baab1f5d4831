/**
 * Checks, without side effects, that purged peers came back exactly as they
 * were: present, with the same allowed IPs, preshared key and keepalive, and
 * without the endpoint they had.
 *
 * @module
 */
import type { WgPeer } from "../wg/dump.ts";

/** One way a purged peer can differ from what it was before ("unknown": it could not be read). */
export type PurgeProblem =
  | "missing"
  | "allowed-ips"
  | "preshared-key"
  | "persistent-keepalive"
  | "endpoint-kept"
  | "unknown";

/** A purged peer that did not come back as it was. */
export interface VerifyFinding {
  /** The peer as it was before the purge: what a repair restores. */
  expected: WgPeer;
  /** Every difference found. */
  problems: PurgeProblem[];
}

/**
 * Compares each purged peer's state before the purge with the state read
 * afterwards.
 *
 * A peer may legitimately hold an endpoint again if it handshaked between the
 * purge and this read; that shows as a different latest-handshake value (0
 * after an unconfirmed initiation), so an endpoint only counts as kept when
 * the handshake value is also unchanged.
 *
 * @param expected the purged peers as read before the purge
 * @param after the interface's peers as read after the purge
 */
export function verifyPurged(
  expected: readonly WgPeer[],
  after: readonly WgPeer[],
): VerifyFinding[] {
  const byKey = new Map(after.map((p) => [p.publicKey, p]));
  const findings: VerifyFinding[] = [];
  for (const before of expected) {
    const now = byKey.get(before.publicKey);
    const problems: PurgeProblem[] = [];
    if (now === undefined) {
      problems.push("missing");
    } else {
      if (now.allowedIps.join(",") !== before.allowedIps.join(",")) problems.push("allowed-ips");
      if (now.presharedKey !== before.presharedKey) problems.push("preshared-key");
      if (now.persistentKeepalive !== before.persistentKeepalive) {
        problems.push("persistent-keepalive");
      }
      // Only a peer with a completed handshake can show that the purge did
      // not happen: an unconfirmed one (handshake 0 before and after) may have
      // sent a new initiation since, which brings an endpoint back legitimately.
      if (
        now.endpoint !== null && before.latestHandshake > 0 &&
        now.latestHandshake === before.latestHandshake
      ) {
        problems.push("endpoint-kept");
      }
    }
    if (problems.length > 0) findings.push({ expected: before, problems });
  }
  return findings;
}

/**
 * Whether the only problem is a kept endpoint: the peer's configuration is
 * whole, as when a `wg set` failed before changing it; nothing was lost.
 */
export function intact(problems: readonly PurgeProblem[]): boolean {
  return problems.length > 0 && problems.every((p) => p === "endpoint-kept");
}

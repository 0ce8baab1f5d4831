/**
 * Decides, without side effects, which peers to purge. A peer is purged when
 * it holds an endpoint from a session that is certainly dead: WireGuard
 * rejects a session 180 s after its handshake (REJECT_AFTER_TIME), so a peer
 * whose latest handshake is older than that has no live session, and its
 * stored endpoint is only a record of where it once was.
 *
 * @module
 */
import type { WgPeer } from "../wg/dump.ts";

/** WireGuard's REJECT_AFTER_TIME in seconds: no session outlives it. */
export const REJECT_AFTER_TIME = 180;

/** Why a peer is kept. */
export type KeepReason =
  | "active"
  | "no-endpoint"
  | "never-handshaked"
  | "excluded"
  | "configured-endpoint"
  | "handshake-in-future";

/** Every keep reason, in the order reports list them. */
export const KEEP_REASONS: readonly KeepReason[] = [
  "active",
  "no-endpoint",
  "never-handshaked",
  "excluded",
  "configured-endpoint",
  "handshake-in-future",
];

/** The decision for one peer. */
export type Decision =
  | { action: "purge"; reason: "stale"; idleSeconds: number }
  | { action: "keep"; reason: KeepReason; idleSeconds: number | null };

/** A peer with its decision. */
export interface PeerPlan {
  peer: WgPeer;
  decision: Decision;
}

/** What the planner needs to know about one interface. */
export interface Policy {
  /** Seconds since the latest handshake after which a session is dead. */
  staleAfter: number;
  /** Public keys never to purge (`--exclude`). */
  exclude: ReadonlySet<string>;
  /** Public keys whose endpoint this side configured (site-to-site peers). */
  configuredEndpoints: ReadonlySet<string>;
}

/**
 * Decides for every peer, in input order, whether to purge or keep it.
 *
 * @param peers the interface's peers as read from `wg`
 * @param now the current time in unix seconds
 * @param policy the threshold and the protected keys
 */
export function planPurge(peers: readonly WgPeer[], now: number, policy: Policy): PeerPlan[] {
  return peers.map((peer) => ({ peer, decision: decide(peer, now, policy) }));
}

function decide(peer: WgPeer, now: number, policy: Policy): Decision {
  const idleSeconds = peer.latestHandshake > 0 ? now - peer.latestHandshake : null;
  const keep = (reason: KeepReason): Decision => ({ action: "keep", reason, idleSeconds });
  // Protection comes first: an operator's explicit choice wins over any timing.
  if (policy.exclude.has(peer.publicKey)) return keep("excluded");
  if (policy.configuredEndpoints.has(peer.publicKey)) return keep("configured-endpoint");
  if (peer.endpoint === null) return keep("no-endpoint");
  if (idleSeconds === null) return keep("never-handshaked");
  // A handshake "in the future" means the wall clock stepped back; the age is
  // unknowable, so the peer is left alone.
  if (idleSeconds < 0) return keep("handshake-in-future");
  if (idleSeconds <= policy.staleAfter) return keep("active");
  return { action: "purge", reason: "stale", idleSeconds };
}

/** Counts kept peers by reason, with every reason present (0 when unused). */
export function countKeptByReason(plans: readonly PeerPlan[]): Record<KeepReason, number> {
  const counts = Object.fromEntries(KEEP_REASONS.map((r) => [r, 0])) as Record<KeepReason, number>;
  for (const { decision } of plans) {
    if (decision.action === "keep") counts[decision.reason]++;
  }
  return counts;
}

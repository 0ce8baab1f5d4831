/**
 * Decides, without side effects, which peers to purge. A peer is purged when
 * it holds an endpoint from a session that is certainly dead: WireGuard
 * rejects a session 180 s after its handshake (REJECT_AFTER_TIME), so a peer
 * whose latest handshake is older than that has no live session, and its
 * stored endpoint is only a record of where it once was.
 *
 * @module
 */
import type { WgInterfaceHead, WgPeer } from "../wg/dump.ts";
import type { Watch } from "./observations.ts";

/**
 * Seconds an endpoint may stand without a completed handshake before the
 * daemon takes it for a replayed initiation and forgets it. A real client
 * completes a handshake within one round trip, and retries a lost one every
 * 5 s (REKEY_TIMEOUT): 15 s leaves it three tries.
 */
export const REPLAY_WINDOW_S = 15;

/** Why a peer is kept. */
export type KeepReason =
  | "active"
  | "no-endpoint"
  | "never-handshaked"
  | "excluded"
  | "configured-endpoint"
  | "handshake-in-future"
  | "observing";

/** Every keep reason, in the order reports list them. */
export const KEEP_REASONS: readonly KeepReason[] = [
  "active",
  "no-endpoint",
  "never-handshaked",
  "excluded",
  "configured-endpoint",
  "handshake-in-future",
  "observing",
];

/**
 * Why a peer is purged: `stale`, a session certainly dead, or `unconfirmed`,
 * an endpoint without a completed handshake (the daemon only).
 */
export type PurgeReason = "stale" | "unconfirmed";

/** Every purge reason, in the order reports list them. */
export const PURGE_REASONS: readonly PurgeReason[] = ["stale", "unconfirmed"];

/** The decision for one peer. */
export type Decision =
  | {
    action: "purge";
    reason: PurgeReason;
    idleSeconds: number;
    /** Seconds past the moment it could first have been purged (its deadline). */
    lingerSeconds: number;
  }
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
  /**
   * Public keys a config (wg-quick, UCI) lists without an endpoint: for these
   * an endpoint with no completed handshake came from an unconfirmed
   * initiation, and may be forgotten too.
   */
  configuredWithoutEndpoint: ReadonlySet<string>;
  /**
   * The interface's wg-quick file when it has `SaveConfig = true`: wg-quick
   * wrote its Endpoint lines itself, so they protect no peer. Not used in
   * planning; each cycle warns of it. `null` when none.
   */
  saveConfig: string | null;
  /**
   * What the config files hold that may protect a peer but could not be
   * read, in words (e.g. a wg-quick hook); each cycle warns of them.
   */
  warnings: readonly string[];
}

/**
 * Decides whether to purge or keep one peer read from an interface.
 *
 * Ages are in whole seconds, like a latest handshake, which WireGuard rounds
 * down: a peer is stale once `floor(now) - latestHandshake > staleAfter`,
 * from the first whole second at which its session is certainly dead. That
 * second is its deadline ({@link deadlineOf}); a purge's linger is how far
 * `now` is past it.
 *
 * With `watch` (the daemon), a handshake's wall-clock age counts only when
 * the handshake was made while the daemon watched with no forward step of
 * the wall clock; any other peer is purged only once its handshake state
 * has also been watched unchanged for stale-after seconds on the monotonic
 * clock, so a wall clock that steps forward never purges a live session.
 * And an endpoint without a completed handshake, on a peer that a config
 * lists without an endpoint or that the daemon purged itself, is taken for
 * a replayed initiation and purged once it has stood {@link REPLAY_WINDOW_S}.
 * Without it (one-shot `run`), the wall clock alone decides and unconfirmed
 * endpoints are left alone.
 *
 * @param peer a peer as read from `wg`
 * @param now the current time in unix seconds
 * @param policy the threshold and the protected keys
 * @param watch what the daemon has watched (daemon only)
 */
export function planPeer(peer: WgPeer, now: number, policy: Policy, watch?: Watch): PeerPlan {
  return { peer, decision: decide(peer, now, policy, watch) };
}

function decide(peer: WgPeer, now: number, policy: Policy, watch: Watch | undefined): Decision {
  const idleSeconds = peer.latestHandshake > 0 ? Math.floor(now) - peer.latestHandshake : null;
  const keep = (reason: KeepReason): Decision => ({ action: "keep", reason, idleSeconds });
  // Protection comes first: an operator's explicit choice wins over any timing.
  if (policy.exclude.has(peer.publicKey)) return keep("excluded");
  if (policy.configuredEndpoints.has(peer.publicKey)) return keep("configured-endpoint");
  if (peer.endpoint === null) return keep("no-endpoint");
  const deadline = deadlineOf(peer, now, policy, watch);
  if (deadline === null) return keep("never-handshaked");
  // A handshake "in the future" means the wall clock stepped back; the age is
  // unknowable, so the peer is left alone.
  if (idleSeconds !== null && idleSeconds < 0) return keep("handshake-in-future");
  if (idleSeconds !== null && idleSeconds <= policy.staleAfter) return keep("active");
  if (now < deadline) return keep("observing");
  return {
    action: "purge",
    reason: idleSeconds === null ? "unconfirmed" : "stale",
    idleSeconds: idleSeconds ?? Math.floor(watch!.watched.get(peer.publicKey) ?? 0),
    lingerSeconds: now - deadline,
  };
}

/**
 * The moment (unix seconds) from which a peer with an endpoint may be
 * purged, by the rules of {@link planPeer}: a whole second for an age
 * the wall clock tells, else when a watch on the monotonic clock will have
 * lasted long enough; `null` when no rule applies (no completed handshake,
 * and not watched for a replay).
 *
 * @param now the current time in unix seconds
 */
export function deadlineOf(
  peer: WgPeer,
  now: number,
  policy: Policy,
  watch: Watch | undefined,
): number | null {
  const watched = watch?.watched.get(peer.publicKey) ?? 0;
  if (peer.latestHandshake === 0) {
    const replayable = watch !== undefined &&
      (policy.configuredWithoutEndpoint.has(peer.publicKey) || watch.purgedAgo.has(peer.publicKey));
    return replayable ? now + REPLAY_WINDOW_S - watched : null;
  }
  const byWallClock = peer.latestHandshake + policy.staleAfter + 1;
  if (watch === undefined || peer.latestHandshake > watch.trustedAfter) return byWallClock;
  return Math.max(byWallClock, now + policy.staleAfter - watched);
}

/** How many peers an interface had, and why those not purged were kept. */
export interface PeerCounts {
  /** Peers read. */
  checked: number;
  /** Kept peers by reason, every reason present. */
  kept: Record<KeepReason, number>;
}

/** One interface as read, with what its peers' decisions came to. */
export interface PlannedInterface extends PeerCounts {
  iface: WgInterfaceHead;
  /** The wall-clock time at the end of the read, in unix seconds. */
  now: number;
  /**
   * The peers to purge, with their decisions, in the order read; every
   * peer when planned for `status` (see readAndPlan).
   */
  plans: PeerPlan[];
  /**
   * Daemon only: the earliest moment (unix seconds) at which a decision
   * about these peers may change (see schedule.ts); `null` for `run`.
   */
  nextDeadline: number | null;
  /** The wg-quick file with `SaveConfig = true` (see {@link Policy.saveConfig}), or `null`. */
  saveConfig: string | null;
  /** See {@link Policy.warnings}. */
  warnings: readonly string[];
}

/** The decisions of a whole cycle that go beyond single peers. */
export interface CyclePlan {
  /** The interfaces read, each with its peers' decisions. */
  interfaces: PlannedInterface[];
  /** Interfaces asked for by name that `wg` does not have. */
  missing: string[];
  /**
   * Why nothing at all may be purged in this cycle, or `null`. A one-shot
   * run that sees a handshake in the future knows the wall clock is behind,
   * so no age it computes can be trusted; the daemon decides per peer on its
   * monotonic clock instead.
   */
  refusal: string | null;
}

/**
 * Decides what spans interfaces: which requested interfaces are missing,
 * and whether the cycle must change nothing.
 *
 * @param planned every interface read, with its peers' decisions
 * @param requested the interfaces asked for, or `"all"`
 * @param observed true when the daemon's monotonic observations backed the plans
 */
export function planCycle(
  planned: readonly PlannedInterface[],
  requested: "all" | readonly string[],
  observed: boolean,
): CyclePlan {
  const read = new Set(planned.map((p) => p.iface.name));
  const missing = requested === "all" ? [] : requested.filter((name) => !read.has(name));
  const future = !observed && planned.some((p) => p.kept["handshake-in-future"] > 0);
  return {
    interfaces: [...planned],
    missing: [...new Set(missing)],
    refusal: future ? "a latest handshake lies in the future" : null,
  };
}

/** Every keep reason, each with a count of 0. */
export function noneKept(): Record<KeepReason, number> {
  return Object.fromEntries(KEEP_REASONS.map((r) => [r, 0])) as Record<KeepReason, number>;
}

/**
 * What the daemon has seen of each peer, and of the clocks. A router has no
 * real-time clock and steps its wall clock at boot (NTP); a step forward
 * makes every live handshake look old. So the daemon trusts a handshake's
 * wall-clock age only for a handshake made while it watched, with no
 * forward step of the wall clock against the monotonic one since; any other
 * peer it purges only once it has itself watched the same handshake state,
 * unchanged, for stale-after on the monotonic clock (see plan.ts).
 *
 * It also remembers, in memory only, the peers it purged that have not
 * completed a handshake since: an endpoint that appears on one of them
 * without a handshake came from a replayed initiation (see plan.ts).
 *
 * Only the handshake value and whether an endpoint is present are kept:
 * never the endpoint itself.
 *
 * @module
 */
import type { WgPeer } from "../wg/dump.ts";

/**
 * Seconds the wall clock may gain on the monotonic clock between two reads
 * before it counts as a step: NTP slews far less (at most 500 ppm), and a
 * suspended system that wakes counts as a step, which only delays purges.
 */
export const STEP_TOLERANCE_S = 1;

interface Seen {
  state: string;
  since: number;
}

/** What planning one interface may rely on, from the daemon's watch. */
export interface Watch {
  /**
   * Unix seconds after which every handshake was made while the daemon
   * watched with no forward step of the wall clock: its age is real.
   */
  trustedAfter: number;
  /** Monotonic seconds each peer's state has been seen unchanged (0: just now). */
  watched: ReadonlyMap<string, number>;
  /**
   * Peers this daemon purged that have not completed a handshake since,
   * with the monotonic seconds since that purge.
   */
  purgedAgo: ReadonlyMap<string, number>;
}

/** The daemon's memory of peer states and of the clocks, across cycles. */
export class PeerObservations {
  #seen = new Map<string, Map<string, Seen>>();
  /** Peers purged by this daemon, by interface: monotonic seconds of the purge. */
  #purged = new Map<string, Map<string, number>>();
  #trustedAfter: number | null = null;
  /** Wall minus monotonic seconds at the last read. */
  #offset: number | null = null;

  /**
   * Notes the clocks at a read: a forward step of the wall clock since the
   * last read (or the first read) starts the trusted watch anew.
   *
   * @param wallNow unix seconds
   * @param monotonicNow seconds on a clock that never steps (performance.now)
   */
  clocks(wallNow: number, monotonicNow: number): void {
    const offset = wallNow - monotonicNow;
    if (this.#offset === null || offset - this.#offset > STEP_TOLERANCE_S) {
      this.#trustedAfter = Math.floor(wallNow);
    }
    this.#offset = offset;
  }

  /**
   * Records the peers just read from `iface` and returns what planning may
   * rely on. Call {@link clocks} first for the same read.
   */
  update(iface: string, peers: readonly WgPeer[], monotonicNow: number): Watch {
    const before = this.#seen.get(iface) ?? new Map<string, Seen>();
    const after = new Map<string, Seen>();
    const watched = new Map<string, number>();
    const purged = this.#purged.get(iface) ?? new Map<string, number>();
    const stillPurged = new Map<string, number>();
    for (const peer of peers) {
      const state = `${peer.latestHandshake}/${peer.endpoint === null ? "-" : "e"}`;
      const prev = before.get(peer.publicKey);
      const since = prev !== undefined && prev.state === state ? prev.since : monotonicNow;
      after.set(peer.publicKey, { state, since });
      watched.set(peer.publicKey, monotonicNow - since);
      // A completed handshake ends the replay watch: the peer has a fresh session.
      const at = purged.get(peer.publicKey);
      if (at !== undefined && peer.latestHandshake === 0) stillPurged.set(peer.publicKey, at);
    }
    // Peers no longer on the interface are forgotten.
    this.#seen.set(iface, after);
    this.#purged.set(iface, stillPurged);
    return {
      trustedAfter: this.#trustedAfter ?? Infinity,
      watched,
      purgedAgo: new Map([...stillPurged].map(([key, at]) => [key, monotonicNow - at])),
    };
  }

  /** Remembers that this daemon purged `keys` on `iface` at `monotonicNow`. */
  purged(iface: string, keys: readonly string[], monotonicNow: number): void {
    const purged = this.#purged.get(iface) ?? new Map<string, number>();
    for (const key of keys) purged.set(key, monotonicNow);
    this.#purged.set(iface, purged);
  }
}

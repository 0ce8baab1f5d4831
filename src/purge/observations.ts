/**
 * What the daemon has seen of each peer, on the monotonic clock. A router
 * has no real-time clock and steps its wall clock at boot (NTP); a step
 * forward would make every live handshake look old. So the daemon purges a
 * peer only when, besides the wall-clock rule, it has itself watched the
 * same handshake state, unchanged, for at least stale-after seconds.
 *
 * Only the handshake value and whether an endpoint is present are kept:
 * never the endpoint itself.
 *
 * @module
 */
import type { WgPeer } from "../wg/dump.ts";

interface Seen {
  state: string;
  since: number;
}

/** The daemon's memory of peer states across cycles. */
export class PeerObservations {
  #seen = new Map<string, Map<string, Seen>>();

  /**
   * Records the peers just read from `iface` and returns, per public key,
   * for how many monotonic seconds its state has been seen unchanged (0 for
   * a peer seen for the first time or whose state just changed).
   *
   * @param monotonicNow seconds on a clock that never steps (performance.now)
   */
  update(iface: string, peers: readonly WgPeer[], monotonicNow: number): Map<string, number> {
    const before = this.#seen.get(iface) ?? new Map<string, Seen>();
    const after = new Map<string, Seen>();
    const ages = new Map<string, number>();
    for (const peer of peers) {
      const state = `${peer.latestHandshake}/${peer.endpoint === null ? "-" : "e"}`;
      const prev = before.get(peer.publicKey);
      const since = prev !== undefined && prev.state === state ? prev.since : monotonicNow;
      after.set(peer.publicKey, { state, since });
      ages.set(peer.publicKey, monotonicNow - since);
    }
    // Peers no longer on the interface are forgotten.
    this.#seen.set(iface, after);
    return ages;
  }
}

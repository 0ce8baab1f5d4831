/**
 * Paces `wg set` calls by time. Removing a peer costs the kernel an RCU grace
 * period or two; on a kernel that does not expedite them (PREEMPT_RT, or
 * `rcupdate.rcu_normal=1`) that is ~33 ms per peer, so one call that argv
 * would allow (thousands of peers) runs for minutes. Such a call is working,
 * not hung, and killing it can leave a peer removed and not re-added, since
 * `wg` sends a large set as several netlink messages.
 *
 * So the first call is small, the per-peer cost it took is measured, and each
 * later call takes as many peers as fit in {@link TARGET_CALL_MS} at that
 * cost. Each call's time limit grows with its expected duration, so only a
 * `wg` that is far slower than the one before it counts as hung. Short calls
 * also let a stop request (SIGTERM) take effect between calls within seconds.
 * Pure: the caller measures and reports.
 *
 * @module
 */

/** How long one `wg set` call should take, at the cost measured so far. */
export const TARGET_CALL_MS = 2000;

/** Peers in the first call of a cycle, before any cost is known. */
export const FIRST_CALL_PEERS = 32;

/**
 * A call may take this many times its expected duration, on top of the base
 * limit, before it counts as hung.
 */
export const LIMIT_SLACK = 10;

/** The per-peer cost of `wg set` calls, as measured, and what follows from it. */
export class SetPace {
  #msPerPeer: number | null = null;

  /** @param baseLimitMs the time limit of a call of unknown cost (`--wg-timeout`) */
  constructor(readonly baseLimitMs: number) {}

  /** How many peers the next call should take (the runner may split it to fit argv). */
  peersPerCall(): number {
    if (this.#msPerPeer === null) return FIRST_CALL_PEERS;
    return Math.max(1, Math.floor(TARGET_CALL_MS / this.#msPerPeer));
  }

  /** The time limit of a call with `peers` peers. */
  limitMs(peers: number): number {
    const expected = (this.#msPerPeer ?? 0) * peers;
    return this.baseLimitMs + LIMIT_SLACK * expected;
  }

  /** How long a call with `peers` peers should take: {@link TARGET_CALL_MS} while unmeasured. */
  expectedMs(peers: number): number {
    return this.#msPerPeer === null ? TARGET_CALL_MS : this.#msPerPeer * peers;
  }

  /** Records a finished call: `peers` peers took `ms` milliseconds. */
  record(peers: number, ms: number): void {
    // A floor keeps a call measured at 0 ms (a coarse clock) from sizing the
    // next one without bound; argv limits each process anyway.
    if (peers > 0) this.#msPerPeer = Math.max(ms / peers, 0.01);
  }
}

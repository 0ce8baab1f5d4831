/**
 * When the daemon reads the interfaces next: at the earliest deadline of a
 * peer ({@link deadlineOf}), so that each endpoint is forgotten
 * within about a second of its session's death instead of up to a polling
 * interval later; never sooner than its own cost allows, and never later
 * than its longest sleep.
 *
 * @module
 */
import type { Watch } from "./observations.ts";
import { deadlineOf, type PeerPlan, type Policy } from "./plan.ts";

/**
 * Seconds between reads while the daemon watches peers it purged within
 * stale-after for a replayed initiation: with plan.ts's REPLAY_WINDOW_S, a
 * replayed endpoint is gone within 20 s of its arrival.
 */
export const REPLAY_POLL_S = 5;

/** The share of one core the daemon may spend on its cycles, over {@link BUDGET_PERIOD_S}: 2%. */
export const MAX_CPU_SHARE = 0.02;

/**
 * The period over which {@link MAX_CPU_SHARE} holds: deadlines that crowd
 * (many users leaving at once) are each met on time until 2% of this period
 * (72 s of cycles) is spent, then taken together.
 */
export const BUDGET_PERIOD_S = 3600;

/** The shortest sleep, whatever is due: deadlines closer than this are taken together. */
export const MIN_SLEEP_S = 0.25;

/**
 * Wakes this long after a deadline: the timer may fire a little early, and
 * the plan needs the clock to have passed the deadline's whole second.
 */
const WAKE_LATE_S = 0.02;

/**
 * One peer's part in the daemon's next read (see {@link deadlineAfter}): the
 * deadline of a kept peer with an endpoint that no protection keeps, else
 * `null`. Peers to purge now add nothing: the cycle says when its purges
 * start a watch for replays (see cycle.ts); a purge that failed is tried
 * again at the next read, whenever that is.
 */
export function keptDeadline(
  { peer, decision }: PeerPlan,
  now: number,
  policy: Policy,
  watch: Watch,
): number | null {
  if (decision.action === "purge") return null;
  if (decision.reason === "excluded" || decision.reason === "configured-endpoint") return null;
  return peer.endpoint === null ? null : deadlineOf(peer, now, policy, watch);
}

/**
 * The earliest moment (unix seconds) at which a decision about one
 * interface's peers may change, as planned at `now`: the earliest of the
 * kept peers' deadlines ({@link keptDeadline}; `null`: none), the next look
 * for replays at peers the daemon purged within stale-after, and at the
 * latest stale-after from now, when a peer that handshakes right after this
 * read could first be stale.
 */
export function deadlineAfter(
  earliest: number | null,
  now: number,
  policy: Policy,
  watch: Watch,
): number {
  let next = Math.min(now + policy.staleAfter + 1, earliest ?? Infinity);
  for (const ago of watch.purgedAgo.values()) {
    if (ago < policy.staleAfter) next = Math.min(next, now + REPLAY_POLL_S);
  }
  return next;
}

/**
 * The time the daemon's cycles may still take: a bucket of
 * {@link MAX_CPU_SHARE} × {@link BUDGET_PERIOD_S} seconds, refilled at
 * {@link MAX_CPU_SHARE} seconds per second. Times are monotonic seconds.
 */
export class CycleBudget {
  #left = MAX_CPU_SHARE * BUDGET_PERIOD_S;
  #at: number | null = null;

  /** Takes what a cycle cost, at `now`. */
  spend(cost: number, now: number): void {
    this.#refill(now);
    this.#left -= cost;
  }

  /** Seconds from `now` until a cycle of `cost` fits in the budget (0: it fits now). */
  waitFor(cost: number, now: number): number {
    this.#refill(now);
    return Math.max(0, (cost - this.#left) / MAX_CPU_SHARE);
  }

  #refill(now: number): void {
    if (this.#at !== null) {
      const full = MAX_CPU_SHARE * BUDGET_PERIOD_S;
      this.#left = Math.min(full, this.#left + (now - this.#at) * MAX_CPU_SHARE);
    }
    this.#at = now;
  }
}

/**
 * How long the daemon sleeps after a cycle, in seconds: until `deadline`
 * (a moment after it), but at least {@link MIN_SLEEP_S} and as long as
 * `budgetWait` (see {@link CycleBudget}), so that crowded deadlines are
 * taken together; and at most `longest`.
 *
 * @param deadline the next deadline in unix seconds; `null` when unknown (a failed cycle)
 * @param now unix seconds
 * @param budgetWait seconds until the next cycle fits the budget
 * @param longest the longest sleep (`--interval`)
 */
export function sleepSeconds(
  deadline: number | null,
  now: number,
  budgetWait: number,
  longest: number,
): number {
  if (deadline === null) return longest;
  const shortest = Math.max(MIN_SLEEP_S, budgetWait);
  return Math.min(longest, Math.max(shortest, deadline - now + WAKE_LATE_S));
}

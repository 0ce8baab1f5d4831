/**
 * The rules a cycle applies a peer at a time (src/purge/planner.ts), stated
 * over a whole list, so that tests can say what a read of many peers should
 * come to. The program never holds a whole list.
 *
 * @module
 */
import {
  type KeepReason,
  noneKept,
  type PeerPlan,
  planPeer,
  type Policy,
} from "../../src/purge/plan.ts";
import type { InterfaceWatch, PeerObservations, Watch } from "../../src/purge/observations.ts";
import { deadlineAfter, keptDeadline } from "../../src/purge/schedule.ts";
import type { WgPeer } from "../../src/wg/dump.ts";

/** Every peer's plan, in input order. */
export function planAll(
  peers: readonly WgPeer[],
  now: number,
  policy: Policy,
  watch?: Watch,
): PeerPlan[] {
  return peers.map((peer) => planPeer(peer, now, policy, watch));
}

/** The kept plans counted by reason, every reason present. */
export function keptCounts(plans: readonly PeerPlan[]): Record<KeepReason, number> {
  const counts = noneKept();
  for (const { decision } of plans) if (decision.action === "keep") counts[decision.reason]++;
  return counts;
}

/** The daemon's next read after planning `plans` at `now`. */
export function nextDeadlineOf(
  plans: readonly PeerPlan[],
  now: number,
  policy: Policy,
  watch: Watch,
): number {
  const deadlines = plans.map((p) => keptDeadline(p, now, policy, watch)).filter((d) => d !== null);
  return deadlineAfter(deadlines.length === 0 ? null : Math.min(...deadlines), now, policy, watch);
}

/** Hands a whole read of `iface` to the daemon's observations, as a cycle does line by line. */
export function observeRead(
  observations: PeerObservations,
  iface: string,
  peers: readonly WgPeer[],
  monotonicNow: number,
): InterfaceWatch {
  const watch = observations.watch(iface, monotonicNow);
  for (const peer of peers) watch.see(peer);
  watch.end();
  return watch;
}

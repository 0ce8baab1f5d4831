/**
 * Plans an interface while `wg` prints it: each peer is decided as its line
 * is read, at the time it is read, and only what a cycle acts on is kept
 * (the peers to purge, counts by reason, the earliest deadline), so that a
 * cycle's memory does not grow with the peer count.
 *
 * @module
 */
import { duplicatePeer, type WgPeer } from "../wg/dump.ts";
import type { InterfaceWatch } from "./observations.ts";
import { noneKept, type PeerCounts, type PeerPlan, planPeer, type Policy } from "./plan.ts";
import { deadlineAfter, keptDeadline } from "./schedule.ts";

/** Plans the peers of one interface one at a time (see the module's comment). */
export class InterfacePlanner implements PeerCounts {
  checked = 0;
  readonly kept = noneKept();
  /** The peers to purge (every peer with `keepAll`), with their decisions, in the order read. */
  readonly plans: PeerPlan[] = [];
  #earliest: number | null = null;
  readonly #planned = new Set<string>();

  /**
   * @param policy the interface's protection and threshold
   * @param now the wall clock in unix seconds, read for each peer
   * @param watch the daemon's watch of this read; absent for `run` and `status`
   * @param keepAll keep every peer's plan (`status`)
   */
  constructor(
    private readonly name: string,
    private readonly policy: Policy,
    private readonly now: () => number,
    private readonly watch?: InterfaceWatch,
    private readonly keepAll = false,
  ) {}

  /**
   * Plans a peer read from dump line `line`.
   *
   * @throws {ParseError} when a peer it keeps was listed before
   */
  add(peer: WgPeer, line: number): void {
    this.watch?.see(peer);
    const now = this.now();
    const plan = planPeer(peer, now, this.policy, this.watch);
    this.checked++;
    if (plan.decision.action === "keep") this.kept[plan.decision.reason]++;
    if (this.keepAll || plan.decision.action === "purge") {
      // Only a peer acted on or shown needs to be unique; a set of every key
      // would grow with the peer count.
      if (this.#planned.has(peer.publicKey)) throw duplicatePeer(this.name, line);
      this.#planned.add(peer.publicKey);
      this.plans.push(plan);
    }
    if (this.watch !== undefined) {
      const deadline = keptDeadline(plan, now, this.policy, this.watch);
      if (deadline !== null) this.#earliest = Math.min(this.#earliest ?? Infinity, deadline);
    }
  }

  /**
   * Daemon only: the earliest moment a decision may change (schedule.ts),
   * as of `now`, the end of the read; `null` without a watch.
   */
  nextDeadline(now: number): number | null {
    if (this.watch === undefined) return null;
    return deadlineAfter(this.#earliest, now, this.policy, this.watch);
  }
}
